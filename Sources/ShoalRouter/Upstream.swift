internal import AsyncHTTPClient
internal import Foundation
internal import NIOCore
internal import NIOHTTP1
internal import ShoalAPI

/// HTTP clients to the replicas: one for streams (idle read timeout: a silent stream is a hung replica) and
/// one for whole responses (the read timeout is the request timeout, since nothing arrives until the end).
final class Upstream: Sendable {
    let streaming: HTTPClient
    let unary: HTTPClient

    /// Connections the router keeps to one replica at once. AsyncHTTPClient's default (8) would queue the
    /// ninth concurrent stream to a replica and fail it after the connect timeout; replicas do their own
    /// admission control (`--max-num-seqs`, `--max-waiting`, 503), so the router does not cap them.
    static let connectionsPerReplica = 4096

    /// `Authorization` for the replicas when the router has its own key for them.
    let replicaHeaders: HTTPHeaders

    init(configuration: RouterConfiguration) {
        var replicaHeaders = HTTPHeaders()
        if let key = configuration.replicaAPIKey { replicaHeaders.add(name: "authorization", value: "Bearer " + key) }
        self.replicaHeaders = replicaHeaders
        func client(read: Duration) -> HTTPClient {
            var settings = HTTPClient.Configuration()
            settings.timeout = .init(connect: .init(configuration.connectTimeout), read: .init(read))
            // Idle connections are dropped before a replica would close them (its --header-timeout, 60 s by
            // default), so that the router never sends a request down a connection the replica is closing.
            settings.connectionPool = .init(idleTimeout: .seconds(30),
                                            concurrentHTTP1ConnectionsPerHostSoftLimit: Self.connectionsPerReplica)
            settings.redirectConfiguration = .disallow
            settings.decompression = .disabled
            // The router traces nothing: without a tracer the client skips making a span (and casting the
            // bootstrapped no-op tracer back out of its configuration) for every request.
            settings.tracing.tracer = nil
            return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: settings)
        }
        streaming = client(read: configuration.streamIdleTimeout)
        unary = client(read: configuration.requestTimeout)
    }

    func shutdown() async {
        try? await streaming.shutdown()
        try? await unary.shutdown()
    }

    /// POSTs `body` to `replica` + `path`.
    func post(_ replica: ReplicaID, path: String, body: ByteBuffer, headers: HTTPHeaders, streaming isStream: Bool,
              timeout: Duration) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: replica.rawValue + path)
        request.method = .POST
        request.headers = headers
        request.headers.replaceOrAdd(name: "content-type", value: "application/json")
        request.body = .bytes(body)
        return try await (isStream ? streaming : unary).execute(request, timeout: .init(timeout))
    }

    /// GETs `replica` + `path`, reading at most 1 MiB of body; head and body must both arrive within `timeout`
    /// (a replica that hangs after its head must not stall the health checks of every replica).
    /// - Throws: `HTTPClientError.deadlineExceeded` when `timeout` passed first, or the request's error.
    func get(_ replica: ReplicaID, path: String, timeout: Duration,
             headers: HTTPHeaders = [:]) async throws -> (status: Int, body: ByteBuffer) {
        let answer = try await withDeadline(timeout) { () async throws -> (status: Int, body: ByteBuffer) in
            var request = HTTPClientRequest(url: replica.rawValue + path)
            request.headers = headers
            let response = try await self.unary.execute(request, timeout: .init(timeout))
            return (Int(response.status.code), try await response.body.collect(upTo: 1 << 20))
        }
        guard let answer else { throw HTTPClientError.deadlineExceeded }
        return answer
    }

    /// Asks a replica which models it serves.
    /// - Throws: `RouterError` (`discoveryFailed`) naming the replica and what went wrong.
    func discoverModels(_ replica: ReplicaID, timeout: Duration) async throws -> [PoolModel] {
        let answer: (status: Int, body: ByteBuffer)
        do {
            answer = try await get(replica, path: "/v1/models", timeout: timeout, headers: replicaHeaders)
        } catch {
            throw RouterError(.discoveryFailed, "\(replica)/v1/models could not be read: \(error)")
        }
        guard answer.status == 200 else {
            throw RouterError(.discoveryFailed, "\(replica)/v1/models answered \(answer.status)")
        }
        do {
            let list = try JSONDecoder().decode(ModelList.self, from: Data(answer.body.readableBytesView))
            guard !list.data.isEmpty else {
                throw RouterError(.discoveryFailed, "\(replica)/v1/models lists no model")
            }
            return list.data.map { PoolModel(name: $0.id, contextLength: $0.maxModelLen) }
        } catch let error as RouterError {
            throw error
        } catch {
            throw RouterError(.discoveryFailed, "\(replica)/v1/models is not a model list: \(error)")
        }
    }

    /// Whether a failed attempt says nothing about the replica: it never left the router's own connection pool
    /// (no connection attempt failed; the pool was full).
    static func isLocalCongestion(_ error: any Error) -> Bool {
        (error as? HTTPClientError) == .getConnectionFromPoolTimeout
    }

    /// How a failed attempt counts for retries.
    static func classify(_ error: any Error) -> RetryPolicy.Failure {
        if let error = error as? HTTPClientError {
            if error == .readTimeout || error == .deadlineExceeded { return .timeout }
            return .connect
        }
        // NIO connect errors (refused, unreachable, reset before the head) and anything else before the head.
        return .connect
    }

    static func label(_ failure: RetryPolicy.Failure) -> String {
        switch failure {
        case .connect: "connect"
        case .timeout: "timeout"
        case .status(let code): "status_\(code)"
        case .other: "other"
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
