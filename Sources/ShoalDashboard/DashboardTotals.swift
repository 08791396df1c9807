/// The pool's totals over every row (sums, except KV-cache use: the mean of the rows that report it).
package struct DashboardTotals: Sendable, Equatable, Codable {
    package var replicas = 0
    package var healthyReplicas = 0
    package var inFlight = 0
    package var running: Double = 0
    package var waiting: Double = 0
    package var kvCacheUsage: Double?
    package var prefixCacheHitRate: Double?
    package var outputTokensPerSecond: Double?
    /// Over every row's TTFT histogram differences added together (rows with other buckets left out).
    package var ttftP50Seconds: Double?
    package var ttftP99Seconds: Double?
    package var finishedRequests: Double = 0
    package var generationTokens: Double = 0
    package var errors = 0
    package var migrations: Int?

    package init() {}

    enum CodingKeys: String, CodingKey {
        case replicas, running, waiting, errors, migrations
        case healthyReplicas = "healthy_replicas"
        case inFlight = "in_flight"
        case kvCacheUsage = "kv_cache_usage"
        case prefixCacheHitRate = "prefix_cache_hit_rate"
        case outputTokensPerSecond = "output_tokens_per_second"
        case ttftP50Seconds = "ttft_p50_seconds"
        case ttftP99Seconds = "ttft_p99_seconds"
        case finishedRequests = "finished_requests"
        case generationTokens = "generation_tokens"
    }
}
