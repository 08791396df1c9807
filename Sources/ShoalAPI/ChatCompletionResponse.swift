/// The body of a non-streamed `/v1/chat/completions` response.
public struct ChatCompletionResponse: Codable, Sendable, Equatable {
    /// `chatcmpl-...`.
    public var id: String
    /// Always "chat.completion".
    public var object: String
    public var created: Int
    public var model: String
    public var choices: [ChatChoice]
    public var usage: Usage
    /// With `return_token_ids`: the rendered prompt's ids.
    public var promptTokenIDs: [Int32]?

    public init(id: String, created: Int, model: String, choices: [ChatChoice], usage: Usage,
                promptTokenIDs: [Int32]? = nil) {
        self.id = id
        object = "chat.completion"
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
        self.promptTokenIDs = promptTokenIDs
    }

    enum CodingKeys: String, CodingKey {
        case id, object, created, model, choices, usage
        case promptTokenIDs = "prompt_token_ids"
    }
}

/// One choice of a chat completion.
public struct ChatChoice: Codable, Sendable, Equatable {
    public var index: Int
    public var message: ChatResponseMessage
    public var logprobs: ChatLogprobs?
    public var finishReason: String?
    /// With `return_token_ids`: the generated ids, the stop token that ended the choice included.
    public var tokenIDs: [Int32]?

    public init(index: Int, message: ChatResponseMessage, logprobs: ChatLogprobs? = nil, finishReason: String?,
                tokenIDs: [Int32]? = nil) {
        self.index = index
        self.message = message
        self.logprobs = logprobs
        self.finishReason = finishReason
        self.tokenIDs = tokenIDs
    }

    enum CodingKeys: String, CodingKey {
        case index, message, logprobs
        case finishReason = "finish_reason"
        case tokenIDs = "token_ids"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(message, forKey: .message)
        try c.encode(logprobs, forKey: .logprobs)
        try c.encode(finishReason, forKey: .finishReason)
        try c.encodeIfPresent(tokenIDs, forKey: .tokenIDs)
    }
}

/// The assistant's reply in a chat choice.
public struct ChatResponseMessage: Codable, Sendable, Equatable {
    public var role: String
    public var content: String?
    /// The calls the model made (content is then null).
    public var toolCalls: [ChatToolCall]?

    public init(role: String = "assistant", content: String?, toolCalls: [ChatToolCall]? = nil) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
    }

    enum CodingKeys: String, CodingKey {
        case role, content
        case toolCalls = "tool_calls"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(role, forKey: .role)
        try c.encode(content, forKey: .content)
        try c.encodeIfPresent(toolCalls, forKey: .toolCalls)
    }
}

/// One call in `message.tool_calls`.
public struct ChatToolCall: Codable, Sendable, Equatable {
    public var id: String
    public var type: String
    public var function: Function

    public struct Function: Codable, Sendable, Equatable {
        public var name: String
        /// The arguments as JSON text.
        public var arguments: String
    }

    public init(id: String, name: String, arguments: String) {
        self.id = id
        type = "function"
        function = Function(name: name, arguments: arguments)
    }
}

/// The chat API's `logprobs`: `{"content": [...]}`.
public struct ChatLogprobs: Codable, Sendable, Equatable {
    public var content: [ChatTokenLogprob]

    public init(content: [ChatTokenLogprob]) {
        self.content = content
    }
}

/// One output token's log-probability with its alternatives.
public struct ChatTokenLogprob: Codable, Sendable, Equatable {
    public var token: String
    public var logprob: Float
    /// The token's UTF-8 bytes.
    public var bytes: [UInt8]?
    /// As many alternatives as `top_logprobs` asked for, most likely first.
    public var topLogprobs: [ChatTopLogprob]

    public init(token: String, logprob: Float, bytes: [UInt8]?, topLogprobs: [ChatTopLogprob]) {
        self.token = token
        self.logprob = logprob
        self.bytes = bytes
        self.topLogprobs = topLogprobs
    }

    enum CodingKeys: String, CodingKey {
        case token, logprob, bytes
        case topLogprobs = "top_logprobs"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(token, forKey: .token)
        try c.encode(logprob, forKey: .logprob)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(topLogprobs, forKey: .topLogprobs)
    }
}

/// An alternative token at one position.
public struct ChatTopLogprob: Codable, Sendable, Equatable {
    public var token: String
    public var logprob: Float
    public var bytes: [UInt8]?

    public init(token: String, logprob: Float, bytes: [UInt8]?) {
        self.token = token
        self.logprob = logprob
        self.bytes = bytes
    }

    enum CodingKeys: String, CodingKey { case token, logprob, bytes }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(token, forKey: .token)
        try c.encode(logprob, forKey: .logprob)
        try c.encode(bytes, forKey: .bytes)
    }
}
