/// A token id with its log-probability.
public struct TokenLogprob: Sendable, Equatable {
    public var id: Int32
    public var logprob: Float

    public init(id: Int32, logprob: Float) {
        self.id = id
        self.logprob = logprob
    }
}

/// The sampler's choice for one step.
public struct SampledToken: Sendable, Equatable {
    public var id: Int32
    /// Log-probability of `id` under the raw model distribution (log-softmax of the logits before bias,
    /// penalties and temperature: vLLM's default).
    public var logprob: Float
    /// The most likely tokens under the raw distribution, most likely first (lower id first on ties);
    /// `SamplingParams.logprobs` of them.
    public var topLogprobs: [TokenLogprob]

    public init(id: Int32, logprob: Float, topLogprobs: [TokenLogprob] = []) {
        self.id = id
        self.logprob = logprob
        self.topLogprobs = topLogprobs
    }
}
