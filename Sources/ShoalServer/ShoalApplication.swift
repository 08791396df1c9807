public import Hummingbird
public import Logging
public import Prometheus
public import ShoalHTTP
internal import NIOCore
internal import ShoalAPI

/// Paths of the API.
enum Route {
    static let completions = "/v1/completions"
    static let chatCompletions = "/v1/chat/completions"
    static let models = "/v1/models"
    static let tokenize = "/tokenize"
    static let detokenize = "/detokenize"
    static let health = "/health"
    static let metrics = "/metrics"
    static let version = "/version"
    static let openAPI = "/openapi.json"
    static let dashboard = "/dashboard"
    static let dashboardData = "/dashboard/data"

    /// The method each path takes (the `Allow` header of a 405).
    static let methods: [String: String] = [
        completions: "POST", chatCompletions: "POST", models: "GET", tokenize: "POST", detokenize: "POST",
        health: "GET", metrics: "GET", version: "GET", openAPI: "GET", dashboard: "GET", dashboardData: "GET",
    ]
    /// Reachable without an API key (probes, scrapers, and operators' browsers, which send no key).
    static let open: Set<String> = [health, metrics, version, openAPI, dashboard, dashboardData]
}

/// Builds the router of the OpenAI-compatible API over `state`'s engines.
///
/// - Parameters:
///   - state: the engines by model name and the loading / draining flags.
///   - configuration: API keys, body limit, health deadline, Retry-After.
///   - registry: where the `vllm:*` series are registered and what `/metrics` renders. Bootstrapping the global
///     `MetricsSystem` with a `PrometheusMetricsFactory` over the same registry adds swift-metrics users to it.
///   - logger: for request failures.
public func makeRouter(
    state: ServerState, configuration: ServerConfiguration, registry: PrometheusCollectorRegistry, logger: Logger
) -> Router<ConnectionRequestContext> {
    makeRouterAndDashboard(state: state, configuration: configuration, registry: registry, logger: logger).router
}

/// The router and the dashboard its `/dashboard` routes show (the application runs the dashboard's sampling).
func makeRouterAndDashboard(
    state: ServerState, configuration: ServerConfiguration, registry: PrometheusCollectorRegistry, logger: Logger
) -> (router: Router<ConnectionRequestContext>, dashboard: ServerDashboard) {
    let metrics = ServerMetrics(registry: registry)
    for name in state.engines.keys { metrics.register(model: name) }
    let server = ServerContext(state: state, configuration: configuration, metrics: metrics, logger: logger)
    let dashboard = ServerDashboard(server: server)
    let completions = CompletionsEndpoint(server: server)
    let chat = ChatCompletionsEndpoint(server: server)
    let info = InfoEndpoints(server: server)

    let router = Router(context: ConnectionRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: APIErrorMiddleware(methods: Route.methods))
    router.add(middleware: APIKeyMiddleware(keys: configuration.apiKeys, openPaths: Route.open))
    router.post(RouterPath(Route.completions)) { request, context in try await completions.handle(request, context: context) }
    router.post(RouterPath(Route.chatCompletions)) { request, context in try await chat.handle(request, context: context) }
    router.get(RouterPath(Route.models)) { _, _ in try info.models() }
    router.post(RouterPath(Route.tokenize)) { request, _ in try await info.tokenize(request) }
    router.post(RouterPath(Route.detokenize)) { request, _ in try await info.detokenize(request) }
    router.get(RouterPath(Route.health)) { _, _ in try info.health() }
    router.get(RouterPath(Route.metrics)) { _, _ in info.metrics() }
    router.get(RouterPath(Route.version)) { _, _ in try info.version() }
    let openAPI = OpenAPIDocument.json(for: .server, version: configuration.version)
    router.get(RouterPath(Route.openAPI)) { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: openAPI)))
    }
    router.get(RouterPath(Route.dashboard)) { _, _ in dashboard.page() }
    router.get(RouterPath(Route.dashboardData)) { _, _ in try dashboard.data() }
    return (router, dashboard)
}

/// Builds the Hummingbird application serving the API on `configuration.host:port`.
///
/// Running it directly (`app.runService()`) serves without drain; `ShoalHTTPServer` adds the graceful drain.
/// - Parameter onListening: called with the bound port once the server listens (useful with port 0).
public func makeApplication(
    state: ServerState, configuration: ServerConfiguration, registry: PrometheusCollectorRegistry, logger: Logger,
    onListening: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let (router, dashboard) = makeRouterAndDashboard(
        state: state, configuration: configuration, registry: registry, logger: logger)
    return Application(
        router: router,
        server: .http1WatchingClients(readTimeouts: RequestReadTimeouts(
            header: configuration.headerTimeout, body: configuration.bodyTimeout)),
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: configuration.serverName),
        services: [dashboard],
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? configuration.port
            logger.info("listening", metadata: ["host": "\(configuration.host)", "port": "\(port)"])
            await onListening(port)
        },
        logger: logger)
}
