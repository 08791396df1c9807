/// Active health-check verdicts with hysteresis: `unhealthyThreshold` failed probes in a row mark a replica
/// unhealthy, `healthyThreshold` passed probes in a row mark it healthy again.
public struct HealthTracker: Sendable, Equatable {
    public struct Configuration: Sendable, Equatable {
        /// Time between probes of one replica.
        public var interval: Duration = .seconds(5)
        /// A probe not answered within this fails.
        public var timeout: Duration = .seconds(2)
        public var unhealthyThreshold: Int = 3
        public var healthyThreshold: Int = 2

        public init(interval: Duration = .seconds(5), timeout: Duration = .seconds(2), unhealthyThreshold: Int = 3,
                    healthyThreshold: Int = 2) {
            self.interval = interval
            self.timeout = timeout
            self.unhealthyThreshold = unhealthyThreshold
            self.healthyThreshold = healthyThreshold
        }

        /// - Throws: `RouterError` naming the field out of range.
        public func validate() throws {
            guard interval > .zero, timeout > .zero else {
                throw RouterError(.invalidConfiguration, "health interval and timeout must be positive")
            }
            guard unhealthyThreshold >= 1, healthyThreshold >= 1 else {
                throw RouterError(.invalidConfiguration, "health thresholds must be at least 1")
            }
        }
    }

    public let configuration: Configuration
    public private(set) var isHealthy: Bool
    private var streak = 0

    /// - Parameter healthy: the starting verdict (a replica that just answered `/v1/models` starts healthy).
    public init(configuration: Configuration = Configuration(), healthy: Bool = true) {
        self.configuration = configuration
        isHealthy = healthy
    }

    /// Records a probe result.
    /// - Returns: whether the verdict changed.
    @discardableResult
    public mutating func record(probePassed: Bool) -> Bool {
        if probePassed == isHealthy {
            streak = 0
            return false
        }
        streak += 1
        let threshold = isHealthy ? configuration.unhealthyThreshold : configuration.healthyThreshold
        guard streak >= threshold else { return false }
        isHealthy = probePassed
        streak = 0
        return true
    }
}
