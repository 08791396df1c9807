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

    init(configuration: RouterConfiguration) {
        func client(read: Duration) -> HTTPClient {
            var settings = HTTPClient.Configuration()
            settings.timeout = .init(connect: .init(configuration.connectTimeout), read: .init(read))
            settings.redirectConfiguration = .disallow
            settings.decompression = .disabled
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

    /// GETs `replica` + `path`, reading at most 1 MiB of body.
    func get(_ replica: ReplicaID, path: String, timeout: Duration) async throws -> (status: Int, body: ByteBuffer) {
        let request = HTTPClientRequest(url: replica.rawValue + path)
        let response = try await unary.execute(request, timeout: .init(timeout))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), body)
    }

    /// Asks a replica which models it serves.
    /// - Throws: `RouterError` (`discoveryFailed`) naming the replica and what went wrong.
    func discoverModels(_ replica: ReplicaID, timeout: Duration) async throws -> [PoolModel] {
        let answer: (status: Int, body: ByteBuffer)
        do {
            answer = try await get(replica, path: "/v1/models", timeout: timeout)
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
