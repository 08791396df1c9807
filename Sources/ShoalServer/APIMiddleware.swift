internal import Hummingbird
internal import Logging
internal import NIOCore
internal import ShoalAPI

/// Turns every error into OpenAI's error body with the right status, so no handler has to: `APIError`s as
/// they are, unknown routes as 404 (405 for a known path with the wrong method), oversized bodies as 413,
/// anything unexpected as 500.
/// Failures are logged through the request's logger (with its `request_id`).
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The method each known path takes: another method on it is a 405 with this `Allow`, not a 404.
    let methods: [String: String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            if error.code == .internalError {
                context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error.message)"])
            }
            return ServerContext.errorResponse(error)
        } catch let error as HTTPError where error.status == .notFound {
            let path = request.uri.path
            if let allowed = methods[path] {
                var response = ServerContext.errorResponse(APIError(.methodNotAllowed,
                    "Method \(request.method) is not allowed for \(path)"))
                response.headers[.allow] = allowed
                return response
            }
            return ServerContext.errorResponse(APIError(.notFound, "Not found: \(request.method) \(path)"))
        } catch is NIOTooManyBytesError {
            return ServerContext.errorResponse(APIError(.requestTooLarge, "The request body is too large"))
        } catch let error as any HTTPResponseError {
            return ServerContext.errorResponse(APIError(
                error.status.code >= 500 ? .internalError : .invalidRequest, "\(error)"))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.error("unexpected error", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return ServerContext.errorResponse(APIError(.internalError, "Internal server error: \(error)"))
        }
    }
}

/// Requires `Authorization: Bearer <key>` with one of the configured keys, except on the open paths
/// (`/health`, `/metrics`, `/version`), which probes and scrapers call without one.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let keys: APIKeySet
    let openPaths: Set<String>

    init(keys: [String], openPaths: Set<String>) {
        self.keys = APIKeySet(keys)
        self.openPaths = openPaths
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !keys.isEmpty, !openPaths.contains(request.uri.path) else {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization] else {
            throw APIError(.invalidAPIKey, "Missing API key: send it as `Authorization: Bearer <key>`")
        }
        let prefix = "bearer "
        guard header.count > prefix.count, header.prefix(prefix.count).lowercased() == prefix else {
            throw APIError(.invalidAPIKey, "The Authorization header must be `Bearer <key>`")
        }
        guard keys.contains(header.dropFirst(prefix.count).utf8) else {
            throw APIError(.invalidAPIKey, "Incorrect API key provided")
        }
        return try await next(request, context)
    }
}
