public import Hummingbird
public import HTTPTypes
internal import Logging

/// The id that follows one request through the router's, the server's and the engine's logs: the client's
/// `x-request-id` when it sent a usable one, else a new one. The router passes it to the replica in the same
/// header, every answer carries it back, and every log line about the request has it as `request_id`.
public enum RequestID {
    public static let header = HTTPField.Name("x-request-id")!
    /// The key of the id in a request logger's metadata.
    public static let metadataKey = "request_id"
    /// Longest client id taken as it is.
    static let maxLength = 128

    /// `value` when it is 1 to 128 visible ASCII characters (no spaces or control characters, which would
    /// break a log line), else nil.
    public static func accepted(_ value: String?) -> String? {
        guard let value, !value.isEmpty, value.utf8.count <= maxLength,
              value.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
        return value
    }

    /// A new id: 32 hexadecimal digits from the system's random source.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = String(generator.next() as UInt64, radix: 16)
        let low = String(generator.next() as UInt64, radix: 16)
        return String(repeating: "0", count: 16 - high.count) + high + String(repeating: "0", count: 16 - low.count) + low
    }
}

/// A request context that carries the request's id.
public protocol RequestIDContext: RequestContext {
    var requestID: String { get set }
}

/// Gives each request its id (`RequestID`): in the context, as `request_id` in the context's logger, and in the
/// response's `x-request-id` header. Add it first, so that the error middleware's answers carry the header too.
public struct RequestIDMiddleware<Context: RequestIDContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context,
                       next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let id = RequestID.accepted(request.headers[RequestID.header]) ?? RequestID.generate()
        context.requestID = id
        context.logger[metadataKey: RequestID.metadataKey] = .string(id)
        var response = try await next(request, context)
        response.headers[RequestID.header] = id
        return response
    }
}
