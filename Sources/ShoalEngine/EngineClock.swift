/// The time source of the engine's state machines (scheduler, metrics timestamps).
///
/// Injected so the scheduler can be tested without sleeps: production code uses ``ContinuousEngineClock``,
/// tests a manual clock they advance by hand.
public protocol EngineClock: Sendable {
    /// Time elapsed since an arbitrary, fixed origin; never decreases.
    var now: Duration { get }
}

/// An ``EngineClock`` over the system's monotonic clock, measured from the moment it was made.
public struct ContinuousEngineClock: EngineClock {
    private let origin: ContinuousClock.Instant

    public init() { origin = ContinuousClock.now }

    public var now: Duration { ContinuousClock.now - origin }
}
