/// How to choose each next token, with OpenAI / vLLM semantics.
public struct SamplingParams: Sendable, Equatable {
    /// 0 means greedy.
    public var temperature: Float = 1
    /// Keep only the K most likely tokens; 0 (or -1) turns it off.
    public var topK: Int = 0
    /// Nucleus sampling: the smallest set of tokens whose probability reaches `topP`.
    public var topP: Float = 1
    /// Drop tokens whose probability is below `minP` times the most likely one's.
    public var minP: Float = 0
    /// Divides positive (multiplies negative) logits of tokens seen in the prompt or output; 1 is off.
    public var repetitionPenalty: Float = 1
    /// Subtracted once from the logit of every token already generated.
    public var presencePenalty: Float = 0
    /// Subtracted from a token's logit for every time it was generated.
    public var frequencyPenalty: Float = 0
    /// Added to the logits of the given token ids before anything else.
    public var logitBias: [Int32: Float] = [:]
    /// Same seed, same output; nil draws a random seed.
    public var seed: UInt64?
    public var maxTokens: Int = 256
    public var stop: [String] = []
    public var stopTokenIDs: [Int32] = []
    /// Keep generating past end-of-sequence tokens.
    public var ignoreEOS: Bool = false
    /// Report this many most likely alternatives (0...20) of every token; nil reports none.
    public var logprobs: Int?

    public init() {}

    /// Whether sampling reduces to taking the argmax.
    public var isGreedy: Bool { temperature == 0 || topK == 1 }

    /// Checks every value against OpenAI's ranges.
    /// - Throws: `SamplingError` naming the parameter (OpenAI's name) and the allowed range.
    public func validate() throws {
        func check(_ ok: Bool, _ parameter: String, _ message: String) throws {
            if !ok { throw SamplingError(parameter: parameter, message: "\(parameter) \(message)") }
        }
        try check(temperature.isFinite && (0...2).contains(temperature), "temperature", "must be between 0 and 2")
        try check(topK >= -1, "top_k", "must be -1, 0 (off) or a positive number")
        try check(topP.isFinite && topP > 0 && topP <= 1, "top_p", "must be greater than 0 and at most 1")
        try check(minP.isFinite && (0...1).contains(minP), "min_p", "must be between 0 and 1")
        try check(repetitionPenalty.isFinite && repetitionPenalty > 0 && repetitionPenalty <= 2,
                  "repetition_penalty", "must be greater than 0 and at most 2")
        try check(presencePenalty.isFinite && (-2...2).contains(presencePenalty), "presence_penalty", "must be between -2 and 2")
        try check(frequencyPenalty.isFinite && (-2...2).contains(frequencyPenalty), "frequency_penalty", "must be between -2 and 2")
        for (id, bias) in logitBias {
            try check(bias.isFinite && (-100...100).contains(bias), "logit_bias", "values must be between -100 and 100 (token \(id))")
        }
        try check(maxTokens >= 1, "max_tokens", "must be at least 1")
        if let logprobs { try check((0...20).contains(logprobs), "logprobs", "must be between 0 and 20") }
        try check(stop.count <= 16, "stop", "may hold at most 16 strings")
        try check(!stop.contains(""), "stop", "strings must not be empty")
    }
}

/// A sampling parameter out of range.
public struct SamplingError: Error, CustomStringConvertible, Sendable {
    /// The parameter's OpenAI name, e.g. `top_p`.
    public let parameter: String
    public let message: String
    public var description: String { message }
}
