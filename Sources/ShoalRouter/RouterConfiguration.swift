internal import Foundation

/// Everything `shoal route` can be told. Every field has a default; `validate()` checks ranges.
public struct RouterConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8000
    /// Replica base URLs (`http://HOST:PORT`); their models are discovered from `/v1/models`.
    public var replicas: [String] = []
    /// DNS names re-resolved every interval; their addresses are added as replicas and drained when they vanish.
    public var discover: [DiscoveryTarget] = []
    /// Bearer key for `/admin/*`; without one the admin API is off (403).
    public var adminKey: String?
    /// Bearer keys clients must present on the OpenAI endpoints (any one of them); empty: no key needed.
    public var apiKeys: [String] = []
    /// Bearer key the router presents to replicas (requests and model discovery) in place of the client's
    /// `Authorization`; nil: the client's header is passed through.
    public var replicaAPIKey: String?
    public var policy: PolicyKind = .prefixAffinity
    public var prefixAffinity = PrefixAffinityPolicy.Configuration()
    public var breaker = CircuitBreaker<ContinuousClock.Instant>.Configuration()
    public var health = HealthTracker.Configuration()
    public var retry = RetryPolicy()
    /// Model aliases and their rules.
    public var aliases: [RoutingRules] = []
    /// Times one stream may move to another replica.
    public var maxMigrations: Int = 3
    public var connectTimeout: Duration = .seconds(2)
    /// A streaming upstream silent for this long counts as broken (a hung replica).
    public var streamIdleTimeout: Duration = .seconds(60)
    /// A non-streaming upstream request may take this long.
    public var requestTimeout: Duration = .seconds(600)
    /// Waiting this long for a replica's response head, the router checks that the replica still answers
    /// `/health` (then again after each such interval); one that does not lose the request to another replica.
    /// nil: wait up to `requestTimeout` (non-streaming) or `streamIdleTimeout` (streaming).
    public var firstByteTimeout: Duration? = .seconds(5)
    public var maxBodyBytes: Int = 8 << 20
    /// A client connection must deliver each request head within this of opening or of its previous response
    /// ending (so idle keep-alive connections close after it too), else it is closed.
    public var headerTimeout: Duration = .seconds(60)
    /// A request's body must arrive within this of its head, else the connection is closed.
    public var bodyTimeout: Duration = .seconds(60)
    /// How often `/dashboard` scrapes every replica's `/metrics` (each scrape may take the health timeout).
    public var dashboardInterval: Duration = .seconds(2)
    /// Seeds policy and split randomness (tests); nil draws from the system.
    public var seed: UInt64?

    public init() {}

    /// - Throws: `RouterError` naming the first field out of range.
    public func validate() throws {
        guard (0...65535).contains(port) else { throw RouterError(.invalidConfiguration, "port must be in 0...65535") }
        guard maxMigrations >= 0 else { throw RouterError(.invalidConfiguration, "maxMigrations must not be negative") }
        guard connectTimeout > .zero, streamIdleTimeout > .zero, requestTimeout > .zero,
              (firstByteTimeout ?? .seconds(1)) > .zero, headerTimeout > .zero, bodyTimeout > .zero,
              dashboardInterval > .zero else {
            throw RouterError(.invalidConfiguration, "timeouts must be positive")
        }
        guard apiKeys.allSatisfy({ !$0.isEmpty }) else {
            throw RouterError(.invalidConfiguration, "API keys must not be empty")
        }
        if let replicaAPIKey, replicaAPIKey.isEmpty {
            throw RouterError(.invalidConfiguration, "the replica API key must not be empty")
        }
        guard maxBodyBytes > 0 else { throw RouterError(.invalidConfiguration, "maxBodyBytes must be positive") }
        try prefixAffinity.validate()
        try breaker.validate()
        try health.validate()
        try retry.validate()
        for url in replicas { _ = try ReplicaURL.normalize(url) }
        for target in discover { try target.validate() }
        var seen = Set<String>()
        for alias in aliases where !seen.insert(alias.alias).inserted {
            throw RouterError(.invalidConfiguration, "alias '\(alias.alias)' is defined twice")
        }
    }
}

/// Replica URL handling.
enum ReplicaURL {
    /// `http://host:port` without a trailing slash or path.
    /// - Throws: `RouterError` when the URL is not `http(s)://HOST[:PORT]`.
    static func normalize(_ text: String) throws -> ReplicaID {
        var value = text.trimmingSpaces
        while value.hasSuffix("/") { value.removeLast() }
        guard let url = URL(string: value), let scheme = url.scheme, scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/" else {
            throw RouterError(.invalidReplica, "replica '\(text)' must look like http://HOST:PORT")
        }
        return ReplicaID(value)
    }
}
