internal import Foundation

/// A request the API refuses, with the HTTP status and OpenAI error body it maps to.
///
/// Every error the server sends goes through this type, so status, `type` and `code` are chosen in one place.
public struct APIError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, which fixes the HTTP status, OpenAI's `type` and the default `code`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public let status: Int
        public let type: String
        public var description: String { name }

        /// Malformed JSON, a missing or invalid parameter (400).
        public static let invalidRequest = Code(name: "invalid_request", status: 400, type: "invalid_request_error")
        /// Prompt plus completion longer than the model's context (400).
        public static let contextLengthExceeded = Code(
            name: "context_length_exceeded", status: 400, type: "invalid_request_error")
        /// A feature the server does not offer yet (`tools`, `response_format`: json) (400).
        public static let unsupported = Code(name: "unsupported_parameter", status: 400, type: "invalid_request_error")
        /// Missing or wrong API key (401).
        public static let invalidAPIKey = Code(name: "invalid_api_key", status: 401, type: "invalid_request_error")
        /// No such route (404).
        public static let notFound = Code(name: "not_found", status: 404, type: "invalid_request_error")
        /// The route exists, the method does not (405).
        public static let methodNotAllowed = Code(name: "method_not_allowed", status: 405, type: "invalid_request_error")
        /// The `model` is not served here (404).
        public static let modelNotFound = Code(name: "model_not_found", status: 404, type: "invalid_request_error")
        /// The body is larger than the server accepts (413).
        public static let requestTooLarge = Code(name: "request_too_large", status: 413, type: "invalid_request_error")
        /// The waiting queue is full (429, with Retry-After).
        public static let queueFull = Code(name: "queue_full", status: 429, type: "rate_limit_error")
        /// The server is loading or draining (503, with Retry-After).
        public static let unavailable = Code(name: "service_unavailable", status: 503, type: "service_unavailable_error")
        /// Anything else (500).
        public static let internalError = Code(name: "internal_error", status: 500, type: "server_error")
    }

    public var code: Code
    public var message: String
    /// The OpenAI parameter that was wrong (`max_tokens`, `messages[0].content`), if one was.
    public var param: String?
    /// Seconds a client should wait before retrying (429 and 503).
    public var retryAfterSeconds: Int?

    public init(_ code: Code, _ message: String, param: String? = nil, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.message = message
        self.param = param
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// The HTTP status code.
    public var status: Int { code.status }
    public var description: String { message }

    /// The JSON body OpenAI clients expect: `{"error": {"message", "type", "param", "code"}}`.
    public var body: ErrorResponse {
        ErrorResponse(error: .init(message: message, type: code.type, param: param, code: code.name))
    }

    /// Shorthand for a 400 naming `param`.
    public static func invalid(_ param: String, _ message: String) -> APIError {
        APIError(.invalidRequest, message, param: param)
    }
}

/// OpenAI's error body: `{"error": {"message": ..., "type": ..., "param": ..., "code": ...}}`.
public struct ErrorResponse: Codable, Sendable, Equatable {
    public struct Detail: Codable, Sendable, Equatable {
        public var message: String
        public var type: String
        public var param: String?
        public var code: String?

        public init(message: String, type: String, param: String?, code: String?) {
            self.message = message
            self.type = type
            self.param = param
            self.code = code
        }

        enum CodingKeys: String, CodingKey { case message, type, param, code }

        /// Lenient, for clients of other servers: `type` may be missing and `code` may be a number (llama.cpp, vLLM).
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            message = try c.decode(String.self, forKey: .message)
            type = try c.decodeIfPresent(String.self, forKey: .type) ?? ""
            param = try? c.decodeIfPresent(String.self, forKey: .param)
            if let text = try? c.decodeIfPresent(String.self, forKey: .code) {
                code = text
            } else if let number = try? c.decodeIfPresent(Int.self, forKey: .code) {
                code = String(number)
            } else {
                code = nil
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(message, forKey: .message)
            try c.encode(type, forKey: .type)
            try c.encode(param, forKey: .param)
            try c.encode(code, forKey: .code)
        }
    }

    public var error: Detail

    public init(error: Detail) {
        self.error = error
    }
}
