internal import Foundation
internal import Hummingbird
internal import Logging
internal import NIOCore
internal import ShoalAPI

/// What every handler needs: the served state, configuration, metrics and a logger.
struct ServerContext: Sendable {
    let state: ServerState
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let logger: Logger

    var retryAfter: Int { configuration.retryAfterSeconds }

    /// A JSON response.
    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        let data = try ServerSentEvents.makeEncoder().encode(value)
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The OpenAI error response for `error`, with `Retry-After` when it carries one.
    static func errorResponse(_ error: APIError) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retry = error.retryAfterSeconds { headers[.retryAfter] = String(retry) }
        let data = (try? ServerSentEvents.makeEncoder().encode(error.body)) ?? Data(#"{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}"#.utf8)
        return Response(status: .init(code: error.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Reads the whole body, refusing more than `maxBodyBytes` (413).
    func readBody(_ request: inout Request) async throws(APIError) -> Data {
        let limit = configuration.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw tooLarge(limit)
        }
        do {
            let buffer = try await request.collectBody(upTo: limit)
            return Data(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw tooLarge(limit)
        } catch {
            throw APIError(.invalidRequest, "The request body could not be read: \(error)")
        }
    }

    private func tooLarge(_ limit: Int) -> APIError {
        APIError(.requestTooLarge, "The request body is larger than the server accepts (\(limit) bytes)")
    }

    /// A new response id: `prefix` and 32 random hex digits.
    static func makeID(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return prefix + hex(high) + hex(low)
    }

    private static func hex(_ value: UInt64) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }

    static var unixTime: Int { Int(Date().timeIntervalSince1970) }

    /// Headers of a server-sent event stream.
    static let eventStreamHeaders: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
}
