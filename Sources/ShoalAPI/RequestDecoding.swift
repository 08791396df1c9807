public import Foundation

/// Decodes request bodies, turning `DecodingError`s into 400s that name the OpenAI parameter.
public enum RequestDecoding {
    /// Decodes a JSON request body.
    /// - Throws: `APIError` (400) naming the parameter whose value was missing or of the wrong type, or saying
    ///   that the body is not a JSON object.
    public static func decode<Request: Decodable>(_ type: Request.Type, from data: Data) throws(APIError) -> Request {
        guard !data.isEmpty else {
            throw APIError(.invalidRequest, "The request body is empty; expected a JSON object")
        }
        if let offset = invalidUTF8Offset(data) {
            throw APIError(.invalidRequest, "The request body is not valid UTF-8 (at byte \(offset)); JSON must be UTF-8")
        }
        if let (param, message) = RawJSONMembers.firstProblem(in: data) {
            throw .invalid(param, message)
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw apiError(for: error)
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(.invalidRequest, "The request body could not be decoded: \(error)")
        }
    }

    /// The offset of the first byte that is not part of valid UTF-8, or nil.
    static func invalidUTF8Offset(_ data: Data) -> Int? {
        var iterator = data.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// The 400 for a decoding failure, naming the parameter by its JSON path (`messages[0].content`).
    public static func apiError(for error: DecodingError) -> APIError {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            guard let param = path(context.codingPath) else {
                return APIError(.invalidRequest, "The request body must be a JSON object")
            }
            return .invalid(param, "Invalid type for '\(param)': \(describe(context))")
        case .keyNotFound(let key, let context):
            let param = path(context.codingPath + [key]) ?? key.stringValue
            return .invalid(param, "Missing required parameter '\(param)'")
        case .dataCorrupted(let context):
            if let param = path(context.codingPath) {
                return .invalid(param, "Invalid value for '\(param)': \(describe(context))")
            }
            return APIError(.invalidRequest, "The request body is not valid JSON: \(describe(context))")
        @unknown default:
            return APIError(.invalidRequest, "The request body could not be decoded: \(error)")
        }
    }

    /// `a.b[0].c` for a coding path, or nil for the top level.
    static func path(_ codingPath: [any CodingKey]) -> String? {
        var text = ""
        for key in codingPath {
            // Array positions have an int value and a string value of "Index N"; dictionary keys like "1"
            // (logit_bias) may have an int value too but keep their text.
            if let index = key.intValue, key.stringValue != String(index) {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text.isEmpty ? nil : text
    }

    private static func describe(_ context: DecodingError.Context) -> String {
        var text = context.debugDescription
        if let underlying = context.underlyingError {
            text += " (\(underlying.localizedDescription))"
        }
        return text
    }
}
