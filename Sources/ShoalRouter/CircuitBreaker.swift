/// A per-replica circuit breaker as a value-type state machine; time comes in as `now` from an injected clock.
///
/// Closed: requests flow; `failureThreshold` consecutive failures open it. Open: requests are refused until
/// `openDuration` has passed, then it is half-open. Half-open: one probe request at a time; a failure opens it
/// again, `successThreshold` successes close it. Responses that say nothing about the replica's health
/// (4xx, a client that went away) are `.ignored`: they neither count nor reset, but free the probe slot.
public struct CircuitBreaker<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public struct Configuration: Sendable, Equatable {
        public var failureThreshold: Int = 5
        public var openDuration: Duration = .seconds(30)
        public var successThreshold: Int = 2

        public init(failureThreshold: Int = 5, openDuration: Duration = .seconds(30), successThreshold: Int = 2) {
            self.failureThreshold = failureThreshold
            self.openDuration = openDuration
            self.successThreshold = successThreshold
        }

        /// - Throws: `RouterError` naming the field out of range.
        public func validate() throws {
            guard failureThreshold >= 1 else {
                throw RouterError(.invalidConfiguration, "breaker failureThreshold must be at least 1")
            }
            guard successThreshold >= 1 else {
                throw RouterError(.invalidConfiguration, "breaker successThreshold must be at least 1")
            }
            guard openDuration >= .zero else {
                throw RouterError(.invalidConfiguration, "breaker openDuration must not be negative")
            }
        }
    }

    public enum State: Sendable, Equatable {
        case closed(consecutiveFailures: Int)
        case open(since: Instant)
        case halfOpen(probeInFlight: Bool, successes: Int)

        /// 0 closed, 1 half-open, 2 open (the metrics gauge).
        public var gaugeValue: Int {
            switch self {
            case .closed: 0
            case .halfOpen: 1
            case .open: 2
            }
        }

        public var name: String {
            switch self {
            case .closed: "closed"
            case .halfOpen: "half_open"
            case .open: "open"
            }
        }
    }

    /// What a finished request says about the replica.
    public enum Outcome: Sendable, Equatable {
        case success
        case failure
        case ignored

        /// The outcome of an HTTP status: 5xx is a failure, anything else (4xx included) a success.
        public static func status(_ code: Int) -> Outcome {
            code >= 500 ? .failure : .success
        }
    }

    /// The answer to "may a request go to this replica now?".
    public enum Admission: Sendable, Equatable {
        case allowed
        /// Allowed as the half-open state's single probe.
        case probe
        case rejected
    }

    public let configuration: Configuration
    public private(set) var state: State = .closed(consecutiveFailures: 0)

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Whether `acquire(now:)` would admit a request, without taking the probe slot.
    public func isAvailable(now: Instant) -> Bool {
        switch state {
        case .closed: true
        case .open(let since): since.advanced(by: configuration.openDuration) <= now
        case .halfOpen(let probeInFlight, _): !probeInFlight
        }
    }

    /// Admits a request or refuses it; in half-open state admitting takes the single probe slot.
    public mutating func acquire(now: Instant) -> Admission {
        switch state {
        case .closed:
            return .allowed
        case .open(let since):
            guard since.advanced(by: configuration.openDuration) <= now else { return .rejected }
            state = .halfOpen(probeInFlight: true, successes: 0)
            return .probe
        case .halfOpen(let probeInFlight, let successes):
            guard !probeInFlight else { return .rejected }
            state = .halfOpen(probeInFlight: true, successes: successes)
            return .probe
        }
    }

    /// Records how an admitted request ended.
    public mutating func record(_ outcome: Outcome, now: Instant) {
        switch (state, outcome) {
        case (_, .ignored):
            if case .halfOpen(_, let successes) = state { state = .halfOpen(probeInFlight: false, successes: successes) }
        case (.closed, .success):
            state = .closed(consecutiveFailures: 0)
        case (.closed(let failures), .failure):
            state = failures + 1 >= configuration.failureThreshold
                ? .open(since: now) : .closed(consecutiveFailures: failures + 1)
        case (.halfOpen(_, let successes), .success):
            state = successes + 1 >= configuration.successThreshold
                ? .closed(consecutiveFailures: 0) : .halfOpen(probeInFlight: false, successes: successes + 1)
        case (.halfOpen, .failure):
            state = .open(since: now)
        case (.open, _):
            // A request admitted before the breaker opened finished late: it changes nothing.
            break
        }
    }
}
