import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Prometheus
import ServiceLifecycle
import ShoalAPI
import ShoalEngine
import ShoalServer
import Testing

/// A real `ShoalHTTPServer` on a free port, driven over real sockets with AsyncHTTPClient.
struct LiveServer: Sendable {
    let port: Int
    let state: ServerState
    let registry: PrometheusCollectorRegistry
    let group: ServiceGroup

    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: String

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            try JSONDecoder().decode(type, from: Data(body.utf8))
        }

        var json: JSONValue {
            get throws { try decode(JSONValue.self) }
        }

        var error: ErrorResponse.Detail {
            get throws { try decode(ErrorResponse.self).error }
        }
    }

    /// Starts a server over `engines`, runs `body`, then shuts the server down gracefully and waits for it.
    static func run(
        _ engines: [any InferenceEngine], configuration: ServerConfiguration = ServerConfiguration(),
        loading: Bool = false, _ body: (LiveServer) async throws -> Void
    ) async throws {
        var logger = Logger(label: "shoal-test")
        logger.logLevel = .error
        let state = ServerState(
            engines: Dictionary(uniqueKeysWithValues: engines.map { ($0.modelName, $0) }), isLoading: loading)
        let registry = PrometheusCollectorRegistry()
        var configuration = configuration
        configuration.port = 0
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let server = ShoalHTTPServer(state: state, configuration: configuration, registry: registry, logger: logger,
                                     onListening: { portContinuation.yield($0) })
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                defer { portContinuation.finish() }
                try await group.run()
            }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next(), "the server did not start")
            let live = LiveServer(port: port, state: state, registry: registry, group: group)
            do {
                try await body(live)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    var base: String { "http://127.0.0.1:\(port)" }

    func makeRequest(_ method: HTTPMethod, _ path: String, body: String?, headers: [(String, String)]) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        return request
    }

    /// One request; the whole body as text.
    func send(_ method: HTTPMethod, _ path: String, body: String? = nil, headers: [(String, String)] = []) async throws -> Reply {
        let response = try await HTTPClient.shared.execute(makeRequest(method, path, body: body, headers: headers),
                                                           timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes))
    }

    func post(_ path: String, _ body: String, headers: [(String, String)] = []) async throws -> Reply {
        try await send(.POST, path, body: body, headers: headers)
    }

    func post(_ path: String, json value: some Encodable, headers: [(String, String)] = []) async throws -> Reply {
        try await send(.POST, path, body: String(decoding: try JSONEncoder().encode(value), as: UTF8.self), headers: headers)
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> Reply {
        try await send(.GET, path, headers: headers)
    }

    /// A streamed request: the server-sent events as parsed while they arrive.
    func events(_ path: String, json value: some Encodable) async throws -> (status: Int, headers: HTTPHeaders, events: [ServerSentEvent]) {
        let body = String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
        let response = try await HTTPClient.shared.execute(makeRequest(.POST, path, body: body, headers: []),
                                                           timeout: .seconds(60))
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        for try await buffer in response.body {
            events += parser.append(buffer.readableBytesView)
        }
        #expect(parser.finish() == false, "the stream ended inside an event")
        return (Int(response.status.code), response.headers, events)
    }

    /// The Prometheus exposition as `series -> value` (`name{labels}` exactly as rendered).
    func metrics() async throws -> [String: Double] {
        let reply = try await get("/metrics")
        #expect(reply.status == 200)
        var values: [String: Double] = [:]
        for line in reply.body.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
        return values
    }
}

/// Decodes each event's JSON payload (all but `[DONE]`).
func decodeEvents<T: Decodable>(_ events: [ServerSentEvent], as type: T.Type) throws -> [T] {
    try events.filter { !$0.isDone }.map { try JSONDecoder().decode(type, from: Data($0.data.utf8)) }
}
