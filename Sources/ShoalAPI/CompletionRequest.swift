/// The body of `POST /v1/completions` (OpenAI's legacy completions plus vLLM's extensions).
public struct CompletionRequest: Codable, Sendable, Equatable {
    /// Which served model; may be left out when the server serves one.
    public var model: String?
    public var prompt: CompletionPrompt
    /// Defaults to 16, as OpenAI's.
    public var maxTokens: Int?
    public var temperature: Double?
    public var topP: Double?
    public var topK: Int?
    public var minP: Double?
    public var n: Int?
    public var stop: StopSequences?
    /// Token ids that end the completion (vLLM extension).
    public var stopTokenIDs: [Int32]?
    public var seed: Int64?
    public var presencePenalty: Double?
    public var frequencyPenalty: Double?
    public var repetitionPenalty: Double?
    /// Token id (as a string) to a bias added to its logit, -100...100.
    public var logitBias: [String: Double]?
    /// Return the log-probabilities of this many most likely tokens per position (0...20).
    public var logprobs: Int?
    /// Put the prompt in front of the completion text.
    public var echo: Bool?
    public var stream: Bool?
    public var streamOptions: StreamOptions?
    /// Keep generating past end-of-sequence tokens.
    public var ignoreEOS: Bool?
    public var user: String?
    /// Lower runs earlier (vLLM extension).
    public var priority: Int?
    /// Add `prompt_token_ids` and `token_ids` to the choices (vLLM extension, used by the router).
    public var returnTokenIDs: Bool?

    public init(
        model: String? = nil, prompt: CompletionPrompt, maxTokens: Int? = nil, temperature: Double? = nil,
        topP: Double? = nil, topK: Int? = nil, minP: Double? = nil, n: Int? = nil, stop: StopSequences? = nil,
        stopTokenIDs: [Int32]? = nil, seed: Int64? = nil, presencePenalty: Double? = nil,
        frequencyPenalty: Double? = nil, repetitionPenalty: Double? = nil, logitBias: [String: Double]? = nil,
        logprobs: Int? = nil, echo: Bool? = nil, stream: Bool? = nil, streamOptions: StreamOptions? = nil,
        ignoreEOS: Bool? = nil, user: String? = nil, priority: Int? = nil, returnTokenIDs: Bool? = nil
    ) {
        self.model = model
        self.prompt = prompt
        self.maxTokens = maxTokens
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
        self.echo = echo
        self.stream = stream
        self.streamOptions = streamOptions
        self.ignoreEOS = ignoreEOS
        self.user = user
        self.priority = priority
        self.returnTokenIDs = returnTokenIDs
    }

    enum CodingKeys: String, CodingKey {
        case model, prompt, temperature, n, stop, seed, logprobs, echo, stream, user, priority
        case maxTokens = "max_tokens"
        case topP = "top_p"
        case topK = "top_k"
        case minP = "min_p"
        case stopTokenIDs = "stop_token_ids"
        case presencePenalty = "presence_penalty"
        case frequencyPenalty = "frequency_penalty"
        case repetitionPenalty = "repetition_penalty"
        case logitBias = "logit_bias"
        case streamOptions = "stream_options"
        case ignoreEOS = "ignore_eos"
        case returnTokenIDs = "return_token_ids"
    }
}
