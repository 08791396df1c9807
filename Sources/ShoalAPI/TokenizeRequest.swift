/// `POST /tokenize` (vLLM's shape): either `prompt` or chat `messages`.
public struct TokenizeRequest: Codable, Sendable, Equatable {
    public var model: String?
    public var prompt: String?
    public var messages: [ChatMessage]?
    /// Add BOS where the model asks for it. Default: true for `prompt`, false for `messages` (the template adds it).
    public var addSpecialTokens: Bool?
    /// For `messages`: end with the assistant header (default true).
    public var addGenerationPrompt: Bool?
    /// Also return each token's vocabulary string.
    public var returnTokenStrs: Bool?

    public init(model: String? = nil, prompt: String? = nil, messages: [ChatMessage]? = nil,
                addSpecialTokens: Bool? = nil, addGenerationPrompt: Bool? = nil, returnTokenStrs: Bool? = nil) {
        self.model = model
        self.prompt = prompt
        self.messages = messages
        self.addSpecialTokens = addSpecialTokens
        self.addGenerationPrompt = addGenerationPrompt
        self.returnTokenStrs = returnTokenStrs
    }

    enum CodingKeys: String, CodingKey {
        case model, prompt, messages
        case addSpecialTokens = "add_special_tokens"
        case addGenerationPrompt = "add_generation_prompt"
        case returnTokenStrs = "return_token_strs"
    }
}

/// The answer to `/tokenize`.
public struct TokenizeResponse: Codable, Sendable, Equatable {
    public var count: Int
    public var maxModelLen: Int
    public var tokens: [Int32]
    public var tokenStrs: [String]?

    public init(count: Int, maxModelLen: Int, tokens: [Int32], tokenStrs: [String]? = nil) {
        self.count = count
        self.maxModelLen = maxModelLen
        self.tokens = tokens
        self.tokenStrs = tokenStrs
    }

    enum CodingKeys: String, CodingKey {
        case count, tokens
        case maxModelLen = "max_model_len"
        case tokenStrs = "token_strs"
    }
}

/// `POST /detokenize`.
public struct DetokenizeRequest: Codable, Sendable, Equatable {
    public var model: String?
    public var tokens: [Int32]

    public init(model: String? = nil, tokens: [Int32]) {
        self.model = model
        self.tokens = tokens
    }
}

/// The answer to `/detokenize`.
public struct DetokenizeResponse: Codable, Sendable, Equatable {
    public var prompt: String

    public init(prompt: String) {
        self.prompt = prompt
    }
}
