public import ShoalKernels
public import ShoalEngine
public import ShoalModels
import Synchronization

/// Runs a model split across processes: `P` pipeline stages (contiguous layer ranges, balanced by cost), each
/// split tensor-parallel over `T` ranks (query heads grouped with their KV heads, feed-forward columns, vocabulary
/// rows). Stage 0 rank 0 is this process; every other share is a `shoal worker` on this or another host.
///
/// A step: stage 0's ranks embed the batch themselves (only the ids cross the wire) and run their layers; each
/// later stage receives the hidden states (tokens x hidden floats) from the stage before and runs its layers; the
/// last stage's ranks return the logits of their vocabulary shares for the sampled rows only. Each stage's KV
/// cache holds only its layers.
///
/// Within a stage, after the attention output and the down projection (row-parallel, cut on quantization-block
/// boundaries) the ranks all-reduce their partial sums, `tokens x hidden` floats, twice per layer:
/// - through shared memory when every rank of the stage is on the leader's host (`SharedReduction`: no system
///   call; each rank adds all slots in rank order itself);
/// - else through this process over the links: stage 0's sums meet here (rank 0 adds the others' to its own in
///   rank order and sends the totals back); a later stage's are relayed here the same way.
/// Either way the sums are added in rank order, so results do not depend on timing or transport.
///
/// With more than one stage, up to one step per stage is in flight (`submit` runs stage 0 and hands the hidden
/// states on; `collect` takes them through the later stages), so that under load stage 0 computes the next batch
/// while the others compute the previous ones.
///
/// A worker that fails (killed, stopped, cut off) fails the step within the step timeout; the executor then
/// reports itself unavailable and re-forms the group in the background (each worker reloads its share, with an
/// empty cache: the engine drops its sequences on a failure), and serves again once all are back.
public final class ModelParallelExecutor: ModelExecutor, @unchecked Sendable {  // execute is called from one thread
    public let config: ModelConfig
    /// Stage 0, rank 0, in this process.
    public let local: DecoderModel
    /// Per stage, its workers in rank order (stage 0 without rank 0, which is `local`).
    private let stages: [[WorkerLink]]
    private let group: LinkGroup
    private let sharedMemory: Bool
    private let ranks: Int
    private var cache: PagedKVCache?
    private var hidden: [Float] = []
    private var received: [Float] = []
    private var scratch: [Float] = []
    private var partial: [Float] = []
    private var localLogits: [Float] = []
    /// Steps submitted and not yet collected, oldest first.
    private var pending: [Pending] = []

    /// A submitted step: when it started and stage 0's share of its time split.
    private struct Pending {
        var tokens: Int
        var start: ContinuousClock.Instant
        var compute: [Double] = [0]
        var network: [Double] = [0]
        var straggler: [Double] = [0]
    }
    /// Stage 0's all-reduce over the links.
    private let reducer: GroupReducer
    /// Stage 0's shared segment (rank 0's mapping), when all of its ranks attached. Replaced on the thread that
    /// forms the group, before the group counts as formed; read by steps, which run only while it is formed.
    private var leaderSegment: SharedReduction?
    /// Per stage, whether its ranks all-reduce through shared memory (same discipline as `leaderSegment`).
    private var stageShared: [Bool]
    /// How each stage's all-reduce runs, for the profile (read from other threads).
    private let transport: Mutex<[String]>
    /// How this process's KV cache stores keys and values.
    public let cacheType: KVCacheType

    /// Connects every worker and has it load its share.
    /// - Parameters:
    ///   - local: stage 0 rank 0 (it holds the embedding; with one stage, also the head).
    ///   - stages: per stage, its workers in rank order; stage 0's lack rank 0. With one rank per stage and one
    ///     stage after the first this is a two-stage pipeline; with one stage, plain tensor parallelism.
    ///   - sharedMemory: offer each stage's ranks a shared-memory all-reduce (ranks on other hosts decline).
    ///   - cacheType: how this process's KV cache stores keys and values (the workers are told in their load requests).
    /// - Throws: the first worker's failure to connect or load; `ModelError` when `cacheType` cannot hold the heads.
    public init(local: DecoderModel, stages: [[WorkerLink]], sharedMemory: Bool = true, cacheType: KVCacheType = .f32) throws {
        if let reason = PagedKVCache.unsupportedReason(type: cacheType, headDim: local.config.headDim) {
            throw ModelError(.invalidBatch, reason)
        }
        self.cacheType = cacheType
        let ranks = local.shard.tensorCount
        precondition(local.shard.tensorRank == 0 && local.shard.holdsEmbedding && !stages.isEmpty
                     && stages[0].count == ranks - 1 && stages.dropFirst().allSatisfy { $0.count == ranks }
                     && local.shard.holdsHead == (stages.count == 1) && stages.joined().contains { _ in true },
                     "a model-parallel group needs stage 0 rank 0 here, every other rank a worker, and at least one worker")
        config = local.config
        self.local = local
        self.stages = stages
        self.ranks = ranks
        self.sharedMemory = sharedMemory
        group = LinkGroup(links: Array(stages.joined()))
        reducer = GroupReducer(links: stages[0])
        stageShared = Array(repeating: false, count: stages.count)
        transport = Mutex(Array(repeating: "links", count: stages.count))
        group.afterForming = { [weak self] in try self?.offerSharedSegments() }
        try group.connectAll()
    }

    /// Per stage, whether its all-reduce runs through shared memory (every rank attached to the segment).
    public var sharedMemoryStages: [Bool] { transport.withLock { $0.map { $0 == "shared memory" } } }

    public var cacheBytesPerToken: Int { group.cacheBytesPerToken(local: local, type: cacheType) }

    public func allocateCache(blockCount: Int, blockSize: Int) throws {
        cache = try group.allocateCaches(local: local, type: cacheType, blockCount: blockCount, blockSize: blockSize)
    }

    public var failure: String? { group.failure }

    // MARK: Forming

    /// Gives every stage with more than one rank a fresh segment, kept only when all of its ranks attach (and
    /// withdrawn from those that did otherwise). Names are removed at once: the mappings are all that is left.
    private func offerSharedSegments() throws {
        leaderSegment = nil
        stageShared = Array(repeating: false, count: stages.count)
        var described = Array(repeating: ranks > 1 ? "links" : "none", count: stages.count)
        defer { transport.withLock { $0 = described } }
        guard sharedMemory, ranks > 1 else { return }
        for (index, links) in stages.enumerated() {
            let created: SharedReduction, nonce: [UInt8]
            do {
                (created, nonce) = try SharedReduction.create(ranks: ranks)
            } catch {
                described[index] = "links (no shared memory: \(error))"
                continue
            }
            defer { created.unlinkName() }
            let offer = WorkerProtocol.AttachShared(path: created.path, nonce: nonce, ranks: ranks, slotFloats: created.slotFloats)
            var attached: [WorkerLink] = [], refusals: [String] = []
            for link in links {
                if let reason = try link.offerShared(offer) { refusals.append("\(link.name): \(reason)") } else { attached.append(link) }
            }
            if refusals.isEmpty {
                stageShared[index] = true
                if index == 0 { leaderSegment = created }
                described[index] = "shared memory"
                continue
            }
            described[index] = "links (\(refusals.joined(separator: "; ")))"
            var withdrawal = offer
            withdrawal.path = ""
            for link in attached { _ = try link.offerShared(withdrawal) }
        }
    }

    // MARK: Steps

    public var pipelineDepth: Int { stages.count }

    public func execute(_ batch: ForwardBatch, logits: UnsafeMutablePointer<Float>) throws {
        try submit(batch)
        try collect(batch, logits: logits)
    }

    /// Runs stage 0 (this process and its ranks) and, with more stages, sends the hidden states to stage 1.
    public func submit(_ batch: ForwardBatch) throws {
        guard let cache else { throw ModelError(.invalidBatch, "the KV cache has not been allocated") }
        try group.checkFormed()
        try local.validate(batch, cache: cache)
        let clock = ContinuousClock()
        var step = Pending(tokens: batch.tokens.count, start: clock.now)
        if batch.tokens.isEmpty {
            pending.append(step)
            return
        }
        let h = config.hiddenSize, n = batch.tokens.count
        grow(&hidden, n * h)
        grow(&received, n * h)
        let deadline = step.start + (stages.joined().first?.timeout ?? .seconds(30))
        do {
            for link in stages[0] { try link.sendForward(batch, hidden: UnsafeBufferPointer(start: nil, count: 0)) }
            let (stepReducer, waited) = stageZeroReducer(hiddenCount: n * h, deadline: deadline)
            try hidden.withUnsafeMutableBufferPointer { x in
                local.embed(batch, into: x.baseAddress!)
                do {
                    try local.forward(batch, layers: local.shard.layers, hidden: x.baseAddress!, cache: cache, reducer: stepReducer)
                } catch let error as ClusterError where leaderSegment != nil && error.code == .closed {
                    // A rank failed mid-step: report what it sent (its error, or its link's close).
                    throw stages[0].lazy.compactMap { $0.pendingError() }.first ?? error
                }
                if local.shard.holdsHead {
                    grow(&localLogits, batch.logitRows.count * local.logitsWidth)
                    localLogits.withUnsafeMutableBufferPointer { local.head(batch, hidden: x.baseAddress!, logits: $0.baseAddress!) }
                }
            }
            step.compute[0] = (clock.now - step.start).seconds - waited()
            step.straggler[0] = waited()
            if stages.count > 1 {
                // Stage 0's other ranks reply with nothing; the hidden states go on to stage 1.
                let replies = try stages[0].map { try $0.receiveFrame(expect: .forwarded) }
                try take(stage: 0, batch: batch, replies: replies, offset: 0, logits: nil, into: &step, since: step.start)
                try send(batch, toStage: 1)
            }
        } catch {
            pending.removeAll()
            group.fail(error)
            throw error
        }
        pending.append(step)
    }

    /// Takes the oldest submitted step, `batch`, through the later stages (or gathers stage 0's vocabulary
    /// shares when there is one stage) into `logits`.
    public func collect(_ batch: ForwardBatch, logits: UnsafeMutablePointer<Float>) throws {
        guard !pending.isEmpty else { throw ModelError(.invalidBatch, "collect without a submitted step") }
        var step = pending.removeFirst()
        guard step.tokens == batch.tokens.count else {
            pending.removeAll()
            throw ModelError(.invalidBatch, "collect of a batch of \(batch.tokens.count) tokens; the oldest submitted has \(step.tokens)")
        }
        if batch.tokens.isEmpty { return }
        let n = batch.tokens.count, h = config.hiddenSize
        do {
            if stages.count == 1 {
                scatter(localLogits, width: local.logitsWidth, offset: 0, rows: batch.logitRows.count, into: logits)
                let replies = try stages[0].map { try $0.receiveFrame(expect: .forwarded) }
                try take(stage: 0, batch: batch, replies: replies, offset: local.logitsWidth, logits: logits, into: &step, since: step.start)
            }
            for index in stages.indices.dropFirst() {
                let stageStart = ContinuousClock.now
                if index > 1 { try send(batch, toStage: index) }
                let links = stages[index]
                let replies = stageShared[index] || links.count == 1
                    ? try links.map { try $0.receiveFrame(expect: .forwarded) }
                    : try relay(links, count: n * h)
                try take(stage: index, batch: batch, replies: replies, offset: 0, logits: logits, into: &step, since: stageStart)
            }
        } catch {
            pending.removeAll()
            group.fail(error)
            throw error
        }
        group.record(compute: step.compute, network: step.network, straggler: step.straggler)
    }

    /// Sends the hidden states of `batch` to every rank of stage `index`.
    private func send(_ batch: ForwardBatch, toStage index: Int) throws {
        let count = batch.tokens.count * config.hiddenSize
        for link in stages[index] {
            try hidden.withUnsafeBufferPointer { try link.sendForward(batch, hidden: UnsafeBufferPointer(rebasing: $0[0..<count])) }
        }
    }

    /// Stage 0's reducer for this step (nil with one rank) and how long it has waited so far.
    private func stageZeroReducer(hiddenCount: Int, deadline: ContinuousClock.Instant) -> ((any PartialSumReducer)?, () -> Double) {
        guard ranks > 1 else { return (nil, { 0 }) }
        if let segment = leaderSegment {
            segment.resetWaited()
            let links = stages[0]
            let reducer = SharedSumReducer(segment: segment) {
                if let failed = links.first(where: { $0.hasPendingInput }) {
                    throw ClusterError(.closed, "\(failed.name) sent something during the all-reduce")
                }
                if ContinuousClock.now > deadline {
                    throw ClusterError(.timedOut, "the ranks did not finish the step's all-reduce within the step timeout")
                }
            }
            return (reducer, { segment.waitedSeconds })
        }
        reducer.reset(scratch: hiddenCount)
        return (reducer, { [reducer] in reducer.waitedSeconds })
    }

    /// Relays the all-reduces of a stage whose ranks are all workers and do not share memory: each round, every
    /// rank's partial sums arrive, the totals (added in rank order) go back to each; until the ranks reply.
    /// - Returns: the ranks' `forwarded` replies, in rank order.
    private func relay(_ links: [WorkerLink], count: Int) throws -> [Frame] {
        while true {
            let first = try links[0].receivePartialSumOrForwarded()
            if first.kind == WorkerProtocol.Kind.forwarded.rawValue {
                return [first] + (try links.dropFirst().map { try $0.receiveFrame(expect: .forwarded) })
            }
            var r = PayloadReader(first)
            let values = Int(try r.readUInt32())
            guard values <= count else { throw ClusterError(.protocolViolation, "\(links[0].name): \(values) partial sums for \(count)") }
            grow(&scratch, values)
            try scratch.withUnsafeMutableBufferPointer { sum in
                try links[0].partialSumFloats(first, into: sum.baseAddress!, count: values)
                try GroupReducer.addPartialSums(of: links.dropFirst(), to: sum.baseAddress!, count: values, scratch: &partial)
                for link in links { try link.sendReducedSum(UnsafeBufferPointer(rebasing: sum[0..<values])) }
            }
        }
    }

    /// Takes a stage's `forwarded` replies: the last stage's logits shares into `logits` (after `offset`
    /// columns already there), a middle stage's hidden states (rank 0's; the other ranks send none) into `hidden`;
    /// and the ranks' time split into `step`.
    private func take(stage index: Int, batch: ForwardBatch, replies: [Frame], offset: Int, logits: UnsafeMutablePointer<Float>?,
                      into step: inout Pending, since start: ContinuousClock.Instant) throws {
        let links = stages[index], isLast = index == stages.count - 1
        let rows = batch.logitRows.count, n = batch.tokens.count, h = config.hiddenSize
        let elapsed = (ContinuousClock.now - start).seconds
        var offset = offset
        for (rank, (link, frame)) in zip(links, replies).enumerated() {
            if isLast, let logits {
                let width = link.reply?.logitsWidth ?? 0
                grow(&received, rows * width)
                let got = try received.withUnsafeMutableBufferPointer { try link.forwardedFloats(frame, into: $0.baseAddress!, capacity: rows * width) }
                guard got == rows * width else {
                    throw ClusterError(.protocolViolation, "\(link.name) returned \(got) logits, expected \(rows * width)")
                }
                scatter(received, width: width, offset: offset, rows: rows, into: logits)
                offset += width
            } else {
                let expected = index > 0 && rank == 0 ? n * h : 0
                let got = try received.withUnsafeMutableBufferPointer { try link.forwardedFloats(frame, into: $0.baseAddress!, capacity: n * h) }
                guard got == expected else {
                    throw ClusterError(.protocolViolation, "\(link.name) returned \(got) floats, expected \(expected)")
                }
                if expected > 0 { swap(&hidden, &received) }
            }
            step.compute.append(link.lastComputeSeconds)
            // Stage 0's workers overlap with this process; a later stage's time beyond its compute is the wire's
            // (and, with batches in flight, the wait behind the batch before).
            step.network.append(index == 0 ? 0 : max(0, elapsed - link.lastComputeSeconds))
            step.straggler.append(0)
        }
        if isLast, offset != config.vocabularySize {
            throw ClusterError(.protocolViolation, "the ranks' vocabulary shares cover \(offset) of \(config.vocabularySize)")
        }
    }

    private func scatter(_ source: [Float], width: Int, offset: Int, rows: Int, into logits: UnsafeMutablePointer<Float>) {
        let vocab = config.vocabularySize
        source.withUnsafeBufferPointer { src in
            for row in 0..<rows {
                (logits + row * vocab + offset).update(from: src.baseAddress! + row * width, count: width)
            }
        }
    }

    private func grow(_ array: inout [Float], _ count: Int) {
        if array.count < count { array = [Float](repeating: 0, count: count) }
    }

    public func profile() -> ExecutorProfile {
        let transport = transport.withLock { $0 }
        let split = ranks > 1 ? ", all-reduce over \(transport[0]); straggler = waiting for the other ranks' sums" : ""
        func role(stage: Int, rank: Int) -> String {
            [stages.count > 1 ? "stage \(stage)" : nil, ranks > 1 ? "rank \(rank)" : nil].compactMap { $0 }.joined(separator: " ")
        }
        var names: [(name: String, role: String)] = []
        for (index, links) in stages.enumerated() {
            for (position, link) in links.enumerated() {
                let part = role(stage: index, rank: index == 0 ? position + 1 : position)
                let reduce = index > 0 && ranks > 1 && position == 0 ? " (all-reduce over \(transport[index]))" : ""
                names.append(("\(part)\(reduce) (\(link.name))", part))
            }
        }
        let leader = role(stage: 0, rank: 0)
        return group.profile(leader: ("\(leader) (\(local.shard), here\(split))", leader)) { index, _ in names[index] }
    }

    public func shutdown() { group.shutdown() }
}

/// Stage 0's all-reduce over the links, at rank 0: receives every worker's partial sums in rank order, adds them
/// to its own, and sends the totals back to every worker.
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

    /// Receives each link's partial sums in rank order and adds them to `values` (`scratch` holds one at a time).
    static func addPartialSums(of links: some Sequence<WorkerLink>, to values: UnsafeMutablePointer<Float>, count: Int,
                               scratch: inout [Float]) throws {
        if scratch.count < count { scratch = [Float](repeating: 0, count: count) }
        try scratch.withUnsafeMutableBufferPointer { partial in
            for link in links {
                try link.receivePartialSum(into: partial.baseAddress!, count: count)
                for i in 0..<count { values[i] += partial[i] }
            }
        }
    }

    func allReduce(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
        let clock = ContinuousClock()
        let start = clock.now
        try Self.addPartialSums(of: links, to: values, count: count, scratch: &scratch)
        waitedSeconds += (clock.now - start).seconds
        for link in links { try link.sendReducedSum(UnsafeBufferPointer(start: values, count: count)) }
    }
}
