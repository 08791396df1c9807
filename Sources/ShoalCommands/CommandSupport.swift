package import ArgumentParser
package import Foundation
package import Logging
import Metrics
package import Prometheus
package import ShoalRouter

/// Set-up shared by the long-running commands (`serve`, `route`).
package enum CommandSupport {
    /// Sends logs at `level` and above to stderr and metrics to a fresh Prometheus registry.
    /// - Returns: a logger labelled `label` and the registry that `/metrics` renders.
    package static func bootstrap(logLevel level: Logger.Level, label: String) -> (Logger, PrometheusCollectorRegistry) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return (Logger(label: label), registry)
    }

    /// The `--api-key` values plus `$SHOAL_API_KEY` when it is set.
    package static func apiKeys(_ flags: [String]) -> [String] {
        guard let key = ProcessInfo.processInfo.environment["SHOAL_API_KEY"], !key.isEmpty else { return flags }
        return flags + [key]
    }

    /// A `--policy` value. - Throws: `ValidationError` listing the policies.
    package static func policy(_ name: String) throws -> PolicyKind {
        guard let kind = PolicyKind(rawValue: name) else {
            throw ValidationError("--policy must be one of " + PolicyKind.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return kind
    }

    /// Applies `--alias` specs (a later spec for the same alias replaces the earlier one, and one from the config
    /// file). - Throws: `ValidationError` with the rule's error.
    package static func apply(aliases specs: [String], to configuration: inout RouterConfiguration) throws {
        for spec in specs {
            let rules: RoutingRules
            do { rules = try RoutingRules.parse(spec) } catch let error as RouterError { throw ValidationError(error.message) }
            configuration.aliases.removeAll { $0.alias == rules.alias }
            configuration.aliases.append(rules)
        }
    }
}
