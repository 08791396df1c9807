/// One message of `/v1/chat/completions`' `messages`.
public struct ChatMessage: Codable, Sendable, Equatable {
    /// `system`, `user`, `assistant` or `tool`.
    public var role: String
    public var content: ChatMessageContent?
    public var name: String?
    /// An assistant's earlier tool calls, passed to the chat template as given.
    public var toolCalls: JSONValue?
    /// The call a `tool` message answers.
    public var toolCallID: String?

    public init(role: String, content: ChatMessageContent?, name: String? = nil, toolCalls: JSONValue? = nil,
                toolCallID: String? = nil) {
        self.role = role
        self.content = content
        self.name = name
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
    }

    /// A message with plain text content.
    public init(role: String, _ text: String) {
        self.init(role: role, content: .text(text))
    }

    enum CodingKeys: String, CodingKey {
        case role, content, name
        case toolCalls = "tool_calls"
        case toolCallID = "tool_call_id"
    }

    /// Decodes the message; `tool_calls`, passed to the template as given, must at least be an array of objects.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        role = try c.decode(String.self, forKey: .role)
        content = try c.decodeIfPresent(ChatMessageContent.self, forKey: .content)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        toolCallID = try c.decodeIfPresent(String.self, forKey: .toolCallID)
        toolCalls = try c.decodeIfPresent(JSONValue.self, forKey: .toolCalls)
        switch toolCalls {
        case nil, .null?:
            toolCalls = nil
        case .array(let calls)? where calls.allSatisfy({ if case .object = $0 { true } else { false } }):
            break
        default:
            throw DecodingError.typeMismatch([JSONValue].self, .init(
                codingPath: c.codingPath + [CodingKeys.toolCalls],
                debugDescription: "expected an array of tool call objects"))
        }
    }
}

/// A message's `content`: a string or an array of content parts.
public enum ChatMessageContent: Codable, Sendable, Equatable {
    case text(String)
    case parts([ChatContentPart])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .text(text)
        } else if let parts = try? container.decode([ChatContentPart].self) {
            self = .parts(parts)
        } else {
            throw DecodingError.typeMismatch(ChatMessageContent.self, .init(
                codingPath: decoder.codingPath,
                debugDescription: "expected a string or an array of content parts ({\"type\": \"text\", \"text\": ...})"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .parts(let parts): try container.encode(parts)
        }
    }
}

/// One content part. Only `{"type": "text", "text": ...}` can be served; other types are decoded so the
/// server can name them in its error.
public struct ChatContentPart: Codable, Sendable, Equatable {
    public var type: String
    public var text: String?

    public init(type: String = "text", text: String?) {
        self.type = type
        self.text = text
    }
}
