public import ShoalEngine
public import ShoalModels

/// Runs a model split tensor-parallel: every rank holds a slice of every layer (query heads grouped with their KV
/// heads, feed-forward columns, vocabulary rows); rank 0 is this process, the others are `shoal worker`s.
///
/// Each rank embeds the batch itself (only the ids cross the wire), computes its slices, and after the attention
/// output and the down projection (row-parallel, cut on quantization-block boundaries) sends its partial sums to
/// rank 0, which adds them in rank order and sends the totals back: two all-reduces of `tokens x hidden` floats
/// per layer. The head is vocabulary-parallel: each rank returns the logits of its share of the vocabulary for the
/// sampled rows only.
public final class TensorParallelExecutor: ModelExecutor, @unchecked Sendable {  // execute is called from one thread
    public let config: ModelConfig
    /// Rank 0, in this process.
    public let local: DecoderModel
    private let group: LinkGroup
    private var cache: PagedKVCache?
    private var hidden: [Float] = []
    private var partial: [Float] = []
    private var localLogits: [Float] = []
    private var remoteLogits: [Float] = []
    private let reducer: GroupReducer

    /// Connects every worker and has it load its rank.
    /// - Throws: the first worker's failure to connect or load.
    public init(local: DecoderModel, links: [WorkerLink]) throws {
        precondition(local.shard.tensorRank == 0 && local.shard.holdsEmbedding && local.shard.holdsHead && !links.isEmpty,
                     "tensor parallelism needs rank 0 here and at least one worker")
        config = local.config
        self.local = local
        group = LinkGroup(links: links)
        reducer = GroupReducer(links: links)
        try group.connectAll()
    }

    public var links: [WorkerLink] { group.links }

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
        let h = config.hiddenSize, n = batch.tokens.count, rows = batch.logitRows.count, vocab = config.vocabularySize
        if hidden.count < n * h { hidden = [Float](repeating: 0, count: n * h) }
        if localLogits.count < rows * local.logitsWidth { localLogits = [Float](repeating: 0, count: rows * local.logitsWidth) }
        let clock = ContinuousClock()
        let start = clock.now
        reducer.reset(scratch: n * h)
        do {
            for link in links { try link.sendForward(batch, hidden: UnsafeBufferPointer(start: nil, count: 0)) }
            try hidden.withUnsafeMutableBufferPointer { x in
                local.embed(batch, into: x.baseAddress!)
                try local.forward(batch, layers: local.shard.layers, hidden: x.baseAddress!, cache: cache, reducer: reducer)
                localLogits.withUnsafeMutableBufferPointer { local.head(batch, hidden: x.baseAddress!, logits: $0.baseAddress!) }
            }
            let localSeconds = (clock.now - start).seconds - reducer.waitedSeconds
            // Gather the vocabulary shares into whole rows: rank 0's columns first, then each worker's.
            scatter(localLogits, width: local.logitsWidth, offset: 0, rows: rows, into: logits, vocab: vocab)
            var offset = local.logitsWidth
            var compute = [localSeconds], network = [0.0], straggler = [reducer.waitedSeconds]
            for link in links {
                let width = link.reply?.logitsWidth ?? 0
                if remoteLogits.count < rows * width { remoteLogits = [Float](repeating: 0, count: rows * width) }
                let got = try remoteLogits.withUnsafeMutableBufferPointer {
                    try link.receiveForwarded(into: $0.baseAddress!, capacity: rows * width)
                }
                guard got == rows * width else {
                    throw ClusterError(.protocolViolation, "\(link.name) returned \(got) logits, expected \(rows * width)")
                }
                scatter(remoteLogits, width: width, offset: offset, rows: rows, into: logits, vocab: vocab)
                offset += width
                compute.append(link.lastComputeSeconds)
                network.append(0)
                straggler.append(0)
            }
            guard offset == vocab else { throw ClusterError(.protocolViolation, "the ranks' vocabulary shares cover \(offset) of \(vocab)") }
            group.record(compute: compute, network: network, straggler: straggler)
        } catch {
            group.fail(error)
            throw error
        }
    }

    private func scatter(_ source: [Float], width: Int, offset: Int, rows: Int, into logits: UnsafeMutablePointer<Float>, vocab: Int) {
        source.withUnsafeBufferPointer { src in
            for row in 0..<rows {
                (logits + row * vocab + offset).update(from: src.baseAddress! + row * width, count: width)
            }
        }
    }

    public func profile() -> ExecutorProfile {
        group.profile(leaderName: "rank 0 (\(local.shard), here; straggler = waiting for the other ranks' sums)") { index, link in
            "rank \(index + 1) (\(link.name))"
        }
    }

    public func shutdown() { group.shutdown() }
}

/// Rank 0's all-reduce: receives every worker's partial sums in rank order, adds them to its own, and sends the
/// totals back to every worker.
final class GroupReducer: PartialSumReducer {
    let links: [WorkerLink]
    private var scratch: [Float] = []
    /// Seconds spent waiting for the workers' partial sums in the current step.
    private(set) var waitedSeconds = 0.0

    init(links: [WorkerLink]) {
        self.links = links
    }

    func reset(scratch count: Int) {
        if scratch.count < count { scratch = [Float](repeating: 0, count: count) }
        waitedSeconds = 0
    }

    func allReduce(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
        if scratch.count < count { scratch = [Float](repeating: 0, count: count) }
        let clock = ContinuousClock()
        let start = clock.now
        try scratch.withUnsafeMutableBufferPointer { partial in
            for link in links {
                try link.receivePartialSum(into: partial.baseAddress!, count: count)
                for i in 0..<count { values[i] += partial[i] }
            }
        }
        waitedSeconds += (clock.now - start).seconds
        for link in links { try link.sendReducedSum(UnsafeBufferPointer(start: values, count: count)) }
    }
}
