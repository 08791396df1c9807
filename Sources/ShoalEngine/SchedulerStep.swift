/// One step's work chosen by ``Scheduler/schedule()``: which tokens of which sequences to run through the model.
public struct SchedulerStep: Sendable {
    /// A sequence's share of the step: a run of consecutive positions (a prefill chunk or one decode token).
    public struct Entry: Sendable, Equatable {
        public var id: SequenceID
        /// The tokens to compute, at positions `startPosition ..< startPosition + tokens.count`.
        public var tokens: [Int32]
        /// Position of the first token; everything before it is already in the cache.
        public var startPosition: Int
        /// The sequence's KV block table, covering every position up to the last one here.
        public var blockTable: [Int32]
        /// True when this step computes the sequence's last known token: its logits are sampled
        /// and the sampled token handed back to ``Scheduler/complete(_:sampled:stopped:)``.
        public var samples: Bool
    }

    /// Increases by one with every scheduled step.
    public let index: UInt64
    /// The scheduled sequences, decodes first, then continued prefills, then newly admitted ones.
    public internal(set) var entries: [Entry]
    /// Sequences preempted by this step (their blocks freed; they wait to be recomputed).
    public internal(set) var preempted: [SequenceID]

    /// Tokens in the step.
    public var tokenCount: Int { entries.reduce(0) { $0 + $1.tokens.count } }
    /// True when there is nothing to run.
    public var isEmpty: Bool { entries.isEmpty }
    /// The sequences to sample after the step, in the order of the batch's logit rows.
    public var samplingSequences: [SequenceID] { entries.compactMap { $0.samples ? $0.id : nil } }
}
