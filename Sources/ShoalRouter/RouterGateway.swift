public import Hummingbird
public import Logging
public import Prometheus
public import ServiceLifecycle
internal import AsyncHTTPClient
internal import Foundation
internal import NIOCore
internal import NIOHTTP1
internal import ShoalAPI
internal import ShoalHTTP
internal import Synchronization

/// The router: an OpenAI-compatible front over pools of `shoal serve` replicas.
///
/// Serves `POST /v1/completions` and `/v1/chat/completions` (proxied, with retries before the first byte and
/// mid-stream migration), `GET /v1/models` (the union of the pools and aliases), `/health`, `/metrics`,
/// `/dashboard` (a live page of every replica, fed by `/dashboard/data`), and
/// `/admin/replicas` (list: GET; add: POST `{"url": ...}`; remove: DELETE `?url=`; drain: POST
/// `/admin/replicas/drain` `{"url": ...}`), the last behind `Authorization: Bearer <adminKey>`.
///
/// Run it as a `Service` (`run()` serves until cancelled or shut down gracefully, probing replicas' `/health`
/// meanwhile); call `shutdown()` if it was never run.
public final class RouterGateway: Service, Sendable {
    public let configuration: RouterConfiguration
    let replicas: ReplicaSet
    let upstream: Upstream
    let metrics: RouterMetrics
    let logger: Logger
    let aliases: [String: RoutingRules]
    /// What `/dashboard` shows, sampled by `run()`.
    let dashboard: RouterDashboard
    /// `configuration.apiKeys`, ready for constant-time checks.
    private let clientKeys: APIKeySet
    /// Resolves the names of `configuration.discover`.
    let resolver: any AddressResolver
    private let random: Mutex<RouterRandom>
    private let pending = Mutex<Set<ReplicaID>>([])
    private let onListening: @Sendable (Int) async -> Void
    private let clock = ContinuousClock()

    /// - Parameters:
    ///   - registry: where the `shoal_router_*` series go and what `/metrics` renders.
    ///   - onListening: called with the bound port once the server listens (useful with port 0).
    ///   - resolver: resolves the names of `configuration.discover` (tests inject a scripted one).
    /// - Throws: `RouterError` if the configuration is invalid.
    public init(configuration: RouterConfiguration, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
                logger: Logger = Logger(label: "shoal.router"),
                onListening: @escaping @Sendable (Int) async -> Void = { _ in },
                resolver: any AddressResolver = SystemAddressResolver()) throws {
        try configuration.validate()
        self.resolver = resolver
        self.configuration = configuration
        metrics = RouterMetrics(registry: registry)
        self.logger = logger
        self.onListening = onListening
        let seeds = Mutex(configuration.seed.map { RouterRandom(seed: $0) } ?? RouterRandom())
        let kind = configuration.policy
        let affinity = configuration.prefixAffinity
        replicas = ReplicaSet(
            makePolicy: { kind.makePolicy(seed: seeds.withLock { $0.next() }, prefixAffinity: affinity) },
            breaker: configuration.breaker, health: configuration.health, metrics: metrics)
        upstream = Upstream(configuration: configuration)
        dashboard = RouterDashboard(interval: configuration.dashboardInterval)
        random = Mutex(configuration.seed.map { RouterRandom(seed: $0 &+ 1) } ?? RouterRandom())
        var aliases: [String: RoutingRules] = [:]
        for alias in configuration.aliases { aliases[alias.alias] = alias }
        self.aliases = aliases
        clientKeys = APIKeySet(configuration.apiKeys)
        pending.withLock { set in
            for url in configuration.replicas { if let id = try? ReplicaURL.normalize(url) { set.insert(id) } }
        }
    }

    // MARK: Membership

    /// Adds a replica after asking it for its models.
    /// - Returns: the models it serves.
    /// - Throws: `RouterError` if the URL is malformed or the replica cannot be reached.
    @discardableResult
    public func addReplica(_ url: String) async throws -> [String] {
        let id = try ReplicaURL.normalize(url)
        let models = try await upstream.discoverModels(id, timeout: configuration.health.timeout * 2)
        replicas.add(id, models: models)
        pending.withLock { _ = $0.remove(id) }
        logger.info("replica added", metadata: ["replica": "\(id)", "models": "\(models.map(\.name))"])
        return models.map(\.name)
    }

    /// Removes a replica at once. - Returns: whether it was a member.
    @discardableResult
    public func removeReplica(_ url: String) throws -> Bool {
        let id = try ReplicaURL.normalize(url)
        pending.withLock { _ = $0.remove(id) }
        return replicas.remove(id)
    }

    /// Sends no new requests to a replica and removes it when its last request ends. - Returns: whether it was a member.
    @discardableResult
    public func drainReplica(_ url: String) throws -> Bool {
        replicas.drain(try ReplicaURL.normalize(url))
    }

    /// Every replica's state.
    public var replicaStatuses: [ReplicaStatus] { replicas.statuses() }

    /// One round of active health checks of every replica (and discovery of configured ones not yet reached).
    public func probeAll() async {
        await admitPending()
        let timeout = configuration.health.timeout
        await withTaskGroup(of: Void.self) { group in
            for id in replicas.replicaIDs {
                group.addTask {
                    let passed = (try? await self.upstream.get(id, path: "/health", timeout: timeout))?.status == 200
                    self.replicas.recordProbe(id, passed: passed)
                }
            }
        }
    }

    /// Tries once more to add each configured replica not reached yet.
    private func admitPending() async {
        for id in pending.withLock({ Array($0) }) { _ = try? await addReplica(id.rawValue) }
    }

    /// Closes the upstream clients (call once, after `run()` returned or if it never ran).
    public func shutdown() async {
        await upstream.shutdown()
    }

    // MARK: Service

    /// Discovers the configured replicas, then serves, probes and follows `configuration.discover` (DNS) until
    /// cancelled or shut down gracefully.
    public func run() async throws {
        await probeAll()
        let app = makeApplication()
        let interval = configuration.health.interval
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The app follows the graceful shutdown of the service group this gateway runs in: it stops accepting,
            // lets the requests in flight finish, then returns, and everything else here is cancelled. (Not
            // `runService()`: that starts a service group of its own that also catches SIGTERM, and whichever
            // group saw the signal first decided the exit status.)
            group.addTask { try await app.run() }
            group.addTask {
                while !Task.isCancelled {
                    try await sleepOnEventLoop(for: interval)
                    await self.probeAll()
                }
            }
            group.addTask {
                // Configured replicas not reached yet are retried every second, not only every health interval, so
                // a router started before its replicas (or whose first probe timed out) admits them soon after they answer.
                while !Task.isCancelled {
                    try await sleepOnEventLoop(for: min(interval, .seconds(1)))
                    await self.admitPending()
                }
            }
            group.addTask { await self.runDashboard() }
            if !configuration.discover.isEmpty {
                group.addTask { await self.runDiscovery() }
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }

    /// The Hummingbird application serving the router's endpoints.
    /// The methods each path takes: the others get 405 with `Allow`, as from a replica, rather than 404.
    static let methods: [String: String] = [
        "/v1/completions": "POST", "/v1/chat/completions": "POST", "/tokenize": "POST", "/detokenize": "POST",
        "/v1/models": "GET", "/health": "GET", "/metrics": "GET", "/openapi.json": "GET",
        "/dashboard": "GET", "/dashboard/data": "GET",
        "/admin/replicas": "GET, POST, DELETE", "/admin/replicas/drain": "POST",
    ]

    public func makeApplication() -> some ApplicationProtocol {
        let router = Router(context: ConnectionRequestContext.self)
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: RouterErrorMiddleware(methods: Self.methods))
        router.post("/v1/completions") { request, context in
            try self.authorizeClient(request)
            return try await self.proxy(request, kind: .completion, context: context)
        }
        router.post("/v1/chat/completions") { request, context in
            try self.authorizeClient(request)
            return try await self.proxy(request, kind: .chat, context: context)
        }
        for path in ["/tokenize", "/detokenize"] {
            router.post(RouterPath(path)) { request, context in
                try self.authorizeClient(request)
                return try await self.passThrough(request, path: path, context: context)
            }
        }
        router.get("/v1/models") { request, _ in
            try self.authorizeClient(request)
            return try self.modelList()
        }
        router.get("/health") { _, _ in self.health() }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: self.metrics.render())))
        }
        let openAPI = OpenAPIDocument.json(for: .router, version: ShoalVersion.string)
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: openAPI)))
        }
        // Open like /health and /metrics (which already show the replicas and their numbers): a page for operators.
        router.get("/dashboard") { _, _ in self.dashboardPage() }
        router.get("/dashboard/data") { _, _ in try self.dashboardData() }
        router.get("/admin/replicas") { request, _ in
            try self.authorizeAdmin(request)
            return try Self.json(self.replicas.statuses())
        }
        router.post("/admin/replicas") { request, _ in
            try self.authorizeAdmin(request)
            let url = try await Self.readURL(request)
            let models = try await self.addReplica(url)
            return try Self.json(["url": url, "models": models.joined(separator: ",")], status: .created)
        }
        router.delete("/admin/replicas") { request, _ in
            try self.authorizeAdmin(request)
            guard let url = request.uri.queryParameters["url"].map(String.init) else {
                throw ProxyError.invalid("pass the replica as ?url=http://HOST:PORT")
            }
            return try self.membershipAnswer(url, removed: try self.removeReplica(url))
        }
        router.post("/admin/replicas/drain") { request, _ in
            try self.authorizeAdmin(request)
            let url = try await Self.readURL(request)
            return try self.membershipAnswer(url, removed: try self.drainReplica(url))
        }
        let host = configuration.host
        let port = configuration.port
        let logger = logger
        let onListening = onListening
        return Application(
            router: router,
            server: .http1WatchingClients(readTimeouts: RequestReadTimeouts(
                header: configuration.headerTimeout, body: configuration.bodyTimeout)),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "shoal-router"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                logger.info("router listening", metadata: ["host": "\(host)", "port": "\(bound)"])
                await onListening(bound)
            },
            logger: logger)
    }

    private func membershipAnswer(_ url: String, removed: Bool) throws -> Response {
        guard removed else {
            throw ProxyError(status: 404, type: "invalid_request_error", code: "unknown_replica",
                             message: "No replica \(url)")
        }
        return try Self.json(replicas.statuses())
    }

    private func authorizeAdmin(_ request: Request) throws {
        guard let key = configuration.adminKey, !key.isEmpty else {
            throw ProxyError(status: 403, type: "invalid_request_error", code: "admin_disabled",
                             message: "The admin API is off: start the router with --admin-key")
        }
        guard Self.presents(request, oneOf: APIKeySet([key])) else {
            throw ProxyError(status: 401, type: "invalid_request_error", code: "invalid_api_key",
                             message: "Missing or wrong admin key (Authorization: Bearer <key>)")
        }
    }

    /// Checks the client's key on the OpenAI endpoints when the router has `apiKeys`.
    private func authorizeClient(_ request: Request) throws {
        guard !clientKeys.isEmpty else { return }
        guard Self.presents(request, oneOf: clientKeys) else {
            throw ProxyError(status: 401, type: "invalid_request_error", code: "invalid_api_key",
                             message: "Missing or wrong API key (Authorization: Bearer <key>)")
        }
    }

    /// Whether the request's `Authorization` is `Bearer K` for one of `keys`.
    private static func presents(_ request: Request, oneOf keys: APIKeySet) -> Bool {
        let given = (request.headers[.authorization] ?? "").utf8
        let scheme = "Bearer ".utf8
        guard given.starts(with: scheme) else { return false }
        return keys.contains(given.dropFirst(scheme.count))
    }

    private static func readURL(_ request: Request) async throws -> String {
        var request = request
        let body = try await request.collectBody(upTo: 64 << 10)
        guard case .object(let fields)? = try? JSONValue.parse(body.readableBytesView),
              let url = fields["url"]?.stringValue else {
            throw ProxyError.invalid(#"the body must be {"url": "http://HOST:PORT"}"#)
        }
        return url
    }

    private func modelList() throws -> Response {
        let created = Int(Date().timeIntervalSince1970)
        var cards = replicas.models.map { ModelCard(id: $0.name, created: created, ownedBy: "shoal", maxModelLen: $0.contextLength) }
        for alias in aliases.keys.sorted() where !cards.contains(where: { $0.id == alias }) {
            cards.append(ModelCard(id: alias, created: created, ownedBy: "shoal-router"))
        }
        return try Self.json(ModelList(data: cards))
    }

    private func health() -> Response {
        let statuses = replicas.statuses()
        let available = replicas.models.filter { replicas.isPoolAvailable($0.name) }.map(\.name)
        let healthy = !available.isEmpty
        let body: [String: JSONValue] = [
            "status": .string(healthy ? "ok" : "no_healthy_replica"),
            "replicas": .number(Double(statuses.count)),
            "healthy_replicas": .number(Double(statuses.filter { $0.healthy && $0.breaker != "open" }.count)),
            "available_models": .array(available.map(JSONValue.string)),
        ]
        let data = (try? ServerSentEvents.makeEncoder().encode(JSONValue.object(body))) ?? Data()
        return Response(status: healthy ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try ServerSentEvents.makeEncoder().encode(value)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func nextRandom() -> RouterRandom {
        RouterRandom(seed: random.withLock { $0.next() })
    }

    var now: ContinuousClock.Instant { clock.now }
}
