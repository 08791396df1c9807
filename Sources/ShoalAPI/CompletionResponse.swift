/// The body of a `/v1/completions` response, and (with `object` "text_completion" too) each streamed chunk.
public struct CompletionResponse: Codable, Sendable, Equatable {
    /// `cmpl-...`.
    public var id: String
    /// Always "text_completion".
    public var object: String
    /// Unix seconds.
    public var created: Int
    public var model: String
    public var choices: [CompletionChoice]
    /// Always present on a whole response; on chunks only the last one (with `include_usage`) has it.
    public var usage: Usage?
    /// On a chunk: whether `usage` is written (as `null` when nil). Whole responses always write it.
    public var writesUsage: Bool

    public init(id: String, created: Int, model: String, choices: [CompletionChoice], usage: Usage?,
                writesUsage: Bool = true) {
        self.id = id
        object = "text_completion"
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
        self.writesUsage = writesUsage
    }

    enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        object = try c.decode(String.self, forKey: .object)
        created = try c.decode(Int.self, forKey: .created)
        model = try c.decode(String.self, forKey: .model)
        choices = try c.decode([CompletionChoice].self, forKey: .choices)
        usage = try c.decodeIfPresent(Usage.self, forKey: .usage)
        writesUsage = c.contains(.usage)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(object, forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
        try c.encode(choices, forKey: .choices)
        if writesUsage || usage != nil { try c.encode(usage, forKey: .usage) }
    }
}

/// One choice of a completion (or one choice's piece of a streamed chunk).
public struct CompletionChoice: Codable, Sendable, Equatable {
    /// `promptIndex * n + i`.
    public var index: Int
    public var text: String
    public var logprobs: CompletionLogprobs?
    /// "stop" or "length"; null until the choice ends.
    public var finishReason: String?
    /// With `return_token_ids`: the prompt's ids (whole responses and the first chunk of each choice).
    public var promptTokenIDs: [Int32]?
    /// With `return_token_ids`: the generated ids (of this chunk, when streaming), the stop token that ended the
    /// choice included, as vLLM has it: together they are as many as `usage.completion_tokens`.
    public var tokenIDs: [Int32]?

    public init(index: Int, text: String, logprobs: CompletionLogprobs? = nil, finishReason: String? = nil,
                promptTokenIDs: [Int32]? = nil, tokenIDs: [Int32]? = nil) {
        self.index = index
        self.text = text
        self.logprobs = logprobs
        self.finishReason = finishReason
        self.promptTokenIDs = promptTokenIDs
        self.tokenIDs = tokenIDs
    }

    enum CodingKeys: String, CodingKey {
        case index, text, logprobs
        case finishReason = "finish_reason"
        case promptTokenIDs = "prompt_token_ids"
        case tokenIDs = "token_ids"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(text, forKey: .text)
        try c.encode(logprobs, forKey: .logprobs)
        try c.encode(finishReason, forKey: .finishReason)
        try c.encodeIfPresent(promptTokenIDs, forKey: .promptTokenIDs)
        try c.encodeIfPresent(tokenIDs, forKey: .tokenIDs)
    }
}

/// The completions API's `logprobs` object: parallel arrays, one entry per token.
public struct CompletionLogprobs: Codable, Sendable, Equatable {
    /// Character (Unicode scalar) offset of each token in the choice's text.
    public var textOffset: [Int]
    /// The chosen token's log-probability; null for echoed prompt tokens.
    public var tokenLogprobs: [Float?]
    public var tokens: [String]
    /// Most likely tokens and their log-probabilities, most likely first; null for echoed prompt tokens.
    public var topLogprobs: [OrderedLogprobs?]

    public init(textOffset: [Int] = [], tokenLogprobs: [Float?] = [], tokens: [String] = [],
                topLogprobs: [OrderedLogprobs?] = []) {
        self.textOffset = textOffset
        self.tokenLogprobs = tokenLogprobs
        self.tokens = tokens
        self.topLogprobs = topLogprobs
    }

    enum CodingKeys: String, CodingKey {
        case textOffset = "text_offset"
        case tokenLogprobs = "token_logprobs"
        case tokens
        case topLogprobs = "top_logprobs"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(textOffset, forKey: .textOffset)
        var logprobs = c.nestedUnkeyedContainer(forKey: .tokenLogprobs)
        for value in tokenLogprobs {
            if let value { try logprobs.encode(value) } else { try logprobs.encodeNil() }
        }
        try c.encode(tokens, forKey: .tokens)
        var top = c.nestedUnkeyedContainer(forKey: .topLogprobs)
        for value in topLogprobs {
            if let value { try top.encode(value) } else { try top.encodeNil() }
        }
    }
}

/// A `{token: logprob}` object. Entries are kept most likely first; JSON objects have no order, and Foundation
/// does not keep it when encoding, so clients must not rely on key order (OpenAI's do not).
public struct OrderedLogprobs: Codable, Sendable, Equatable {
    public var entries: [(token: String, logprob: Float)]

    public init(_ entries: [(token: String, logprob: Float)]) {
        self.entries = entries
    }

    public static func == (lhs: OrderedLogprobs, rhs: OrderedLogprobs) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.token == $1.token && $0.logprob == $1.logprob }
    }

    /// The log-probability recorded for `token`.
    public subscript(token: String) -> Float? {
        entries.first { $0.token == token }?.logprob
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        entries = try c.allKeys.map { (token: $0.stringValue, logprob: try c.decode(Float.self, forKey: $0)) }
            .sorted { $0.logprob > $1.logprob }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        var seen = Set<String>()
        for entry in entries where seen.insert(entry.token).inserted {
            try c.encode(entry.logprob, forKey: Key(stringValue: entry.token))
        }
    }
}
