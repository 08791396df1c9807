public import Logging
public import ShoalTokenizers

/// One generation request as the engine sees it: prompt ids and how to sample.
public struct EngineRequest: Sendable {
    /// Unique while the request is live (the server uses its response id plus the choice index).
    public var id: String
    public var promptIDs: [Int32]
    public var params: SamplingParams
    /// Lower runs earlier; equal priorities are first come, first served.
    public var priority: Int
    /// Where the engine logs about this request: the HTTP request's logger, whose metadata carry its
    /// `request_id`; nil: the engine's own logger.
    public var logger: Logger?

    public init(id: String, promptIDs: [Int32], params: SamplingParams, priority: Int = 0, logger: Logger? = nil) {
        self.id = id
        self.promptIDs = promptIDs
        self.params = params
        self.priority = priority
        self.logger = logger
    }
}

/// Token counts of a finished request, for OpenAI's `usage`, and how long it waited for its first step.
public struct EngineUsage: Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    /// Prompt tokens served from the prefix cache.
    public var cachedTokens: Int
    /// Seconds from arrival at the engine to the first step that ran it (nil if it never ran).
    public var queueSeconds: Double?

    public init(promptTokens: Int, completionTokens: Int, cachedTokens: Int, queueSeconds: Double? = nil) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedTokens = cachedTokens
        self.queueSeconds = queueSeconds
    }
}

/// What a request's stream yields: tokens as they are sampled, then one `finished`.
public enum EngineEvent: Sendable {
    case token(GeneratedToken)
    /// The last event. `trailingText` is text released at the end (held-back bytes or stop-string prefixes);
    /// `stopToken` is the end-of-sequence or `stop_token_ids` token that ended the request, if one did: it
    /// counts in `usage.completionTokens` but never came as a `token` event (it has no text).
    case finished(reason: FinishReason, usage: EngineUsage, trailingText: String, stopToken: Int32?)
}

/// Why the engine refused a request up front.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// The waiting queue is full: retry later (HTTP 429/503 with Retry-After).
        public static let queueFull = Code(name: "queueFull")
        /// Prompt plus max_tokens exceed the context length or the whole KV cache (HTTP 400).
        public static let contextExceeded = Code(name: "contextExceeded")
        /// A prompt id outside the vocabulary, an empty prompt (HTTP 400).
        public static let invalidPrompt = Code(name: "invalidPrompt")
        /// The engine is shutting down and admits nothing (HTTP 503).
        public static let draining = Code(name: "draining")
        /// The engine stopped because of an internal failure (HTTP 500).
        public static let internalError = Code(name: "internalError")
    }
    public let code: Code
    public let message: String
    /// What was wrong with the prompt, for `.invalidPrompt` and `.contextExceeded` refusals that
    /// `PromptLimits` made.
    public let problem: PromptProblem?

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
        problem = nil
    }

    /// The refusal of a prompt that `PromptLimits.check` found wrong.
    public init(_ problem: PromptProblem) {
        code = problem.isContextLength ? .contextExceeded : .invalidPrompt
        message = problem.description
        self.problem = problem
    }

    public var description: String { message }
}

/// A snapshot of the engine for /metrics and /health.
public struct EngineStats: Sendable, Equatable {
    public var running = 0
    public var waiting = 0
    /// Fraction of KV blocks held by live sequences (0...1).
    public var kvCacheUsage: Double = 0
    public var kvBlocksUsed = 0
    public var kvBlocksTotal = 0
    /// Tokens per KV block, and how the cache stores them (`f32`, `f16`, `bf16`, `q8_0`).
    public var kvBlockSize = 0
    public var kvCacheType = "f32"
    /// Prefix-cache lookups and hits, in tokens.
    public var prefixCacheQueries = 0
    public var prefixCacheHits = 0
    public var preemptions = 0
    public var promptTokens = 0
    public var generationTokens = 0
    /// Steps run so far; grows while the loop makes progress.
    public var steps = 0
    /// Seconds since the running step began, when a step is in flight (for the stuck-loop health check).
    public var currentStepSeconds: Double?
    public var isDraining = false
    /// Why the engine cannot compute now (a model-parallel worker is lost), or nil.
    public var unavailableReason: String?
    /// Where a split model's step time went, per process (empty for one process).
    public var profile = ExecutorProfile()

    public init() {}
}

/// The serving engine as the HTTP layer sees it: submit, stream, cancel by dropping the stream.
///
/// Implementations run compute on their own threads; `submit` never blocks on compute.
public protocol InferenceEngine: AnyObject, Sendable {
    /// The model name clients use.
    var modelName: String { get }
    var tokenizer: any Tokenizer { get }
    /// The model's chat template source, if it has one.
    var chatTemplate: String? { get }
    /// The longest prompt + output a request may have.
    var contextLength: Int { get }
    /// What `submit` accepts as prompt and `max_tokens` (default: the tokenizer's ids and `contextLength`).
    var promptLimits: PromptLimits { get }

    /// Admits a request and returns its event stream. Ending the stream early (the consumer stops
    /// iterating or is cancelled) aborts the request and frees its KV blocks at once.
    /// - Throws: `EngineError` when the request is refused up front.
    func submit(_ request: EngineRequest) throws -> AsyncThrowingStream<EngineEvent, any Error>

    /// Current counters and gauges.
    func stats() -> EngineStats

    /// Stops admitting new requests; running ones continue.
    func beginDrain()
}
