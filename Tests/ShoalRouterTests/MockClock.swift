import ShoalRouter

/// A hand-driven instant for state-machine tests: time moves only when the test says so.
struct MockInstant: InstantProtocol, Sendable {
    var offset: Duration

    static let zero = MockInstant(offset: .zero)

    func advanced(by duration: Duration) -> MockInstant { MockInstant(offset: offset + duration) }
    func duration(to other: MockInstant) -> Duration { other.offset - offset }
    static func < (lhs: MockInstant, rhs: MockInstant) -> Bool { lhs.offset < rhs.offset }
}
