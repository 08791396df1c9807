public import ShoalEngine
public import ShoalModels

/// Runs a model split into pipeline stages: contiguous layer ranges, the first in this process (with the
/// embedding), the others in `shoal worker` processes on this or other hosts, the last with the output head.
///
/// A step embeds and runs the local layers, then sends the hidden states (tokens x hidden floats) through each
/// worker in turn; the last returns only the logits rows. Each stage's KV cache holds only its layers. A worker
/// that fails (killed, stopped, cut off) fails the step within the link timeout; the executor then reports itself
/// unavailable and re-forms the group in the background, and serves again once every worker has reloaded its
/// shard (with empty caches: the engine drops its sequences on a failure).
public final class PipelineExecutor: ModelExecutor, @unchecked Sendable {  // execute is called from one thread
    public let config: ModelConfig
    /// The first stage, in this process.
    public let local: DecoderModel
    private let group: LinkGroup
    private var cache: PagedKVCache?
    private var hidden: [Float] = []
    private var spare: [Float] = []

    /// Connects every worker and has it load its stage.
    /// - Throws: the first worker's failure to connect or load.
    public init(local: DecoderModel, links: [WorkerLink]) throws {
        precondition(local.shard.holdsEmbedding && !links.isEmpty, "a pipeline needs the first stage here and at least one worker")
        config = local.config
        self.local = local
        group = LinkGroup(links: links)
        try group.connectAll()
    }

    private var links: [WorkerLink] { group.links }

    public var cacheBytesPerToken: Int { group.cacheBytesPerToken(local: local) }

    public func allocateCache(blockCount: Int, blockSize: Int) throws {
        cache = try group.allocateCaches(local: local, blockCount: blockCount, blockSize: blockSize)
    }

    public var failure: String? { group.failure }

    public func execute(_ batch: ForwardBatch, logits: UnsafeMutablePointer<Float>) throws {
        guard let cache else { throw ModelError(.invalidBatch, "the KV cache has not been allocated") }
        try group.checkFormed()
        try local.validate(batch, cache: cache)
        if batch.tokens.isEmpty { return }
        let h = config.hiddenSize, n = batch.tokens.count
        if hidden.count < n * h { hidden = [Float](repeating: 0, count: n * h) }
        if spare.count < n * h { spare = [Float](repeating: 0, count: n * h) }
        let clock = ContinuousClock()
        var start = clock.now
        var compute = [Double](repeating: 0, count: links.count + 1)
        var network = compute
        do {
            try hidden.withUnsafeMutableBufferPointer { x in
                local.embed(batch, into: x.baseAddress!)
                try local.forward(batch, layers: local.shard.layers, hidden: x.baseAddress!, cache: cache, reducer: nil)
            }
            compute[0] = (clock.now - start).seconds
            for (index, link) in links.enumerated() {
                start = clock.now
                let isLast = index == links.count - 1
                let expected = isLast ? batch.logitRows.count * config.vocabularySize : n * h
                try hidden.withUnsafeBufferPointer { input in
                    try link.sendForward(batch, hidden: UnsafeBufferPointer(rebasing: input[0..<(n * h)]))
                }
                let written = try spare.withUnsafeMutableBufferPointer { out in
                    try link.receiveForwarded(into: isLast ? logits : out.baseAddress!, capacity: expected)
                }
                guard written == expected else {
                    throw ClusterError(.protocolViolation, "\(link.name) returned \(written) floats, expected \(expected)")
                }
                if !isLast { swap(&hidden, &spare) }
                compute[index + 1] = link.lastComputeSeconds
                network[index + 1] = max(0, (clock.now - start).seconds - link.lastComputeSeconds)
            }
        } catch {
            group.fail(error)
            throw error
        }
        group.record(compute: compute, network: network, straggler: Array(repeating: 0, count: compute.count))
    }

    public func profile() -> ExecutorProfile {
        group.profile(leaderName: "stage 0 (\(local.shard), here)") { index, link in "stage \(index + 1) (\(link.name))" }
    }

    public func shutdown() { group.shutdown() }
}
