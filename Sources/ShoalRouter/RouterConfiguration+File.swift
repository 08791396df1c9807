public import Foundation
internal import Yams

extension RouterConfiguration {
    /// Applies a YAML config file on top of this configuration. JSON is YAML, so JSON files work too.
    ///
    /// Every key is optional; durations are seconds (`1.5`) or text like `500ms`, `10s`, `1m`; `replicas` and
    /// `discover` add to what is already configured.
    /// ```yaml
    /// host: 0.0.0.0
    /// port: 8000
    /// policy: prefix-affinity        # least-loaded, round-robin, consistent-hash
    /// admin_key: secret
    /// api_keys: [client-key-1, client-key-2]   # clients send one as Authorization: Bearer KEY
    /// replica_api_key: replica-secret          # what the router sends to replicas (else the client's header)
    /// replicas:
    ///   - http://10.0.0.5:8080
    /// discover:                      # DNS names re-resolved every interval (see DiscoveryTarget)
    ///   - dns://shoal-serve.default.svc.cluster.local:8080?interval=10s
    ///   - dns://shoal-big:8080?model=big&interval=30s
    /// aliases:                       # --alias rule syntax; quote rules starting with * (YAML aliases)
    ///   auto: ["tokens>=512->big|small", "*->small:60,big:40"]
    /// health: {interval: 5s, timeout: 2s, unhealthy_threshold: 3, healthy_threshold: 2}
    /// breaker: {failure_threshold: 5, open_duration: 30s, success_threshold: 2}
    /// retry: {max_attempts: 3, initial_backoff: 25ms, max_backoff: 1s, max_total_time: 15s}
    /// prefix_affinity: {cache_threshold: 0.5, balance_abs_threshold: 32, balance_rel_threshold: 1.0001}
    /// max_migrations: 3
    /// connect_timeout: 2s
    /// stream_idle_timeout: 60s
    /// request_timeout: 600s
    /// first_byte_timeout: 5s           # 0: off
    /// header_timeout: 60s
    /// body_timeout: 60s
    /// dashboard_interval: 2s           # how often /dashboard scrapes the replicas' /metrics
    /// ```
    /// A key set to `null` (or left empty) keeps its current value; an unknown key is an error.
    /// - Parameters:
    ///   - data: the file's bytes (UTF-8).
    ///   - path: the file's name, for error messages.
    /// - Throws: `RouterError` whose one-line message starts `PATH:LINE:COLUMN:` and names the key that is wrong
    ///   (`invalidRule` for a bad alias rule, `invalidConfiguration` otherwise).
    public mutating func apply(configFile data: Data, path: String) throws {
        guard let text = String(data: data, encoding: .utf8) else {
            throw RouterError(.invalidConfiguration, "\(path): the file is not UTF-8 text")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw RouterError(.invalidConfiguration, "\(path):\(ConfigFileReader.describe(error))")
        }
        guard let root, root.null == nil else { return }
        try ConfigFileReader(path: path).apply(root, to: &self)
    }
}

/// Reads a composed YAML tree into a `RouterConfiguration`, failing with the file, line and key of a bad value.
private struct ConfigFileReader {
    let path: String

    func apply(_ root: Node, to configuration: inout RouterConfiguration) throws {
        for (key, value) in try mapping(root, "the file", keys: Self.topLevelKeys) where value.null == nil {
            switch key {
            case "host": configuration.host = try string(value, key)
            case "port": configuration.port = try int(value, key)
            case "admin_key": configuration.adminKey = try string(value, key)
            case "api_keys": configuration.apiKeys += try list(value, key).map { try string($0.node, $0.key) }
            case "replica_api_key": configuration.replicaAPIKey = try string(value, key)
            case "replicas": configuration.replicas += try list(value, key).map { try string($0.node, $0.key) }
            case "discover":
                for (node, name) in try list(value, key) {
                    let text = try string(node, name)
                    do {
                        configuration.discover.append(try DiscoveryTarget(parsing: text))
                    } catch let error as RouterError {
                        throw failure(node, name, error.message)
                    }
                }
            case "policy":
                let name = try string(value, key)
                guard let kind = PolicyKind(rawValue: name) else {
                    throw failure(value, key, "'\(name)' is not one of " + PolicyKind.allCases.map(\.rawValue).joined(separator: ", "))
                }
                configuration.policy = kind
            case "aliases": try applyAliases(value, to: &configuration)
            case "health":
                for (field, node, name) in try fields(value, key, keys: ["interval", "timeout", "unhealthy_threshold", "healthy_threshold"]) {
                    switch field {
                    case "interval": configuration.health.interval = try duration(node, name)
                    case "timeout": configuration.health.timeout = try duration(node, name)
                    case "unhealthy_threshold": configuration.health.unhealthyThreshold = try int(node, name)
                    default: configuration.health.healthyThreshold = try int(node, name)
                    }
                }
            case "breaker":
                for (field, node, name) in try fields(value, key, keys: ["failure_threshold", "open_duration", "success_threshold"]) {
                    switch field {
                    case "failure_threshold": configuration.breaker.failureThreshold = try int(node, name)
                    case "open_duration": configuration.breaker.openDuration = try duration(node, name)
                    default: configuration.breaker.successThreshold = try int(node, name)
                    }
                }
            case "retry":
                for (field, node, name) in try fields(value, key, keys: ["max_attempts", "initial_backoff", "max_backoff", "max_total_time"]) {
                    switch field {
                    case "max_attempts": configuration.retry.maxAttempts = try int(node, name)
                    case "initial_backoff": configuration.retry.initialBackoff = try duration(node, name)
                    case "max_backoff": configuration.retry.maxBackoff = try duration(node, name)
                    default: configuration.retry.maxTotalTime = try duration(node, name)
                    }
                }
            case "prefix_affinity":
                let keys = ["cache_threshold", "balance_abs_threshold", "balance_rel_threshold", "max_blocks_per_replica"]
                for (field, node, name) in try fields(value, key, keys: keys) {
                    switch field {
                    case "cache_threshold": configuration.prefixAffinity.cacheThreshold = try number(node, name)
                    case "balance_abs_threshold": configuration.prefixAffinity.balanceAbsThreshold = try int(node, name)
                    case "max_blocks_per_replica":
                        let blocks = try int(node, name)
                        guard blocks >= 1 else {
                            throw failure(node, name, "must be at least 1, not \(blocks)")
                        }
                        configuration.prefixAffinity.maxBlocksPerReplica = blocks
                    default: configuration.prefixAffinity.balanceRelThreshold = try number(node, name)
                    }
                }
            case "max_migrations": configuration.maxMigrations = try int(value, key)
            case "connect_timeout": configuration.connectTimeout = try duration(value, key)
            case "stream_idle_timeout": configuration.streamIdleTimeout = try duration(value, key)
            case "header_timeout": configuration.headerTimeout = try duration(value, key)
            case "body_timeout": configuration.bodyTimeout = try duration(value, key)
            case "dashboard_interval": configuration.dashboardInterval = try duration(value, key)
            case "first_byte_timeout":
                let limit = try duration(value, key)
                configuration.firstByteTimeout = limit == .zero ? nil : limit
            default: configuration.requestTimeout = try duration(value, key)
            }
        }
    }

    static let topLevelKeys = [
        "host", "port", "policy", "admin_key", "api_keys", "replica_api_key", "replicas", "discover", "aliases", "health", "breaker", "retry",
        "prefix_affinity", "max_migrations", "connect_timeout", "stream_idle_timeout", "request_timeout",
        "first_byte_timeout", "header_timeout", "body_timeout", "dashboard_interval",
    ]

    /// Aliases in name order, each a list of `--alias` rules.
    private func applyAliases(_ value: Node, to configuration: inout RouterConfiguration) throws {
        for (alias, node) in try mapping(value, "aliases", keys: nil).sorted(by: { $0.key < $1.key }) {
            var rules: [RoutingRule] = []
            for (ruleNode, name) in try list(node, "aliases." + alias) {
                let text = try string(ruleNode, name)
                do {
                    rules.append(try RoutingRules.parseRule(text))
                } catch let error as RouterError {
                    throw RouterError(.invalidRule, location(ruleNode) + " \(name): \(error.message)")
                }
            }
            configuration.aliases.append(RoutingRules(alias: alias, rules: rules))
        }
    }

    // MARK: Typed values

    /// `PATH:LINE:COLUMN:` of a node.
    private func location(_ node: Node) -> String {
        guard let mark = node.mark else { return path + ":" }
        return "\(path):\(mark.line):\(mark.column):"
    }

    private func failure(_ node: Node, _ key: String, _ message: String) -> RouterError {
        RouterError(.invalidConfiguration, location(node) + " \(key): \(message)")
    }

    /// How a value that had the wrong type looks, for messages.
    private func shown(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar(let scalar): "'\(scalar.string)'"
        case .alias: "an alias"
        }
    }

    /// The fields of section `key` that are set (not null), each with its dotted name for error messages.
    private func fields(_ value: Node, _ key: String, keys: [String]) throws -> [(field: String, node: Node, name: String)] {
        try mapping(value, key, keys: keys).filter { $0.node.null == nil }.map { ($0.key, $0.node, key + "." + $0.key) }
    }

    /// The pairs of a mapping, in file order. - Parameter keys: the allowed keys; nil allows any.
    private func mapping(_ node: Node, _ key: String, keys: [String]?) throws -> [(key: String, node: Node)] {
        guard case .mapping(let mapping) = node else { throw failure(node, key, "must be a mapping, not \(shown(node))") }
        return try mapping.map { pair in
            guard case .scalar(let scalar) = pair.key else { throw failure(pair.key, key, "keys must be plain names") }
            if let keys, !keys.contains(scalar.string) {
                let name = key == "the file" ? scalar.string : key + "." + scalar.string
                throw failure(pair.key, name, "unknown key (known: \(keys.joined(separator: ", ")))")
            }
            return (scalar.string, pair.value)
        }
    }

    /// The items of a list with their names for messages (`replicas[0]`).
    private func list(_ node: Node, _ key: String) throws -> [(node: Node, key: String)] {
        guard case .sequence(let sequence) = node else { throw failure(node, key, "must be a list, not \(shown(node))") }
        return sequence.enumerated().map { ($0.element, "\(key)[\($0.offset)]") }
    }

    private func string(_ node: Node, _ key: String) throws -> String {
        guard case .scalar(let scalar) = node, node.null == nil else {
            throw failure(node, key, "must be a string, not \(shown(node))")
        }
        return scalar.string
    }

    private func int(_ node: Node, _ key: String) throws -> Int {
        guard let value = node.int else { throw failure(node, key, "must be an integer, not \(shown(node))") }
        return value
    }

    private func number(_ node: Node, _ key: String) throws -> Double {
        guard let value = node.float, value.isFinite else { throw failure(node, key, "must be a number, not \(shown(node))") }
        return value
    }

    /// Seconds as a number, or text like `500ms`, `10s`, `1m`.
    private func duration(_ node: Node, _ key: String) throws -> Duration {
        let parsed: Duration? = if let seconds = node.float {
            Duration(configSeconds: seconds)
        } else if case .scalar(let scalar) = node {
            Duration(configText: scalar.string)
        } else {
            nil
        }
        guard let parsed else {
            throw failure(node, key, "must be a duration (seconds, or like 500ms, 10s, 1m), not \(shown(node))")
        }
        return parsed
    }

    // MARK: Syntax errors

    /// A YAML syntax error on one line: `LINE:COLUMN: problem`.
    static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let within = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            let hint = context?.text.contains("alias") == true ? "; quote text that starts with *" : ""
            return "\(mark.line):\(mark.column): malformed YAML: \(problem)\(within)\(hint)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return "\(context.mark.line):\(context.mark.column): key \(duplicates.joined(separator: ", ")) is given twice"
        case .reader(let problem, let offset, _, _):
            return " unreadable text at character \(offset ?? 0): \(problem)"
        default:
            return " " + "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
        }
    }
}
