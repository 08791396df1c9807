public import ShoalAPI
public import ShoalEngine

/// Turns the sampling fields common to both endpoints into `SamplingParams`, checking each against
/// OpenAI's (and vLLM's) rules.
struct SamplingFields {
    var maxTokens: Int
    var maxTokensParam: String
    var temperature: Double?
    var topP: Double?
    var topK: Int?
    var minP: Double?
    var n: Int?
    var stop: StopSequences?
    var stopTokenIDs: [Int32]?
    var seed: Int64?
    var presencePenalty: Double?
    var frequencyPenalty: Double?
    var repetitionPenalty: Double?
    var logitBias: [String: Double]?
    var logprobs: Int?
    var logprobsParam: String
    var ignoreEOS: Bool?
    var stream: Bool?
    var streamOptions: StreamOptions?

    func params(vocabularySize: Int) throws(APIError) -> SamplingParams {
        var params = SamplingParams()
        if let n, !(1...SamplingLimits.maxChoices).contains(n) {
            throw .invalid("n", "n must be between 1 and \(SamplingLimits.maxChoices), got \(n)")
        }
        guard maxTokens >= 1 else {
            throw .invalid(maxTokensParam, "\(maxTokensParam) must be at least 1, got \(maxTokens)")
        }
        if streamOptions != nil, stream != true {
            throw .invalid("stream_options", "stream_options can only be set when stream is true")
        }
        params.maxTokens = maxTokens
        if let temperature { params.temperature = try float(temperature, "temperature") }
        if let topP { params.topP = try float(topP, "top_p") }
        if let topK { params.topK = topK }
        if let minP { params.minP = try float(minP, "min_p") }
        if let presencePenalty { params.presencePenalty = try float(presencePenalty, "presence_penalty") }
        if let frequencyPenalty { params.frequencyPenalty = try float(frequencyPenalty, "frequency_penalty") }
        if let repetitionPenalty { params.repetitionPenalty = try float(repetitionPenalty, "repetition_penalty") }
        if let stop { params.stop = stop.values }
        if let stopTokenIDs {
            for id in stopTokenIDs where id < 0 || Int(id) >= vocabularySize {
                throw .invalid("stop_token_ids", "stop_token_ids: \(id) is not a token id (0..<\(vocabularySize))")
            }
            params.stopTokenIDs = stopTokenIDs
        }
        if let seed { params.seed = UInt64(bitPattern: seed) }
        if let logitBias {
            var bias: [Int32: Float] = [:]
            for (key, value) in logitBias {
                guard let id = Int32(key.trimmingSpaces), id >= 0, Int(id) < vocabularySize else {
                    throw .invalid("logit_bias", "logit_bias: key \"\(key)\" is not a token id (0..<\(vocabularySize))")
                }
                bias[id] = try float(value, "logit_bias")
            }
            params.logitBias = bias
        }
        if let logprobs {
            guard (0...SamplingLimits.maxLogprobs).contains(logprobs) else {
                throw .invalid(logprobsParam, "\(logprobsParam) must be between 0 and \(SamplingLimits.maxLogprobs), got \(logprobs)")
            }
            params.logprobs = logprobs
        }
        params.ignoreEOS = ignoreEOS ?? false
        do {
            try params.validate()
        } catch let error as SamplingError {
            let param = error.parameter == "max_tokens" ? maxTokensParam
                : error.parameter == "logprobs" ? logprobsParam : error.parameter
            throw .invalid(param, error.message)
        } catch {
            throw .invalid(maxTokensParam, "\(error)")
        }
        return params
    }

    private func float(_ value: Double, _ param: String) throws(APIError) -> Float {
        guard value.isFinite, abs(value) <= Double(Float.greatestFiniteMagnitude) else {
            throw .invalid(param, "\(param) must be a finite number")
        }
        return Float(value)
    }
}

/// Bounds the server applies on top of `SamplingParams.validate()`.
public enum SamplingLimits {
    /// The largest `n`.
    public static let maxChoices = 128
    /// The most engine requests one HTTP request may make (prompts times `n`).
    public static let maxChoicesPerRequest = 1024
    /// The largest `logprobs` (completions) / `top_logprobs` (chat).
    public static let maxLogprobs = 20
    /// `max_tokens` when a completions request leaves it out (OpenAI's default).
    public static let defaultCompletionMaxTokens = 16
}

extension String {
    fileprivate var trimmingSpaces: Substring {
        var text = self[...]
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return text
    }
}

extension CompletionRequest {
    /// Checks the request and builds its sampling parameters (`max_tokens` defaults to 16).
    /// - Parameter vocabularySize: The model's vocabulary, for `logit_bias` and `stop_token_ids` keys.
    /// - Throws: `APIError` (400) naming the OpenAI parameter that is wrong.
    public func samplingParams(vocabularySize: Int) throws(APIError) -> SamplingParams {
        if case .texts(let texts) = prompt, texts.isEmpty {
            throw .invalid("prompt", "prompt must not be empty")
        }
        if case .tokenBatches(let batches) = prompt, batches.isEmpty {
            throw .invalid("prompt", "prompt must not be empty")
        }
        let choices = prompt.items.count * max(1, n ?? 1)
        guard choices <= SamplingLimits.maxChoicesPerRequest else {
            throw .invalid(prompt.items.count > SamplingLimits.maxChoicesPerRequest ? "prompt" : "n",
                "\(prompt.items.count) prompts with n = \(n ?? 1) make \(choices) completions; at most "
                    + "\(SamplingLimits.maxChoicesPerRequest) are allowed per request")
        }
        return try SamplingFields(
            maxTokens: maxTokens ?? SamplingLimits.defaultCompletionMaxTokens, maxTokensParam: "max_tokens",
            temperature: temperature, topP: topP, topK: topK, minP: minP, n: n, stop: stop,
            stopTokenIDs: stopTokenIDs, seed: seed, presencePenalty: presencePenalty,
            frequencyPenalty: frequencyPenalty, repetitionPenalty: repetitionPenalty, logitBias: logitBias,
            logprobs: logprobs, logprobsParam: "logprobs", ignoreEOS: ignoreEOS, stream: stream,
            streamOptions: streamOptions
        ).params(vocabularySize: vocabularySize)
    }
}

extension ChatCompletionRequest {
    /// The requested completion length: `max_completion_tokens`, else `max_tokens`, else nil.
    public var requestedMaxTokens: Int? { maxCompletionTokens ?? maxTokens }

    /// Checks the request and builds its sampling parameters.
    ///
    /// Rejects what cannot be served yet: non-text content parts. (`response_format` is read by
    /// `StructuredOutput`, `tools` by `ToolCalling`.)
    /// - Parameters:
    ///   - vocabularySize: The model's vocabulary, for `logit_bias` and `stop_token_ids` keys.
    ///   - defaultMaxTokens: `max_tokens` when the request leaves it out (the rest of the context).
    /// - Throws: `APIError` (400) naming the OpenAI parameter that is wrong.
    public func samplingParams(vocabularySize: Int, defaultMaxTokens: Int) throws(APIError) -> SamplingParams {
        try checkServable()
        if topLogprobs != nil, logprobs != true, (topLogprobs ?? 0) > 0 {
            throw .invalid("top_logprobs", "top_logprobs requires logprobs to be true")
        }
        if let topLogprobs, !(0...SamplingLimits.maxLogprobs).contains(topLogprobs) {
            throw .invalid("top_logprobs", "top_logprobs must be between 0 and \(SamplingLimits.maxLogprobs), got \(topLogprobs)")
        }
        return try SamplingFields(
            maxTokens: requestedMaxTokens ?? defaultMaxTokens,
            maxTokensParam: maxCompletionTokens != nil ? "max_completion_tokens" : "max_tokens",
            temperature: temperature, topP: topP, topK: topK, minP: minP, n: n, stop: stop,
            stopTokenIDs: stopTokenIDs, seed: seed, presencePenalty: presencePenalty,
            frequencyPenalty: frequencyPenalty, repetitionPenalty: repetitionPenalty, logitBias: logitBias,
            logprobs: logprobs == true ? (topLogprobs ?? 0) : nil, logprobsParam: "top_logprobs",
            ignoreEOS: ignoreEOS, stream: stream, streamOptions: streamOptions
        ).params(vocabularySize: vocabularySize)
    }

    /// Throws for the parts of the request Shoal cannot serve yet, and for empty `messages`.
    public func checkServable() throws(APIError) {
        guard !messages.isEmpty else {
            throw .invalid("messages", "messages must not be empty")
        }
        for (index, message) in messages.enumerated() {
            guard case .parts(let parts) = message.content else { continue }
            for (p, part) in parts.enumerated() where part.type != "text" || part.text == nil {
                throw APIError(.unsupported,
                    "messages[\(index)].content[\(p)]: content parts of type \"\(part.type)\" are not supported; only text parts are",
                    param: "messages[\(index)].content[\(p)]")
            }
        }
    }
}
