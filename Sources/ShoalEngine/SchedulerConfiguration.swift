/// Limits and policy of the ``Scheduler``.
public struct SchedulerConfiguration: Sendable, Hashable {
    /// Tokens one step may carry, decodes and prefill chunks together (`--max-batched-tokens`).
    public var maxBatchedTokens: Int
    /// Sequences holding KV blocks at once (`--max-num-seqs`).
    public var maxSequences: Int
    /// Requests that may wait for admission beyond the free running slots (`maxSequences` minus those running);
    /// past it ``Scheduler/add(_:)`` throws `.queueFull`.
    /// Preempted sequences return to the queue regardless.
    public var maxWaiting: Int
    /// The most prompt tokens one sequence prefills in a step (vLLM's `long_prefill_token_threshold`);
    /// 0 lets a chunk take all of the step's remaining budget.
    public var longPrefillThreshold: Int
    /// Tokens per KV block.
    public var blockSize: Int
    /// Whether computed full blocks are kept for reuse by later requests (`--no-prefix-caching` turns it off).
    public var prefixCaching: Bool
    /// The model's context length: prompt plus `maxTokens` must stay within it (nil: no limit but the cache's).
    public var maxModelLength: Int?

    public init(
        maxBatchedTokens: Int = 2048,
        maxSequences: Int = 64,
        maxWaiting: Int = 1024,
        longPrefillThreshold: Int = 0,
        blockSize: Int = 16,
        prefixCaching: Bool = true,
        maxModelLength: Int? = nil
    ) {
        self.maxBatchedTokens = maxBatchedTokens
        self.maxSequences = maxSequences
        self.maxWaiting = maxWaiting
        self.longPrefillThreshold = longPrefillThreshold
        self.blockSize = blockSize
        self.prefixCaching = prefixCaching
        self.maxModelLength = maxModelLength
    }

    /// - Throws: `SchedulerError(.invalidConfiguration)` naming the first bad field.
    public func validate() throws(SchedulerError) {
        func fail(_ message: String) -> SchedulerError { SchedulerError(.invalidConfiguration, message) }
        guard blockSize >= 1 else { throw fail("blockSize must be at least 1, got \(blockSize)") }
        guard maxSequences >= 1 else { throw fail("maxSequences must be at least 1, got \(maxSequences)") }
        guard maxBatchedTokens >= maxSequences else {
            throw fail("maxBatchedTokens (\(maxBatchedTokens)) must be at least maxSequences (\(maxSequences)) so every running sequence can decode each step")
        }
        guard maxWaiting >= 0 else { throw fail("maxWaiting must not be negative, got \(maxWaiting)") }
        guard longPrefillThreshold >= 0 else { throw fail("longPrefillThreshold must not be negative, got \(longPrefillThreshold)") }
        if let maxModelLength, maxModelLength < 2 { throw fail("maxModelLength must be at least 2, got \(maxModelLength)") }
    }
}
