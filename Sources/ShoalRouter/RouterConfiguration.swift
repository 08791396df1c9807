public import Foundation

/// Everything `shoal route` can be told. Every field has a default; `validate()` checks ranges.
public struct RouterConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8000
    /// Replica base URLs (`http://HOST:PORT`); their models are discovered from `/v1/models`.
    public var replicas: [String] = []
    /// Bearer key for `/admin/*`; without one the admin API is off (403).
    public var adminKey: String?
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
    public var maxBodyBytes: Int = 8 << 20
    /// Seeds policy and split randomness (tests); nil draws from the system.
    public var seed: UInt64?

    public init() {}

    /// - Throws: `RouterError` naming the first field out of range.
    public func validate() throws {
        guard (0...65535).contains(port) else { throw RouterError(.invalidConfiguration, "port must be in 0...65535") }
        guard maxMigrations >= 0 else { throw RouterError(.invalidConfiguration, "maxMigrations must not be negative") }
        guard connectTimeout > .zero, streamIdleTimeout > .zero, requestTimeout > .zero else {
            throw RouterError(.invalidConfiguration, "timeouts must be positive")
        }
        guard maxBodyBytes > 0 else { throw RouterError(.invalidConfiguration, "maxBodyBytes must be positive") }
        try prefixAffinity.validate()
        try breaker.validate()
        try health.validate()
        try retry.validate()
        for url in replicas { _ = try ReplicaURL.normalize(url) }
        var seen = Set<String>()
        for alias in aliases where !seen.insert(alias.alias).inserted {
            throw RouterError(.invalidConfiguration, "alias '\(alias.alias)' is defined twice")
        }
    }

    /// Applies a JSON config file on top of this configuration.
    ///
    /// Format (every key optional; durations in seconds):
    /// ```json
    /// {"host": "0.0.0.0", "port": 8000, "policy": "prefix-affinity", "admin_key": "secret",
    ///  "replicas": ["http://10.0.0.5:8080", "http://10.0.0.6:8080"],
    ///  "aliases": {"auto": ["tokens>=512->big|small", "*->small:60,big:40"]},
    ///  "health": {"interval": 5, "timeout": 2, "unhealthy_threshold": 3, "healthy_threshold": 2},
    ///  "breaker": {"failure_threshold": 5, "open_duration": 30, "success_threshold": 2},
    ///  "retry": {"max_attempts": 3, "initial_backoff": 0.025, "max_backoff": 1, "max_total_time": 15},
    ///  "prefix_affinity": {"cache_threshold": 0.5, "balance_abs_threshold": 32, "balance_rel_threshold": 1.0001},
    ///  "max_migrations": 3, "connect_timeout": 2, "stream_idle_timeout": 60, "request_timeout": 600}
    /// ```
    /// Alias rules use the `--alias` rule syntax (`RoutingRules.parse`).
    /// - Throws: `RouterError` naming the file and the key that was wrong.
    public mutating func apply(configFile data: Data, path: String) throws {
        let file: ConfigFile
        do {
            file = try JSONDecoder().decode(ConfigFile.self, from: data)
        } catch let error as DecodingError {
            throw RouterError(.invalidConfiguration, "\(path): \(Self.describe(error))")
        } catch {
            throw RouterError(.invalidConfiguration, "\(path): \(error)")
        }
        if let value = file.host { host = value }
        if let value = file.port { port = value }
        if let value = file.replicas { replicas += value }
        if let value = file.adminKey { adminKey = value }
        if let value = file.policy {
            guard let kind = PolicyKind(rawValue: value) else {
                throw RouterError(.invalidConfiguration, "\(path): policy '\(value)' is not one of "
                                  + PolicyKind.allCases.map(\.rawValue).joined(separator: ", "))
            }
            policy = kind
        }
        for (alias, rules) in (file.aliases ?? [:]).sorted(by: { $0.key < $1.key }) {
            do {
                aliases.append(RoutingRules(alias: alias, rules: try rules.map(RoutingRules.parseRule)))
            } catch let error as RouterError {
                throw RouterError(.invalidRule, "\(path): aliases.\(alias): \(error.message)")
            }
        }
        if let h = file.health {
            if let v = h.interval { health.interval = .seconds(v) }
            if let v = h.timeout { health.timeout = .seconds(v) }
            if let v = h.unhealthyThreshold { health.unhealthyThreshold = v }
            if let v = h.healthyThreshold { health.healthyThreshold = v }
        }
        if let b = file.breaker {
            if let v = b.failureThreshold { breaker.failureThreshold = v }
            if let v = b.openDuration { breaker.openDuration = .seconds(v) }
            if let v = b.successThreshold { breaker.successThreshold = v }
        }
        if let r = file.retry {
            if let v = r.maxAttempts { retry.maxAttempts = v }
            if let v = r.initialBackoff { retry.initialBackoff = .seconds(v) }
            if let v = r.maxBackoff { retry.maxBackoff = .seconds(v) }
            if let v = r.maxTotalTime { retry.maxTotalTime = .seconds(v) }
        }
        if let p = file.prefixAffinity {
            if let v = p.cacheThreshold { prefixAffinity.cacheThreshold = v }
            if let v = p.balanceAbsThreshold { prefixAffinity.balanceAbsThreshold = v }
            if let v = p.balanceRelThreshold { prefixAffinity.balanceRelThreshold = v }
        }
        if let v = file.maxMigrations { maxMigrations = v }
        if let v = file.connectTimeout { connectTimeout = .seconds(v) }
        if let v = file.streamIdleTimeout { streamIdleTimeout = .seconds(v) }
        if let v = file.requestTimeout { requestTimeout = .seconds(v) }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            return key.isEmpty ? context.debugDescription : "'\(key)': \(context.debugDescription)"
        case .keyNotFound(let key, _):
            return "missing '\(key.stringValue)'"
        @unknown default:
            return "\(error)"
        }
    }

    private struct ConfigFile: Decodable {
        struct Health: Decodable {
            var interval, timeout: Double?
            var unhealthyThreshold, healthyThreshold: Int?
            enum CodingKeys: String, CodingKey {
                case interval, timeout
                case unhealthyThreshold = "unhealthy_threshold"
                case healthyThreshold = "healthy_threshold"
            }
        }
        struct Breaker: Decodable {
            var failureThreshold, successThreshold: Int?
            var openDuration: Double?
            enum CodingKeys: String, CodingKey {
                case failureThreshold = "failure_threshold"
                case successThreshold = "success_threshold"
                case openDuration = "open_duration"
            }
        }
        struct Retry: Decodable {
            var maxAttempts: Int?
            var initialBackoff, maxBackoff, maxTotalTime: Double?
            enum CodingKeys: String, CodingKey {
                case maxAttempts = "max_attempts"
                case initialBackoff = "initial_backoff"
                case maxBackoff = "max_backoff"
                case maxTotalTime = "max_total_time"
            }
        }
        struct PrefixAffinity: Decodable {
            var cacheThreshold, balanceRelThreshold: Double?
            var balanceAbsThreshold: Int?
            enum CodingKeys: String, CodingKey {
                case cacheThreshold = "cache_threshold"
                case balanceAbsThreshold = "balance_abs_threshold"
                case balanceRelThreshold = "balance_rel_threshold"
            }
        }
        var host: String?
        var port: Int?
        var replicas: [String]?
        var adminKey: String?
        var policy: String?
        var aliases: [String: [String]]?
        var health: Health?
        var breaker: Breaker?
        var retry: Retry?
        var prefixAffinity: PrefixAffinity?
        var maxMigrations: Int?
        var connectTimeout, streamIdleTimeout, requestTimeout: Double?

        enum CodingKeys: String, CodingKey {
            case host, port, replicas, policy, aliases, health, breaker, retry
            case adminKey = "admin_key"
            case prefixAffinity = "prefix_affinity"
            case maxMigrations = "max_migrations"
            case connectTimeout = "connect_timeout"
            case streamIdleTimeout = "stream_idle_timeout"
            case requestTimeout = "request_timeout"
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
