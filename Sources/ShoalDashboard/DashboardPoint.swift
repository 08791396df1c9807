/// The pool at one sampling, for the sparklines. Rates are over the interval since the previous sampling.
package struct DashboardPoint: Sendable, Equatable, Codable {
    /// Seconds on the recorder's clock (compare with `DashboardSnapshot.now`).
    package var time: Double
    package var outputTokensPerSecond: Double?
    package var requestsPerSecond: Double?
    package var inFlight: Int
    package var running: Double
    package var waiting: Double
    package var kvCacheUsage: Double?
    package var healthyReplicas: Int
    package var replicas: Int

    package init(time: Double, outputTokensPerSecond: Double? = nil, requestsPerSecond: Double? = nil, inFlight: Int = 0,
                 running: Double = 0, waiting: Double = 0, kvCacheUsage: Double? = nil, healthyReplicas: Int = 0,
                 replicas: Int = 0) {
        self.time = time
        self.outputTokensPerSecond = outputTokensPerSecond
        self.requestsPerSecond = requestsPerSecond
        self.inFlight = inFlight
        self.running = running
        self.waiting = waiting
        self.kvCacheUsage = kvCacheUsage
        self.healthyReplicas = healthyReplicas
        self.replicas = replicas
    }

    enum CodingKeys: String, CodingKey {
        case time, running, waiting, replicas
        case outputTokensPerSecond = "output_tokens_per_second"
        case requestsPerSecond = "requests_per_second"
        case inFlight = "in_flight"
        case kvCacheUsage = "kv_cache_usage"
        case healthyReplicas = "healthy_replicas"
    }
}
