/// Identifies one sequence (one completion of one request) inside the engine.
public struct SequenceID: RawRepresentable, Hashable, Comparable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt64) { rawValue = value }

    public static func < (lhs: SequenceID, rhs: SequenceID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "seq-\(rawValue)" }
}

/// Everything the scheduler knows about one sequence: its tokens, how many of them are in the KV cache,
/// where it stands, and the timestamps the metrics need.
public struct SequenceState: Sendable {
    /// Where a sequence stands.
    public enum Status: Sendable, Hashable {
        /// In the waiting queue: new, or preempted and waiting to be prefilled again.
        case waiting
        /// Holding KV blocks: prefilling (possibly in chunks) or decoding.
        case running
        /// Done; its blocks are free.
        case finished(FinishReason)
    }

    /// Why a sequence ended.
    public enum FinishReason: Sendable, Hashable {
        /// It produced `maxTokens` tokens.
        case length
        /// The caller stopped it (end-of-sequence token or stop string).
        case stop
        /// It was aborted (client gone, server draining).
        case aborted
    }

    /// The id it was added with.
    public let id: SequenceID
    /// Lower values are scheduled first; ties go by arrival.
    public let priority: Int
    /// How many tokens it may generate.
    public let maxTokens: Int
    /// How many of `tokens` are the prompt.
    public let promptCount: Int
    /// Prompt followed by the tokens generated so far.
    public internal(set) var tokens: [Int32]
    /// How many leading tokens have their K/V in the cache (0 while waiting).
    public internal(set) var computedTokens: Int = 0
    public internal(set) var status: Status = .waiting
    /// Prompt tokens found in the prefix cache at its first admission (`usage.prompt_tokens_details.cached_tokens`).
    public internal(set) var cachedPromptTokens: Int = 0
    /// How many times it was preempted (its blocks freed, to be recomputed later).
    public internal(set) var preemptionCount: Int = 0
    /// When it was added.
    public let arrivalTime: Duration
    /// When it first got a place in a step (queue time is this minus `arrivalTime`).
    public internal(set) var firstScheduledTime: Duration?
    /// When it finished or was aborted.
    public internal(set) var finishTime: Duration?
    /// Arrival rank: the FCFS tie-breaker, kept across preemptions.
    let arrivalOrder: UInt64

    init(request: SchedulerRequest, arrivalTime: Duration, arrivalOrder: UInt64) {
        id = request.id
        priority = request.priority
        maxTokens = request.maxTokens
        promptCount = request.promptTokens.count
        tokens = request.promptTokens
        self.arrivalTime = arrivalTime
        self.arrivalOrder = arrivalOrder
    }

    /// The prompt's token ids.
    public var promptTokens: ArraySlice<Int32> { tokens[..<promptCount] }
    /// The tokens generated so far.
    public var outputTokens: ArraySlice<Int32> { tokens[promptCount...] }
    /// How many tokens it has generated.
    public var outputCount: Int { tokens.count - promptCount }
    /// Tokens known but not yet in the KV cache (1 for a decoding sequence).
    public var uncomputedTokens: Int { tokens.count - computedTokens }
    /// True while more than one known token is missing from the cache (a prompt, or a preempted sequence being recomputed).
    public var isPrefilling: Bool { uncomputedTokens > 1 }

    /// Scheduling order: priority, then arrival.
    var orderKey: (Int, UInt64) { (priority, arrivalOrder) }

    func precedes(_ other: SequenceState) -> Bool { orderKey < other.orderKey }
}
