public import ShoalModels
public import ShoalTokenizers

/// One generated token as the client sees it.
public struct GeneratedToken: Sendable {
    public var id: Int32
    /// Text this token completes (empty while a UTF-8 sequence or a possible stop string is held back).
    public var text: String
    public var logprob: Float
    public var topLogprobs: [TokenLogprob]

    public init(id: Int32, text: String, logprob: Float, topLogprobs: [TokenLogprob] = []) {
        self.id = id
        self.text = text
        self.logprob = logprob
        self.topLogprobs = topLogprobs
    }
}

/// Why generation ended, in OpenAI's words.
public enum FinishReason: String, Sendable {
    /// End of sequence, a stop token or a stop string.
    case stop
    /// `maxTokens` reached.
    case length
}

/// The outcome of `TextGenerator.generate`.
public struct GenerationResult: Sendable {
    public var promptIDs: [Int32]
    public var tokens: [GeneratedToken]
    /// The whole generated text (stop strings and end-of-sequence tokens left out).
    public var text: String
    /// The end of `text` that was released after the last `onToken` call (held-back bytes or stop-string prefixes).
    public var trailingText: String
    public var finishReason: FinishReason
    /// Seconds spent on the prompt (prefill), up to the first sampled token.
    public var promptSeconds: Double
    /// Seconds spent generating after the first token.
    public var decodeSeconds: Double
}

/// An error a request can cause: bad prompt, over the context, out of KV blocks.
public struct GenerationError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable {
        let name: String
        public static let emptyPrompt = Code(name: "emptyPrompt")
        public static let contextExceeded = Code(name: "contextExceeded")
        public static let invalidToken = Code(name: "invalidToken")
        public static let outOfMemory = Code(name: "outOfMemory")
        /// The output constraint could not go on (a grammar too large to run).
        public static let constraintFailed = Code(name: "constraintFailed")
    }
    public let code: Code
    public let message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { message }

    /// The refusal of a prompt that `PromptLimits.check` found wrong.
    public init(_ problem: PromptProblem) {
        switch problem {
        case .empty: self.init(.emptyPrompt, problem.description)
        case .tokenOutsideVocabulary: self.init(.invalidToken, problem.description)
        case .fillsContext, .exceedsContext: self.init(.contextExceeded, problem.description)
        }
    }
}

/// Runs one sequence at a time through a model: prefill in chunks, then sample token by token.
///
/// The CLI's `generate` and `bench` use it; the server's engine core schedules many sequences instead.
/// Not for concurrent use: one call to `generate` at a time.
public final class TextGenerator {
    /// Runs the model: in this process, or split across workers.
    public let executor: any ModelExecutor
    public let tokenizer: any Tokenizer
    public let contextLength: Int
    private var allocator: BlockAllocator
    private var logits: [Float]

    /// A generator over `model` in this process.
    /// - Parameter contextLength: the longest prompt + output to support (default: the model's context).
    public convenience init(model: any LanguageModel, tokenizer: any Tokenizer, contextLength: Int? = nil) throws {
        try self.init(executor: LocalExecutor(model: model), tokenizer: tokenizer, contextLength: contextLength)
    }

    /// A generator over `executor`, whose KV cache it allocates for `contextLength` tokens.
    /// - Parameter contextLength: the longest prompt + output to support (default: the model's context).
    public init(executor: any ModelExecutor, tokenizer: any Tokenizer, contextLength: Int? = nil) throws {
        let config = executor.config
        let context = min(contextLength ?? config.contextLength, config.contextLength)
        let blockSize = PagedKVCache.defaultBlockSize
        let blocks = (context + blockSize - 1) / blockSize
        self.executor = executor
        self.tokenizer = tokenizer
        self.contextLength = context
        try executor.allocateCache(blockCount: blocks, blockSize: blockSize)
        allocator = BlockAllocator(blockCount: blocks, blockSize: blockSize)
        logits = [Float](repeating: 0, count: config.vocabularySize)
    }

    /// Runs the model over `ids` (positions 0..<ids.count) and returns the logits of the last one.
    /// Used by benchmarks and tests; the cache is left holding the sequence until the next call.
    public func prefill(_ ids: [Int32], chunk: Int = 512) throws -> [Float] {
        var table: [Int32] = []
        defer { allocator.release(&table) }
        try runPrompt(ids, table: &table, chunk: chunk)
        return logits
    }

    /// Generates a continuation of `promptIDs`.
    /// - Parameters:
    ///   - onToken: called for every sampled token as soon as it is known.
    /// - Throws: `GenerationError` for an empty prompt, a prompt (plus `maxTokens`) longer than the context,
    ///   or ids outside the vocabulary; `SamplingError` for invalid parameters.
    public func generate(
        promptIDs: [Int32], params: SamplingParams, prefillChunk: Int = 512,
        onToken: (GeneratedToken) -> Void = { _ in }
    ) throws -> GenerationResult {
        try params.validate()
        let vocab = executor.config.vocabularySize
        do {
            try PromptLimits(vocabularySize: min(vocab, tokenizer.vocabularySize), contextLength: contextLength)
                .check(promptIDs, maxTokens: params.maxTokens)
        } catch {
            throw GenerationError(error)
        }
        let clock = ContinuousClock()
        let start = clock.now
        var table: [Int32] = []
        defer { allocator.release(&table) }
        try runPrompt(promptIDs, table: &table, chunk: prefillChunk)

        var output = SequenceOutput(params: params, prompt: promptIDs, tokenizer: tokenizer, vocabularySize: vocab)
        var tokens: [GeneratedToken] = []
        var text = ""
        var finish = FinishReason.length
        var firstTokenTime = start
        var position = promptIDs.count
        var stoppedByString = false

        decoding: while true {
            let decision = logits.withUnsafeMutableBufferPointer { output.next(logits: $0) }
            if tokens.isEmpty { firstTokenTime = clock.now }
            let token: GeneratedToken
            switch decision {
            case .stop:
                finish = .stop
                break decoding
            case .token(let t):
                token = t
            case .tokenThenStop(let t):
                token = t
                finish = .stop
                stoppedByString = true
            case .failed(let message):
                throw GenerationError(.constraintFailed, message)
            }
            tokens.append(token)
            text += token.text
            onToken(token)
            if stoppedByString || tokens.count >= params.maxTokens { break }
            guard allocator.ensure(&table, covers: position + 1) else {
                throw GenerationError(.outOfMemory, "KV cache is full")
            }
            var batch = ForwardBatch()
            batch.append(tokens: [token.id], startingAt: position, blockTable: table)
            try logits.withUnsafeMutableBufferPointer { try executor.execute(batch, logits: $0.baseAddress!) }
            position += 1
        }
        var trailing = ""
        if !stoppedByString {
            // Release what was held back: an incomplete UTF-8 tail, or text that might have begun a stop string.
            let flushed = output.finish()
            trailing = flushed.text
            if flushed.stopped { finish = .stop }
            text += trailing
        }
        let end = clock.now
        return GenerationResult(
            promptIDs: promptIDs, tokens: tokens, text: text, trailingText: trailing, finishReason: finish,
            promptSeconds: (firstTokenTime - start).seconds, decodeSeconds: (end - firstTokenTime).seconds)
    }

    private func runPrompt(_ ids: [Int32], table: inout [Int32], chunk: Int) throws {
        guard ids.count <= contextLength else {
            throw GenerationError(.contextExceeded, "prompt of \(ids.count) tokens exceeds the context length of \(contextLength)")
        }
        guard allocator.ensure(&table, covers: ids.count) else {
            throw GenerationError(.outOfMemory, "KV cache is full")
        }
        var start = 0
        let step = max(1, chunk)
        while start < ids.count {
            let end = min(ids.count, start + step)
            var batch = ForwardBatch()
            batch.append(tokens: Array(ids[start..<end]), startingAt: start, blockTable: table, wantLogits: end == ids.count)
            try logits.withUnsafeMutableBufferPointer { try executor.execute(batch, logits: $0.baseAddress!) }
            start = end
        }
    }
}
