/// Limits and policy of a serving engine.
public struct EngineConfiguration: Sendable, Equatable {
    /// Bytes of KV cache to preallocate (keys and values of every layer, float32).
    public var kvCacheBytes: Int = 1 << 30
    /// Tokens one step may compute (decode tokens plus prefill chunks).
    public var maxBatchedTokens: Int = 512
    /// Sequences running at once.
    public var maxSequences: Int = 64
    /// Requests that may wait for admission beyond the free running slots; past it `submit` throws `.queueFull`.
    public var maxWaiting: Int = 1024
    /// The longest prefill chunk one sequence gets in a step (0 = up to the whole budget).
    public var longPrefillThreshold: Int = 256
    /// Reuse the KV blocks of earlier requests with the same prompt prefix.
    public var prefixCaching: Bool = true
    /// Cap on prompt + output tokens (default: the model's context length).
    public var maxModelLength: Int?
    /// Check the scheduler's and the block manager's bookkeeping after every step (O(blocks) each time); a broken
    /// invariant ends every running request with an error. On in debug builds and in the engine tests.
    public var checksInvariants = false

    public init() {}

    /// - Throws: `EngineError(.internalError)` naming the value out of range.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws {
            if !ok { throw EngineError(.internalError, message) }
        }
        try check(kvCacheBytes > 0, "kv-cache-memory must be positive")
        try check(maxBatchedTokens >= 1, "max-batched-tokens must be at least 1")
        try check(maxSequences >= 1, "max-num-seqs must be at least 1")
        try check(maxWaiting >= 0, "max-waiting must not be negative")
        try check(longPrefillThreshold >= 0, "long prefill threshold must not be negative")
        if let maxModelLength { try check(maxModelLength >= 1, "max-model-len must be at least 1") }
    }
}
