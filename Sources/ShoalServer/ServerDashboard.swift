internal import Hummingbird
internal import NIOCore
internal import ServiceLifecycle
internal import ShoalDashboard
internal import ShoalEngine
internal import Synchronization

/// The live dashboard of `shoal serve`: one row per served model, sampled from the same series `/metrics` exports
/// (rendered and parsed, so the page and a Prometheus scrape agree) and the server's own state.
///
/// It is a `Service` of the HTTP application: it samples every `configuration.dashboardInterval` until the
/// application shuts down; `/dashboard/data` also samples when the newest sampling is older than the interval
/// (a router built without the application) or
/// predates the models it serves (a server that was still loading).
final class ServerDashboard: Service, Sendable {
    private let server: ServerContext
    private let recorder: Mutex<(recorder: DashboardRecorder, sampled: ContinuousClock.Instant?, models: [String])>
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant

    init(server: ServerContext) {
        self.server = server
        recorder = Mutex((DashboardRecorder(configuration: .init(interval: server.configuration.dashboardInterval.seconds)),
                          nil, []))
        start = clock.now
    }

    func run() async throws {
        let interval = server.configuration.dashboardInterval
        // Ends quietly when the application shuts down gracefully (or is cancelled).
        try? await cancelWhenGracefulShutdown {
            while true {
                self.sample()
                try await Task.sleep(for: interval)
            }
        }
    }

    /// One sampling of every model.
    func sample() {
        let state = server.state
        let engines = state.engines
        let text = server.metrics.render(engines: engines)
        let samples: Result<[PrometheusSample], PrometheusParseError>
        do {
            samples = .success(try PrometheusTextParser.parse(text))
        } catch {
            samples = .failure(error)
        }
        let observations = engines.keys.sorted().map { name -> ReplicaObservation in
            let status = status(of: name, engine: engines[name])
            var observation = ReplicaObservation(
                id: name, models: [name], status: status, healthy: status == "healthy",
                inFlight: state.inFlightRequests(model: name))
            switch samples {
            case .success(let samples):
                let metrics = ReplicaMetrics(samples: samples, model: name)
                observation.metrics = metrics
                observation.errors = Int(metrics.abortedRequests)
            case .failure(let error):
                observation.scrapeError = "/metrics does not parse: \(error)"
            }
            return observation
        }
        let now = clock.now
        recorder.withLock { recorder in
            recorder.recorder.record(observations, at: (now - start).seconds)
            recorder.sampled = now
            recorder.models = observations.map(\.id)
        }
    }

    /// What `/health` would say about one model: `healthy`, `loading`, `draining` or `unhealthy`.
    private func status(of name: String, engine: (any InferenceEngine)?) -> String {
        let state = server.state
        if state.isDraining { return "draining" }
        guard !state.isLoading, let engine else { return "loading" }
        let stats = engine.stats()
        if stats.isDraining { return "draining" }
        if stats.unavailableReason != nil { return "unhealthy" }
        if let step = stats.currentStepSeconds, step > server.configuration.healthStepDeadline.seconds { return "unhealthy" }
        return "healthy"
    }

    /// `GET /dashboard`.
    func page() -> Response {
        Response(status: .ok, headers: [.contentType: DashboardPage.contentType, .cacheControl: "no-store",
                                        .contentSecurityPolicy: DashboardPage.contentSecurityPolicy],
                 body: .init(byteBuffer: ByteBuffer(string: DashboardPage.html(title: title))))
    }

    /// `GET /dashboard/data`: sampled now when the newest sampling is older than the interval or predates a
    /// model being loaded.
    func data() throws -> Response {
        let interval = server.configuration.dashboardInterval
        let models = server.state.engines.keys.sorted()
        let stale = recorder.withLock { recorder in
            recorder.models != models || recorder.sampled.map { clock.now - $0 > interval } ?? true
        }
        if stale { sample() }
        let snapshot = recorder.withLock { $0.recorder.snapshot(kind: "server", title: title) }
        return Response(status: .ok, headers: [.contentType: DashboardPage.dataContentType, .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try snapshot.json())))
    }

    private var title: String { "Shoal server" }
}
