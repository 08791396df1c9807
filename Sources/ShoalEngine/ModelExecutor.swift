public import ShoalKernels
public import ShoalModels

/// Runs the model for the engine (vLLM's executor): it owns the model, or its shards in other processes, their
/// KV caches and their threads, and turns a `ForwardBatch` into logits rows.
///
/// The scheduler and sampler do not know where the layers run: `LocalExecutor` runs them in this process, the
/// pipeline and tensor-parallel executors (ShoalCluster) across worker processes and hosts.
public protocol ModelExecutor: AnyObject, Sendable {
    /// Shape and constants of the whole model.
    var config: ModelConfig { get }
    /// KV-cache bytes one token takes in the process that holds the most of it (what `--kv-cache-memory` sizes).
    var cacheBytesPerToken: Int { get }
    /// How the KV cache stores keys and values.
    var cacheType: KVCacheType { get }
    /// Allocates the KV caches, `blockCount` blocks of `blockSize` tokens in every process, before any `execute`.
    /// - Throws: when the memory cannot be had or a worker refuses.
    func allocateCache(blockCount: Int, blockSize: Int) throws
    /// Runs one step; fills `batch.logitRows.count x config.vocabularySize` floats of `logits`.
    /// - Throws: `ModelError(.invalidBatch)` for a batch that does not fit (nothing is written), or a failure of a
    ///   remote part (its message names the worker).
    func execute(_ batch: ForwardBatch, logits: UnsafeMutablePointer<Float>) throws
    /// How many steps may be in flight at once: a pipeline's stage count, so that every stage has work under
    /// load; 1 for an executor that runs each step to its end.
    var pipelineDepth: Int { get }
    /// Starts a step without waiting for its logits (a pipeline runs its first stage and hands the hidden states
    /// on). Steps are collected in the order they were submitted, with `collect` given the same batch.
    /// - Throws: as `execute`; the steps in flight are then lost.
    func submit(_ batch: ForwardBatch) throws
    /// Finishes the oldest submitted step, `batch`: fills its logits as `execute` does.
    func collect(_ batch: ForwardBatch, logits: UnsafeMutablePointer<Float>) throws
    /// Why the executor cannot run steps now (a worker lost and not yet back), or nil when it can.
    var failure: String? { get }
    /// Where the last steps' time went (compute, network, stragglers); empty for a local executor.
    func profile() -> ExecutorProfile
    /// Releases workers and threads; `execute` fails afterwards.
    func shutdown()
}

extension ModelExecutor {
    /// One step at a time: `submit` does nothing and `collect` runs the whole step.
    public var pipelineDepth: Int { 1 }
    public func submit(_ batch: ForwardBatch) throws {}
    public func collect(_ batch: ForwardBatch, logits: UnsafeMutablePointer<Float>) throws {
        try execute(batch, logits: logits)
    }
}

/// Cumulative time split of an executor's steps, per part (rank or stage), in seconds.
public struct ExecutorProfile: Sendable, Equatable {
    public struct Part: Sendable, Equatable {
        /// Who: "rank 1 (127.0.0.1:7001)", "stage 0 (local)".
        public var name: String
        /// A short, stable label for the part ("stage 1 rank 0"), as metrics name it; the name when empty.
        public var role: String
        /// Seconds spent computing.
        public var computeSeconds: Double
        /// Seconds spent waiting on the network (sending, receiving, the peer's compute excluded where known).
        public var networkSeconds: Double
        /// Seconds this part waited for slower parts.
        public var stragglerSeconds: Double

        public init(name: String, role: String = "", computeSeconds: Double = 0, networkSeconds: Double = 0, stragglerSeconds: Double = 0) {
            self.name = name
            self.role = role.isEmpty ? name : role
            self.computeSeconds = computeSeconds
            self.networkSeconds = networkSeconds
            self.stragglerSeconds = stragglerSeconds
        }
    }

    public var steps: Int
    public var parts: [Part]

    public init(steps: Int = 0, parts: [Part] = []) {
        self.steps = steps
        self.parts = parts
    }
}

/// Runs the whole model in this process.
public final class LocalExecutor: ModelExecutor, @unchecked Sendable {  // the cache is set once, before use
    public let model: any LanguageModel
    /// How the KV cache stores keys and values.
    public let cacheType: KVCacheType
    private var cache: PagedKVCache?

    /// - Throws: `ModelError` when `cacheType` cannot hold this model's heads (q8_0 needs multiples of 32).
    public init(model: any LanguageModel, cacheType: KVCacheType = .f32) throws {
        if let reason = PagedKVCache.unsupportedReason(type: cacheType, headDim: model.config.headDim) {
            throw ModelError(.invalidBatch, reason)
        }
        self.model = model
        self.cacheType = cacheType
    }

    public var config: ModelConfig { model.config }

    public var cacheBytesPerToken: Int {
        PagedKVCache.bytesPerToken(layerCount: model.config.layerCount, kvWidth: model.config.kvWidth, type: cacheType)
    }

    public func allocateCache(blockCount: Int, blockSize: Int) throws {
        cache = try PagedKVCache(config: model.config, blockCount: blockCount, blockSize: blockSize, type: cacheType)
    }

    public func execute(_ batch: ForwardBatch, logits: UnsafeMutablePointer<Float>) throws {
        guard let cache else { throw ModelError(.invalidBatch, "the KV cache has not been allocated") }
        try model.forward(batch, cache: cache, logits: logits)
    }

    public var failure: String? { nil }

    public func profile() -> ExecutorProfile { ExecutorProfile() }

    public func shutdown() {}
}
