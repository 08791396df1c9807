/// One row of the dashboard: a replica (router) or a model (`shoal serve`). Metric fields are nil when its latest
/// scrape failed or, for rates and percentiles, when the window holds no data.
package struct DashboardRow: Sendable, Equatable, Codable {
    package var id: String
    package var models: [String]
    package var status: String
    package var healthy: Bool
    package var breaker: String?
    package var inFlight: Int
    package var errors: Int
    package var migrations: Int?
    package var scrapeError: String?
    package var running: Double?
    package var waiting: Double?
    /// 0...1.
    package var kvCacheUsage: Double?
    /// Prefix-cache hits / lookups (tokens) over the quantile window, 0...1.
    package var prefixCacheHitRate: Double?
    /// Generated tokens per second over the rate window.
    package var outputTokensPerSecond: Double?
    /// Time to first token over the quantile window, from the histogram's bucket differences.
    package var ttftP50Seconds: Double?
    package var ttftP99Seconds: Double?
    /// Lifetime counters of the replica (since it started).
    package var finishedRequests: Double?
    package var generationTokens: Double?

    package init(id: String, models: [String], status: String, healthy: Bool, breaker: String?, inFlight: Int,
                 errors: Int, migrations: Int?, scrapeError: String?) {
        self.id = id
        self.models = models
        self.status = status
        self.healthy = healthy
        self.breaker = breaker
        self.inFlight = inFlight
        self.errors = errors
        self.migrations = migrations
        self.scrapeError = scrapeError
    }

    enum CodingKeys: String, CodingKey {
        case id, models, status, healthy, breaker, errors, migrations, running, waiting
        case inFlight = "in_flight"
        case scrapeError = "scrape_error"
        case kvCacheUsage = "kv_cache_usage"
        case prefixCacheHitRate = "prefix_cache_hit_rate"
        case outputTokensPerSecond = "output_tokens_per_second"
        case ttftP50Seconds = "ttft_p50_seconds"
        case ttftP99Seconds = "ttft_p99_seconds"
        case finishedRequests = "finished_requests"
        case generationTokens = "generation_tokens"
    }
}
