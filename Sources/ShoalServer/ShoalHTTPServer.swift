public import Logging
public import Prometheus
public import ServiceLifecycle
internal import Hummingbird
internal import UnixSignals

/// The HTTP server as a swift-service-lifecycle `Service`, with vLLM-style drain.
///
/// On graceful shutdown it stops admitting (new requests and /health get 503 with Retry-After), tells every
/// engine to drain, waits until running requests are answered or `shutdownTimeout` passes, then closes the
/// listener and cancels what is still running (ending those streams aborts their engine requests).
///
/// Put it after the engine in the `ServiceGroup`: shutdown runs in reverse order, so the server drains
/// before the engine stops.
public struct ShoalHTTPServer: Service {
    public let state: ServerState
    public let configuration: ServerConfiguration
    private let registry: PrometheusCollectorRegistry
    private let logger: Logger
    private let onListening: @Sendable (Int) async -> Void

    /// - Parameters:
    ///   - onListening: called with the bound port once the server listens.
    public init(
        state: ServerState, configuration: ServerConfiguration, registry: PrometheusCollectorRegistry,
        logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.state = state
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        try configuration.validate()
        let application = makeApplication(
            state: state, configuration: configuration, registry: registry, logger: logger, onListening: onListening)
        let listener = ServiceGroup(configuration: .init(services: [application], logger: logger))
        // Detached so the listener does not inherit this service's graceful shutdown: it must keep accepting
        // (and answering 503) while running requests drain, and only close afterwards.
        let serving = Task.detached { try await listener.run() }
        try await withTaskCancellationHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await serving.value }
                group.addTask {
                    try await gracefulShutdown()
                    if await drain() {
                        await listener.triggerGracefulShutdown()
                    } else {
                        // Requests are still running past the deadline: closing their connections cancels them.
                        serving.cancel()
                    }
                    _ = try? await serving.value
                }
                // Either the listener stopped by itself (an error, e.g. the port is taken) or the drain finished.
                try await group.next()
                group.cancelAll()
            }
        } onCancel: {
            serving.cancel()
        }
    }

    /// Stops admitting and waits for running requests, up to `shutdownTimeout`.
    /// - Returns: whether every request finished in time.
    private func drain() async -> Bool {
        let running = state.inFlightRequests
        logger.info("draining", metadata: ["running": "\(running)", "timeout": "\(configuration.shutdownTimeout)"])
        state.beginDrain()
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await state.waitUntilIdle()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: configuration.shutdownTimeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        if finished {
            logger.info("drained")
        } else {
            logger.warning("shutdown timeout reached; cancelling running requests",
                           metadata: ["running": "\(state.inFlightRequests)"])
        }
        return finished
    }
}

/// Runs the server until SIGTERM or SIGINT, then drains and returns. For a CLI that runs the engine
/// separately; a CLI with an engine service should put `ShoalHTTPServer` in its own `ServiceGroup` instead.
public func runServer(
    state: ServerState, configuration: ServerConfiguration, registry: PrometheusCollectorRegistry, logger: Logger
) async throws {
    let server = ShoalHTTPServer(state: state, configuration: configuration, registry: registry, logger: logger)
    let group = ServiceGroup(configuration: .init(
        services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
}
