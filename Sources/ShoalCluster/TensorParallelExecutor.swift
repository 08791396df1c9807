public import ShoalEngine
public import ShoalModels
import Synchronization

/// Runs a model split tensor-parallel: every rank holds a slice of every layer (query heads grouped with their KV
/// heads, feed-forward columns, vocabulary rows); rank 0 is this process, the others are `shoal worker`s.
///
/// Each rank embeds the batch itself (only the ids cross the wire), computes its slices, and after the attention
/// output and the down projection (row-parallel, cut on quantization-block boundaries) sends its partial sums to
/// rank 0, which adds them in rank order and sends the totals back: two all-reduces of `tokens x hidden` floats
/// per layer. The head is vocabulary-parallel: each rank returns the logits of its share of the vocabulary for the
/// sampled rows only.
///
/// When the workers share this host, the all-reduce goes through shared memory instead (`SharedReduction`): each
/// rank adds all ranks' slots in rank order itself, so the sums are the same as over the links, with no system
/// call per exchange.
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
    private let sharedMemory: Bool
    /// The shared segment every worker attached to, when all did. Replaced on the thread that forms the group,
    /// before the group counts as formed; read by steps, which run only while it is formed.
    private var segment: SharedReduction?
    /// How the all-reduce runs, for the profile (read from other threads).
    private let transport = Mutex("links")

    /// Connects every worker and has it load its rank.
    /// - Parameter sharedMemory: offer the workers a shared-memory all-reduce (those on other hosts decline).
    /// - Throws: the first worker's failure to connect or load.
    public init(local: DecoderModel, links: [WorkerLink], sharedMemory: Bool = true) throws {
        precondition(local.shard.tensorRank == 0 && local.shard.holdsEmbedding && local.shard.holdsHead && !links.isEmpty,
                     "tensor parallelism needs rank 0 here and at least one worker")
        config = local.config
        self.local = local
        self.sharedMemory = sharedMemory
        group = LinkGroup(links: links)
        reducer = GroupReducer(links: links)
        group.afterForming = { [weak self] in try self?.offerSharedSegment() }
        try group.connectAll()
    }

    /// Whether the all-reduce runs through shared memory (every worker attached to the segment).
    public var usesSharedMemory: Bool { transport.withLock { $0 == "shared memory" } }

    /// Creates a fresh segment and offers it to every worker; keeps it only when all attach (withdrawing it from
    /// those that did otherwise). Its name is removed at once: the mappings are all that is left.
    private func offerSharedSegment() throws {
        segment = nil
        transport.withLock { $0 = "links" }
        guard sharedMemory else { return }
        let ranks = links.count + 1
        let created: SharedReduction, nonce: [UInt8]
        do {
            (created, nonce) = try SharedReduction.create(ranks: ranks)
        } catch {
            transport.withLock { $0 = "links (no shared memory: \(error))" }
            return
        }
        defer { created.unlinkName() }
        let offer = WorkerProtocol.AttachShared(path: created.path, nonce: nonce, ranks: ranks, slotFloats: created.slotFloats)
        var attached: [WorkerLink] = [], refusals: [String] = []
        for link in links {
            if let reason = try link.offerShared(offer) { refusals.append("\(link.name): \(reason)") } else { attached.append(link) }
        }
        if refusals.isEmpty {
            segment = created
            transport.withLock { $0 = "shared memory" }
            return
        }
        transport.withLock { $0 = "links (\(refusals.joined(separator: "; ")))" }
        var withdrawal = offer
        withdrawal.path = ""
        for link in attached { _ = try link.offerShared(withdrawal) }
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
        let h = config.hiddenSize, n = batch.tokens.count, rows = batch.logitRows.count, vocab = config.vocabularySize
        if hidden.count < n * h { hidden = [Float](repeating: 0, count: n * h) }
        if localLogits.count < rows * local.logitsWidth { localLogits = [Float](repeating: 0, count: rows * local.logitsWidth) }
        let clock = ContinuousClock()
        let start = clock.now
        let stepReducer: any PartialSumReducer
        let waited: () -> Double
        if let segment {
            segment.resetWaited()
            let deadline = start + (links.first?.timeout ?? .seconds(30))
            stepReducer = SharedSumReducer(segment: segment) { [links] in
                if let failed = links.first(where: { $0.hasPendingInput }) {
                    throw ClusterError(.closed, "\(failed.name) sent something during the all-reduce")
                }
                if ContinuousClock.now > deadline {
                    throw ClusterError(.timedOut, "the ranks did not finish the step's all-reduce within the step timeout")
                }
            }
            waited = { segment.waitedSeconds }
        } else {
            reducer.reset(scratch: n * h)
            stepReducer = reducer
            waited = { [reducer] in reducer.waitedSeconds }
        }
        do {
            for link in links { try link.sendForward(batch, hidden: UnsafeBufferPointer(start: nil, count: 0)) }
            try hidden.withUnsafeMutableBufferPointer { x in
                local.embed(batch, into: x.baseAddress!)
                do {
                    try local.forward(batch, layers: local.shard.layers, hidden: x.baseAddress!, cache: cache, reducer: stepReducer)
                } catch let error as ClusterError where segment != nil && error.code == .closed {
                    // A rank failed mid-step: report what it sent (its error, or its link's close).
                    throw links.lazy.compactMap { $0.pendingError() }.first ?? error
                }
                localLogits.withUnsafeMutableBufferPointer { local.head(batch, hidden: x.baseAddress!, logits: $0.baseAddress!) }
            }
            let localSeconds = (clock.now - start).seconds - waited()
            // Gather the vocabulary shares into whole rows: rank 0's columns first, then each worker's.
            scatter(localLogits, width: local.logitsWidth, offset: 0, rows: rows, into: logits, vocab: vocab)
            var offset = local.logitsWidth
            var compute = [localSeconds], network = [0.0], straggler = [waited()]
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
        let transport = transport.withLock { $0 }
        return group.profile(leaderName: "rank 0 (\(local.shard), here; all-reduce over \(transport); straggler = waiting for the other ranks' sums)") { index, link in
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
