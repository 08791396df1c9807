internal import Prometheus

/// The router's Prometheus series (all prefixed `shoal_router_`). Series are created on first use; the registry
/// returns the same series for the same name and labels.
final class RouterMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    private static let latencyBuckets: [Double] = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640,
    ]

    private func counter(_ name: String, _ help: String, _ labels: [(String, String)]) -> Counter {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "shoal_router_" + name, unitName: "total", helpText: help),
            labels: labels)
    }

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)]) -> Gauge {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "shoal_router_" + name, unitName: "", helpText: help),
            labels: labels)
    }

    /// A request (attempt) was sent to `replica`.
    func requestStarted(replica: ReplicaID, model: String) {
        counter("requests", "Requests sent to a replica (each attempt counts).",
                [("replica", replica.rawValue), ("model", model)]).increment()
        gauge("in_flight", "Requests in flight to a replica.", [("replica", replica.rawValue)]).increment()
    }

    /// The request to `replica` ended after `seconds`; `error` names the failure kind, if it failed.
    func requestFinished(replica: ReplicaID, model: String, seconds: Double, error: String?) {
        gauge("in_flight", "Requests in flight to a replica.", [("replica", replica.rawValue)]).decrement()
        registry.makeValueHistogram(
            descriptor: MetricNameDescriptor(metricName: "shoal_router_request_duration", unitName: "seconds",
                                             helpText: "Time from sending a request to a replica to its last byte."),
            labels: [("replica", replica.rawValue)], buckets: Self.latencyBuckets
        ).record(seconds)
        if let error {
            counter("errors", "Failed requests to a replica by kind (connect, timeout, status_5xx, stream_broken ...).",
                    [("replica", replica.rawValue), ("model", model), ("kind", error)]).increment()
        }
    }

    func breakerState(replica: ReplicaID, value: Int) {
        gauge("breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
              [("replica", replica.rawValue)]).set(to: Double(value))
    }

    func healthy(replica: ReplicaID, _ healthy: Bool) {
        gauge("replica_healthy", "1 when the replica passes its active health checks.",
              [("replica", replica.rawValue)]).set(to: healthy ? 1 : 0)
    }

    func breakerTransition(replica: ReplicaID, to state: String) {
        counter("breaker_transitions", "Circuit breaker state changes by target state.",
                [("replica", replica.rawValue), ("state", state)]).increment()
    }

    func retry(model: String, reason: String) {
        counter("retries", "Requests re-sent to another replica before the first byte.",
                [("model", model), ("reason", reason)]).increment()
    }

    func migration(model: String, outcome: String) {
        counter("migrations", "Streams moved to another replica mid-answer, by outcome (ok, failed, limit).",
                [("model", model), ("outcome", outcome)]).increment()
    }

    /// A routing decision: by alias rule (`alias`, `rule`, `pool`) or by pool policy (`policy`, `decision`).
    func ruleDecision(alias: String, rule: String, pool: String, fallback: Bool) {
        counter("rule_decisions", "Requests routed by alias rules.",
                [("alias", alias), ("rule", rule), ("pool", pool), ("fallback", fallback ? "true" : "false")]).increment()
    }

    func policyDecision(pool: String, policy: String, decision: String) {
        counter("policy_decisions", "Replica choices by pool policy and reason.",
                [("pool", pool), ("policy", policy), ("decision", decision)]).increment()
    }

    /// A DNS discovery resolution of `name` (`NAME:PORT`) ended with `outcome`: ok, empty or failure.
    func discoveryResolution(name: String, outcome: String) {
        counter("discovery_resolutions", "DNS discovery resolutions by name and outcome (ok, empty, failure).",
                [("name", name), ("outcome", outcome)]).increment()
    }

    /// The latest successful DNS discovery of `name` found `count` addresses.
    func discoveredAddresses(name: String, count: Int) {
        gauge("discovery_addresses", "Addresses the latest successful DNS discovery of a name returned.",
              [("name", name)]).set(to: Double(count))
    }

    func render() -> String {
        registry.emitToString()
    }
}
