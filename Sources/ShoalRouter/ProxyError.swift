internal import Foundation
internal import Hummingbird
internal import Logging
internal import NIOCore
internal import ShoalAPI

/// An error the router answers itself, rendered as OpenAI's error body.
struct ProxyError: Error, CustomStringConvertible {
    var status: Int
    var type: String
    var code: String
    var message: String
    var retryAfter: Int?
    /// The methods the path takes (the `Allow` header of a 405).
    var allow: String?

    var description: String { message }

    static func invalid(_ message: String) -> ProxyError {
        ProxyError(status: 400, type: "invalid_request_error", code: "invalid_request", message: message)
    }

    static func methodNotAllowed(_ path: String, allowed: String) -> ProxyError {
        ProxyError(status: 405, type: "invalid_request_error", code: "method_not_allowed",
                   message: "\(path) takes \(allowed) only", allow: allowed)
    }

    static func unavailable(_ message: String) -> ProxyError {
        ProxyError(status: 503, type: "service_unavailable_error", code: "no_healthy_replica", message: message,
                   retryAfter: 1)
    }

    var body: ErrorResponse {
        ErrorResponse(error: .init(message: message, type: type, param: nil, code: code))
    }

    /// The error as one server-sent event (for failures after the stream started).
    var event: String {
        (try? ServerSentEvents.event(body)) ?? ServerSentEvents.event(data: #"{"error":{}}"#)
    }

    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if let allow { headers[.allow] = allow }
        let data = (try? ServerSentEvents.makeEncoder().encode(body)) ?? Data()
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Renders every error as an OpenAI error body; unexpected ones are logged through the request's logger.
struct RouterErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The methods each known path takes: another method on it is a 405, not a 404.
    let methods: [String: String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ProxyError {
            return error.response
        } catch let error as APIError {
            return ProxyError(status: error.status, type: error.code.type, code: error.code.name,
                              message: error.message, retryAfter: error.retryAfterSeconds).response
        } catch let error as RouterError {
            // Membership and configuration problems reach HTTP only through the admin API: the caller's input.
            return ProxyError(status: error.code == .unknownReplica ? 404 : 400, type: "invalid_request_error",
                              code: error.code.name, message: error.message).response
        } catch let error as HTTPError where error.status == .notFound {
            if let allowed = methods[request.uri.path] {
                return ProxyError.methodNotAllowed(request.uri.path, allowed: allowed).response
            }
            return ProxyError(status: 404, type: "invalid_request_error", code: "not_found",
                              message: "Not found: \(request.method) \(request.uri.path)").response
        } catch is NIOTooManyBytesError {
            return ProxyError(status: 413, type: "invalid_request_error", code: "request_too_large",
                              message: "The request body is too large").response
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.error("router error", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return ProxyError(status: 500, type: "server_error", code: "internal_error",
                              message: "Internal router error: \(error)").response
        }
    }
}
