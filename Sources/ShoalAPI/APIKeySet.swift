/// Bearer keys a server accepts, compared in constant time: every key is compared in full, so how long a check
/// takes says nothing about which key, or how much of one, a guess matched.
public struct APIKeySet: Sendable {
    private let keys: [[UInt8]]

    public init(_ keys: [String]) {
        self.keys = keys.map { Array($0.utf8) }
    }

    /// True when there are no keys (nothing to check).
    public var isEmpty: Bool { keys.isEmpty }

    /// Whether `token` (the part after `Bearer `) is one of the keys.
    public func contains<Token: Collection<UInt8>>(_ token: Token) -> Bool {
        let given = Array(token)
        var match = false
        for key in keys { match = Self.constantTimeEqual(key, given) || match }
        return match
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = a.count ^ b.count
        for i in 0..<max(a.count, b.count) {
            difference |= Int((i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0))
        }
        return difference == 0
    }
}
