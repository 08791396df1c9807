public import Foundation

/// OpenAI-style chat messages turned into what chat templates expect.
public enum ChatMessages {
    /// Parses a JSON array of `{role, content, ...}` messages.
    ///
    /// `content` may be a string, null, or an array of parts (`{"type": "text", "text": ...}`), which is
    /// joined into one string since the templates Shoal runs expect text. Other fields (`name`,
    /// `tool_calls`, …) pass through unchanged.
    /// - Throws: `ChatTemplateError(.runtime)` naming the message and field that is wrong.
    public static func parse(_ json: Data) throws -> [TemplateValue] {
        let value = try TemplateValue(jsonData: json)
        guard case .array(let items) = value else {
            throw ChatTemplateError(.runtime, "messages must be a JSON array")
        }
        return try normalize(items)
    }

    /// The roles a message may have (OpenAI's; `function` is its deprecated name for `tool`).
    public static let roles = ["system", "developer", "user", "assistant", "tool", "function"]

    /// Checks and normalizes already-parsed messages (see `parse`).
    public static func normalize(_ items: [TemplateValue]) throws -> [TemplateValue] {
        try items.enumerated().map { index, item in
            guard case .object(let pairs) = item else {
                throw ChatTemplateError(.runtime, "messages[\(index)] must be an object")
            }
            guard let role = item["role"]?.stringValue else {
                throw ChatTemplateError(.runtime, "messages[\(index)].role must be a string")
            }
            guard roles.contains(role) else {
                throw ChatTemplateError(.runtime, "messages[\(index)].role '\(role)' is not one of \(roles.joined(separator: ", "))")
            }
            return .object(try pairs.map { pair in
                guard pair.key == "content" else { return pair }
                return (key: "content", value: try text(of: pair.value, index: index))
            })
        }
    }

    private static func text(of content: TemplateValue, index: Int) throws -> TemplateValue {
        switch content {
        case .string, .null:
            return content
        case .array(let parts):
            var text = ""
            for (p, part) in parts.enumerated() {
                if case .string(let s) = part {
                    text += s
                    continue
                }
                guard part["type"]?.stringValue == "text", let s = part["text"]?.stringValue else {
                    throw ChatTemplateError(.runtime,
                        "messages[\(index)].content[\(p)] must be a text part ({\"type\": \"text\", \"text\": ...})")
                }
                text += s
            }
            return .string(text)
        default:
            throw ChatTemplateError(.runtime, "messages[\(index)].content must be a string or an array of text parts")
        }
    }
}
