package import ArgumentParser
package import Foundation
package import Logging
import Metrics
package import Prometheus
import ServiceLifecycle
package import ShoalRouter
import UnixSignals

/// `shoal route`: an OpenAI-compatible router over pools of `shoal serve` replicas.
package struct Route: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        abstract: "Route OpenAI-compatible requests across replicas of `shoal serve`, with failover.",
        discussion: """
            Replicas are grouped into pools by the model names they report at /v1/models. Streams that break \
            mid-answer continue on another replica. Alias rules (--alias) route a model name such as `auto` \
            between pools: 'auto=tokens>=512->big|small;regex:(?i)code->big;*->small:60,big:40'.
            """)

    @Option(name: .long, help: "A replica's base URL, http://HOST:PORT (repeatable).")
    var replica: [String] = []

    @Option(name: .long, help: ArgumentHelp(
        "A YAML (or JSON) config file; flags override it.",
        discussion: "Keys: host, port, policy, admin_key, api_keys, replica_api_key, replicas, discover, aliases, health, breaker, retry, "
            + "prefix_affinity, max_migrations, connect_timeout, stream_idle_timeout, request_timeout, first_byte_timeout, header_timeout, body_timeout, "
            + "dashboard_interval "
            + "(see RouterConfiguration.apply(configFile:path:)).",
        valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp(
        "Replicas from DNS: dns://NAME:PORT[?model=M&interval=10s] (repeatable).",
        discussion: "NAME is re-resolved (A and AAAA) every interval (default 10s; e.g. 500ms, 10s, 1m); each address "
            + "becomes the replica http://ADDRESS:PORT, addresses that vanish are drained, a failed lookup changes "
            + "nothing. Without model= the models come from each replica's /v1/models. On Kubernetes, use a "
            + "headless Service: dns://shoal-serve.default.svc.cluster.local:8080.",
        valueName: "url"))
    var discover: [String] = []

    @Option(help: "prefix-affinity, least-loaded, round-robin or consistent-hash.")
    var policy: String?

    @Option(help: "Address to bind.")
    var host: String?

    @Option(help: "Port to listen on (0 picks a free one).")
    var port: Int?

    @Option(name: .customLong("port-file"), help: "Once listening, write the bound port to this file (useful with --port 0).")
    var portFile: String?

    @Option(name: .customLong("admin-key"), help: "Bearer key for /admin/replicas (also $SHOAL_ROUTER_ADMIN_KEY).")
    var adminKey: String?

    @Option(name: .customLong("api-key"), help: "Require this bearer token from clients (repeatable; also $SHOAL_API_KEY).")
    var apiKey: [String] = []

    @Option(name: .customLong("replica-api-key"), help: "Bearer token to send to the replicas instead of the client's (also $SHOAL_REPLICA_API_KEY).")
    var replicaAPIKey: String?

    @Option(name: .long, help: "A model alias and its rules, NAME=RULE;RULE... (repeatable).")
    var alias: [String] = []

    @Option(name: .customLong("health-interval"), help: "Seconds between /health probes of a replica.")
    var healthInterval: Double?

    @Option(name: .customLong("health-timeout"), help: "Seconds a /health probe may take.")
    var healthTimeout: Double?

    @Option(name: .customLong("unhealthy-threshold"), help: "Failed probes in a row that mark a replica unhealthy.")
    var unhealthyThreshold: Int?

    @Option(name: .customLong("healthy-threshold"), help: "Passed probes in a row that mark it healthy again.")
    var healthyThreshold: Int?

    @Option(name: .customLong("breaker-failures"), help: "Consecutive failures that open a replica's circuit breaker.")
    var breakerFailures: Int?

    @Option(name: .customLong("breaker-open-seconds"), help: "Seconds a breaker stays open before a probe request.")
    var breakerOpenSeconds: Double?

    @Option(name: .customLong("breaker-successes"), help: "Successful probe requests that close a half-open breaker.")
    var breakerSuccesses: Int?

    @Option(name: .customLong("retry-attempts"), help: "Attempts per request before the first byte (first included).")
    var retryAttempts: Int?

    @Option(name: .customLong("max-migrations"), help: "Times one stream may move to another replica.")
    var maxMigrations: Int?

    @Option(name: .customLong("stream-idle-timeout"), help: "Seconds a silent upstream stream counts as broken.")
    var streamIdleTimeout: Double?

    @Option(name: .customLong("first-byte-timeout"),
            help: "Seconds without a response head after which the router checks the replica still answers /health; one that does not loses the request to another replica (0: off).")
    var firstByteTimeout: Double?

    @Option(name: .customLong("header-timeout"),
            help: "Seconds a client connection may take to send a request head (from opening, or its previous response's end); then it is closed.")
    var headerTimeout: Double?

    @Option(name: .customLong("body-timeout"), help: "Seconds a client may take to send a request body after its head.")
    var bodyTimeout: Double?

    @Option(name: .customLong("dashboard-interval"), help: "Seconds between the /dashboard's scrapes of the replicas' /metrics.")
    var dashboardInterval: Double?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Option(name: .long, help: "Event-loop threads that carry the router's connections (one relays hundreds of streams a second).")
    package var threads: Int = 1

    package func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
        if !(1...1024).contains(threads) { throw ValidationError("--threads must be between 1 and 1024") }
        if let portFile { try PortFile.validate(portFile) }
        if let policy { _ = try CommandSupport.policy(policy) }
        let seconds: [(String, Double?)] = [
            ("--health-interval", healthInterval), ("--health-timeout", healthTimeout),
            ("--breaker-open-seconds", breakerOpenSeconds), ("--stream-idle-timeout", streamIdleTimeout),
            ("--first-byte-timeout", firstByteTimeout), ("--header-timeout", headerTimeout), ("--body-timeout", bodyTimeout),
            ("--dashboard-interval", dashboardInterval),
        ]
        for (flag, value) in seconds {
            if let value, !(0...86_400).contains(value) { throw ValidationError("\(flag) must be between 0 and 86400 seconds") }
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level '\(logLevel)' is not a level") }
        for url in discover {
            do {
                _ = try DiscoveryTarget(parsing: url)
            } catch let error as RouterError {
                throw ValidationError("--discover " + error.message)
            }
        }
    }

    /// The router configuration from the config file and the flags (flags win).
    func makeConfiguration() throws -> RouterConfiguration {
        var configuration = RouterConfiguration()
        if let config {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: config))
            } catch {
                throw ValidationError("--config \(config) could not be read: \(error.localizedDescription)")
            }
            try configuration.apply(configFile: data, path: config)
        }
        configuration.replicas += replica
        configuration.discover += try discover.map(DiscoveryTarget.init(parsing:))
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let policy { configuration.policy = try CommandSupport.policy(policy) }
        if let key = adminKey ?? ProcessInfo.processInfo.environment["SHOAL_ROUTER_ADMIN_KEY"], !key.isEmpty {
            configuration.adminKey = key
        }
        configuration.apiKeys += CommandSupport.apiKeys(apiKey)
        if let key = replicaAPIKey ?? ProcessInfo.processInfo.environment["SHOAL_REPLICA_API_KEY"], !key.isEmpty {
            configuration.replicaAPIKey = key
        }
        try CommandSupport.apply(aliases: alias, to: &configuration)
        if let healthInterval { configuration.health.interval = .milliseconds(Int64(healthInterval * 1000)) }
        if let healthTimeout { configuration.health.timeout = .milliseconds(Int64(healthTimeout * 1000)) }
        if let unhealthyThreshold { configuration.health.unhealthyThreshold = unhealthyThreshold }
        if let healthyThreshold { configuration.health.healthyThreshold = healthyThreshold }
        if let breakerFailures { configuration.breaker.failureThreshold = breakerFailures }
        if let breakerOpenSeconds { configuration.breaker.openDuration = .milliseconds(Int64(breakerOpenSeconds * 1000)) }
        if let breakerSuccesses { configuration.breaker.successThreshold = breakerSuccesses }
        if let retryAttempts { configuration.retry.maxAttempts = retryAttempts }
        if let maxMigrations { configuration.maxMigrations = maxMigrations }
        if let streamIdleTimeout { configuration.streamIdleTimeout = .milliseconds(Int64(streamIdleTimeout * 1000)) }
        if let headerTimeout { configuration.headerTimeout = .milliseconds(Int64(headerTimeout * 1000)) }
        if let bodyTimeout { configuration.bodyTimeout = .milliseconds(Int64(bodyTimeout * 1000)) }
        if let dashboardInterval { configuration.dashboardInterval = .milliseconds(Int64(dashboardInterval * 1000)) }
        if let firstByteTimeout {
            configuration.firstByteTimeout = firstByteTimeout == 0 ? nil : .milliseconds(Int64(firstByteTimeout * 1000))
        }
        try configuration.validate()
        return configuration
    }

    package func run() async throws {
        try await serve()
    }

    /// Bootstraps logging and metrics, then runs the router until SIGTERM or SIGINT.
    func serve() async throws {
        let (logger, registry) = CommandSupport.bootstrap(logLevel: Logger.Level(rawValue: logLevel) ?? .info,
                                                          label: "shoal.router")

        let configuration: RouterConfiguration
        do {
            configuration = try makeConfiguration()
        } catch let error as RouterError {
            throw ValidationError(error.message)
        }
        if configuration.replicas.isEmpty && configuration.discover.isEmpty {
            logger.warning("no replicas configured; add them with --discover or POST /admin/replicas")
        }
        let gateway = try RouterGateway(configuration: configuration, registry: registry, logger: logger,
                                        onListening: PortFile.writer(portFile, logger: logger))
        let group = ServiceGroup(configuration: .init(
            services: [gateway], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await gateway.shutdown()
            throw error
        }
        await gateway.shutdown()
    }
}
