/// One replica (or one model of `shoal serve`) at one sampling: what its owner knows about it (health, breaker,
/// requests in flight, errors, migrations) and its scraped `/metrics`.
package struct ReplicaObservation: Sendable, Equatable {
    /// The row's key: a replica's URL, or a model's name.
    package var id: String
    package var models: [String]
    /// `healthy`, `unhealthy`, `draining`, `loading`.
    package var status: String
    /// Whether it may take requests now (health check passed, not draining, breaker not open).
    package var healthy: Bool
    /// The router's circuit breaker: `closed`, `half_open`, `open`; nil where there is none (`shoal serve`).
    package var breaker: String?
    /// Requests the owner has sent and not seen finish (the router's leases, the server's admitted requests).
    package var inFlight: Int
    /// Failed requests: the router's failed attempts to this replica, the server's aborted requests.
    package var errors: Int
    /// Streams that broke on this replica and moved to another; nil where streams do not migrate.
    package var migrations: Int?
    /// The scrape of its `/metrics`, or nil when it failed (then `scrapeError` says why).
    package var metrics: ReplicaMetrics?
    package var scrapeError: String?

    package init(id: String, models: [String] = [], status: String, healthy: Bool, breaker: String? = nil,
                 inFlight: Int = 0, errors: Int = 0, migrations: Int? = nil, metrics: ReplicaMetrics? = nil,
                 scrapeError: String? = nil) {
        self.id = id
        self.models = models
        self.status = status
        self.healthy = healthy
        self.breaker = breaker
        self.inFlight = inFlight
        self.errors = errors
        self.migrations = migrations
        self.metrics = metrics
        self.scrapeError = scrapeError
    }
}
