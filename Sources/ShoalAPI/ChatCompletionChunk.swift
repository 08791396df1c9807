/// One streamed piece of a chat completion (`object` "chat.completion.chunk").
public struct ChatCompletionChunk: Codable, Sendable, Equatable {
    public var id: String
    public var object: String
    public var created: Int
    public var model: String
    /// Usually one choice; empty on the final usage chunk.
    public var choices: [ChatChunkChoice]
    /// Only on the final chunk, when `stream_options.include_usage` is set.
    public var usage: Usage?
    /// Whether `usage` is written (as `null` when nil): true when the request set `include_usage`.
    public var writesUsage: Bool
    /// With `return_token_ids`: the prompt's ids, on the first chunk.
    public var promptTokenIDs: [Int32]?

    public init(id: String, created: Int, model: String, choices: [ChatChunkChoice], usage: Usage? = nil,
                writesUsage: Bool = false, promptTokenIDs: [Int32]? = nil) {
        self.id = id
        object = "chat.completion.chunk"
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
        self.writesUsage = writesUsage
        self.promptTokenIDs = promptTokenIDs
    }

    enum CodingKeys: String, CodingKey {
        case id, object, created, model, choices, usage
        case promptTokenIDs = "prompt_token_ids"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        object = try c.decode(String.self, forKey: .object)
        created = try c.decode(Int.self, forKey: .created)
        model = try c.decode(String.self, forKey: .model)
        choices = try c.decode([ChatChunkChoice].self, forKey: .choices)
        usage = try c.decodeIfPresent(Usage.self, forKey: .usage)
        writesUsage = c.contains(.usage)
        promptTokenIDs = try c.decodeIfPresent([Int32].self, forKey: .promptTokenIDs)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(object, forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
        try c.encode(choices, forKey: .choices)
        if writesUsage || usage != nil { try c.encode(usage, forKey: .usage) }
        try c.encodeIfPresent(promptTokenIDs, forKey: .promptTokenIDs)
    }
}

/// One choice's piece of a chat chunk.
public struct ChatChunkChoice: Codable, Sendable, Equatable {
    public var index: Int
    public var delta: ChatDelta
    public var logprobs: ChatLogprobs?
    /// Set on the choice's last chunk only.
    public var finishReason: String?
    /// With `return_token_ids`: the ids generated in this chunk (the last chunk of a choice also carries the stop
    /// token that ended it, which has no text).
    public var tokenIDs: [Int32]?

    public init(index: Int, delta: ChatDelta, logprobs: ChatLogprobs? = nil, finishReason: String? = nil,
                tokenIDs: [Int32]? = nil) {
        self.index = index
        self.delta = delta
        self.logprobs = logprobs
        self.finishReason = finishReason
        self.tokenIDs = tokenIDs
    }

    enum CodingKeys: String, CodingKey {
        case index, delta, logprobs
        case finishReason = "finish_reason"
        case tokenIDs = "token_ids"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(delta, forKey: .delta)
        try c.encode(logprobs, forKey: .logprobs)
        try c.encode(finishReason, forKey: .finishReason)
        try c.encodeIfPresent(tokenIDs, forKey: .tokenIDs)
    }
}

/// What a chunk adds to the message: the role (first chunk), then content.
public struct ChatDelta: Codable, Sendable, Equatable {
    public var role: String?
    public var content: String?
    public var toolCalls: [ChatToolCallDelta]?

    public init(role: String? = nil, content: String? = nil, toolCalls: [ChatToolCallDelta]? = nil) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
    }

    enum CodingKeys: String, CodingKey {
        case role, content
        case toolCalls = "tool_calls"
    }
}

/// A fragment of a streamed call (`delta.tool_calls[i]`): the first carries id, type and name, the rest pieces of
/// the arguments; joined by `index` they make the call.
public struct ChatToolCallDelta: Codable, Sendable, Equatable {
    public var index: Int
    public var id: String?
    public var type: String?
    public var function: Function

    public struct Function: Codable, Sendable, Equatable {
        public var name: String?
        public var arguments: String?
    }

    public init(index: Int, id: String? = nil, name: String? = nil, arguments: String?) {
        self.index = index
        self.id = id
        type = id == nil ? nil : "function"
        function = Function(name: name, arguments: arguments)
    }
}
