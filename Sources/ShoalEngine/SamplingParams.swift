/// How to choose each next token, with OpenAI / vLLM semantics.
public struct SamplingParams: Sendable, Equatable {
    /// Divides the logits before the softmax; 0 means greedy.
    public var temperature: Float = 1
    /// Keep only the K most likely tokens; 0 or -1 turns it off.
    public var topK: Int = 0
    /// Nucleus sampling: keep the smallest set of most likely tokens whose probability reaches `topP`.
    public var topP: Float = 1
    /// Drop tokens whose probability is below `minP` times the most likely token's.
    public var minP: Float = 0
    /// Divides positive (multiplies negative) logits of tokens seen in the prompt or the output; 1 is off.
    public var repetitionPenalty: Float = 1
    /// Subtracted once from the logit of every token already generated (output only).
    public var presencePenalty: Float = 0
    /// Subtracted from a token's logit once for every time it was generated (output only).
    public var frequencyPenalty: Float = 0
    /// Added to the logits of the given token ids before anything else (-100 bans a token).
    public var logitBias: [Int32: Float] = [:]
    /// Same seed, same tokens; nil draws a random seed.
    public var seed: UInt64?
    /// The most tokens to generate.
    public var maxTokens: Int = 256
    /// Text that ends generation; it is not part of the output.
    public var stop: [String] = []
    /// Token ids that end generation (besides the model's end-of-sequence tokens).
    public var stopTokenIDs: [Int32] = []
    /// Keep generating past end-of-sequence tokens.
    public var ignoreEOS: Bool = false
    /// Report this many most likely alternatives (0...20) for every token; nil reports none.
    public var logprobs: Int?
    /// A grammar every output token must keep the text inside (tokens that would leave it are masked before
    /// sampling, whatever the other parameters); nil for none.
    public var constraint: OutputConstraint?

    public init(
        temperature: Float = 1, topK: Int = 0, topP: Float = 1, minP: Float = 0, repetitionPenalty: Float = 1,
        presencePenalty: Float = 0, frequencyPenalty: Float = 0, logitBias: [Int32: Float] = [:], seed: UInt64? = nil,
        maxTokens: Int = 256, stop: [String] = [], stopTokenIDs: [Int32] = [], ignoreEOS: Bool = false,
        logprobs: Int? = nil
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.logitBias = logitBias
        self.seed = seed
        self.maxTokens = maxTokens
        self.stop = stop
        self.stopTokenIDs = stopTokenIDs
        self.ignoreEOS = ignoreEOS
        self.logprobs = logprobs
    }

    /// Temperatures below this are treated as 0 (vLLM's `_SAMPLING_EPS`).
    public static let greedyTemperature: Float = 1e-5

    /// Whether sampling reduces to taking the argmax (temperature 0 or top-k 1).
    public var isGreedy: Bool { temperature < Self.greedyTemperature || topK == 1 }

    /// Checks every value against OpenAI's (and vLLM's) ranges.
    /// - Parameter vocabularySize: when given, `logit_bias` and `stop_token_ids` ids must be below it.
    /// - Throws: `SamplingError` naming the parameter (OpenAI's name) and the allowed range.
    public func validate(vocabularySize: Int? = nil) throws {
        func check(_ ok: Bool, _ parameter: String, _ message: String) throws {
            if !ok { throw SamplingError(parameter: parameter, message: "\(parameter) \(message)") }
        }
        try check(temperature.isFinite && temperature >= 0 && temperature <= 2, "temperature",
                  "must be between 0 and 2, got \(temperature)")
        try check(topK >= -1, "top_k", "must be -1 or 0 (off) or a positive number, got \(topK)")
        try check(topP.isFinite && topP > 0 && topP <= 1, "top_p", "must be greater than 0 and at most 1, got \(topP)")
        try check(minP.isFinite && minP >= 0 && minP <= 1, "min_p", "must be between 0 and 1, got \(minP)")
        try check(repetitionPenalty.isFinite && repetitionPenalty > 0 && repetitionPenalty <= 2, "repetition_penalty",
                  "must be greater than 0 and at most 2, got \(repetitionPenalty)")
        try check(presencePenalty.isFinite && presencePenalty >= -2 && presencePenalty <= 2, "presence_penalty",
                  "must be between -2 and 2, got \(presencePenalty)")
        try check(frequencyPenalty.isFinite && frequencyPenalty >= -2 && frequencyPenalty <= 2, "frequency_penalty",
                  "must be between -2 and 2, got \(frequencyPenalty)")
        for (id, bias) in logitBias.sorted(by: { $0.key < $1.key }) {
            try check(bias.isFinite && bias >= -100 && bias <= 100, "logit_bias",
                      "values must be between -100 and 100, got \(bias) for token \(id)")
            try check(id >= 0 && vocabularySize.map { Int(id) < $0 } ?? true, "logit_bias",
                      "token id \(id) is outside the vocabulary")
        }
        try check(maxTokens >= 1, "max_tokens", "must be at least 1, got \(maxTokens)")
        if let logprobs {
            try check(logprobs >= 0 && logprobs <= 20, "logprobs", "must be between 0 and 20, got \(logprobs)")
        }
        try check(!stop.contains(""), "stop", "strings must not be empty")
        for id in stopTokenIDs {
            try check(id >= 0 && vocabularySize.map { Int(id) < $0 } ?? true, "stop_token_ids",
                      "token id \(id) is outside the vocabulary")
        }
    }
}
