/// The body of `POST /v1/chat/completions`.
public struct ChatCompletionRequest: Codable, Sendable, Equatable {
    public var model: String?
    public var messages: [ChatMessage]
    /// Deprecated by OpenAI in favour of `maxCompletionTokens`; either works. Default: the rest of the context.
    public var maxTokens: Int?
    public var maxCompletionTokens: Int?
    public var temperature: Double?
    public var topP: Double?
    public var topK: Int?
    public var minP: Double?
    public var n: Int?
    public var stop: StopSequences?
    public var stopTokenIDs: [Int32]?
    public var seed: Int64?
    public var presencePenalty: Double?
    public var frequencyPenalty: Double?
    public var repetitionPenalty: Double?
    public var logitBias: [String: Double]?
    /// Return the log-probability of every output token.
    public var logprobs: Bool?
    /// With `logprobs`, also this many most likely alternatives per position (0...20).
    public var topLogprobs: Int?
    public var stream: Bool?
    public var streamOptions: StreamOptions?
    /// Only `{"type": "text"}` is served for now.
    public var responseFormat: JSONValue?
    /// Must be absent or empty for now.
    public var tools: JSONValue?
    /// Must be absent or `"none"` for now.
    public var toolChoice: JSONValue?
    public var ignoreEOS: Bool?
    public var user: String?
    public var priority: Int?
    public var returnTokenIDs: Bool?
    /// End the rendered prompt with the assistant header (default true; vLLM extension).
    public var addGenerationPrompt: Bool?

    public init(
        model: String? = nil, messages: [ChatMessage], maxTokens: Int? = nil, maxCompletionTokens: Int? = nil,
        temperature: Double? = nil, topP: Double? = nil, topK: Int? = nil, minP: Double? = nil, n: Int? = nil,
        stop: StopSequences? = nil, stopTokenIDs: [Int32]? = nil, seed: Int64? = nil,
        presencePenalty: Double? = nil, frequencyPenalty: Double? = nil, repetitionPenalty: Double? = nil,
        logitBias: [String: Double]? = nil, logprobs: Bool? = nil, topLogprobs: Int? = nil, stream: Bool? = nil,
        streamOptions: StreamOptions? = nil, responseFormat: JSONValue? = nil, tools: JSONValue? = nil,
        toolChoice: JSONValue? = nil, ignoreEOS: Bool? = nil, user: String? = nil, priority: Int? = nil,
        returnTokenIDs: Bool? = nil, addGenerationPrompt: Bool? = nil
    ) {
        self.model = model
        self.messages = messages
        self.maxTokens = maxTokens
        self.maxCompletionTokens = maxCompletionTokens
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.n = n
        self.stop = stop
        self.stopTokenIDs = stopTokenIDs
        self.seed = seed
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.repetitionPenalty = repetitionPenalty
        self.logitBias = logitBias
        self.logprobs = logprobs
        self.topLogprobs = topLogprobs
        self.stream = stream
        self.streamOptions = streamOptions
        self.responseFormat = responseFormat
        self.tools = tools
        self.toolChoice = toolChoice
        self.ignoreEOS = ignoreEOS
        self.user = user
        self.priority = priority
        self.returnTokenIDs = returnTokenIDs
        self.addGenerationPrompt = addGenerationPrompt
    }

    enum CodingKeys: String, CodingKey {
        case model, messages, temperature, n, stop, seed, logprobs, stream, tools, user, priority
        case maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens"
        case topP = "top_p"
        case topK = "top_k"
        case minP = "min_p"
        case stopTokenIDs = "stop_token_ids"
        case presencePenalty = "presence_penalty"
        case frequencyPenalty = "frequency_penalty"
        case repetitionPenalty = "repetition_penalty"
        case logitBias = "logit_bias"
        case topLogprobs = "top_logprobs"
        case streamOptions = "stream_options"
        case responseFormat = "response_format"
        case toolChoice = "tool_choice"
        case ignoreEOS = "ignore_eos"
        case returnTokenIDs = "return_token_ids"
        case addGenerationPrompt = "add_generation_prompt"
    }
}
