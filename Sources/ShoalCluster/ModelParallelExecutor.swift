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
    /// Stage 0's all-reduce over the links.
    private let reducer: GroupReducer
    /// Stage 0's shared segment (rank 0's mapping), when all of its ranks attached. Replaced on the thread that
    /// forms the group, before the group counts as formed; read by steps, which run only while it is formed.
    private var leaderSegment: SharedReduction?
    /// Per stage, whether its ranks all-reduce through shared memory (same discipline as `leaderSegment`).
    private var stageShared: [Bool]
    /// How each stage's all-reduce runs, for the profile (read from other threads).
    private let transport: Mutex<[String]>

    /// Connects every worker and has it load its share.
    /// - Parameters:
    ///   - local: stage 0 rank 0 (it holds the embedding; with one stage, also the head).
    ///   - stages: per stage, its workers in rank order; stage 0's lack rank 0. With one rank per stage and one
    ///     stage after the first this is a two-stage pipeline; with one stage, plain tensor parallelism.
    ///   - sharedMemory: offer each stage's ranks a shared-memory all-reduce (ranks on other hosts decline).
    /// - Throws: the first worker's failure to connect or load.
    public init(local: DecoderModel, stages: [[WorkerLink]], sharedMemory: Bool = true) throws {
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

    public var cacheBytesPerToken: Int { group.cacheBytesPerToken(local: local) }

    public func allocateCache(blockCount: Int, blockSize: Int) throws {
        cache = try group.allocateCaches(local: local, blockCount: blockCount, blockSize: blockSize)
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

    public func execute(_ batch: ForwardBatch, logits: UnsafeMutablePointer<Float>) throws {
        guard let cache else { throw ModelError(.invalidBatch, "the KV cache has not been allocated") }
        try group.checkFormed()
        try local.validate(batch, cache: cache)
        if batch.tokens.isEmpty { return }
        let h = config.hiddenSize, n = batch.tokens.count
        grow(&hidden, n * h)
        grow(&received, n * h)
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + (stages.joined().first?.timeout ?? .seconds(30))
        // Per part (this process, then the links in stage order): compute, network and straggler seconds.
        var compute = [0.0], network = [0.0], straggler = [0.0]
        do {
            // Stage 0: this process and its ranks, which embed the batch themselves.
            for link in stages[0] { try link.sendForward(batch, hidden: UnsafeBufferPointer(start: nil, count: 0)) }
            let (stepReducer, waited) = stageZeroReducer(hiddenCount: n * h, deadline: deadline)
            try hidden.withUnsafeMutableBufferPointer { x in
                local.embed(batch, into: x.baseAddress!)
                do {
                    if let stepReducer {
                        try local.forward(batch, layers: local.shard.layers, hidden: x.baseAddress!, cache: cache, reducer: stepReducer)
                    } else {
                        try local.forward(batch, layers: local.shard.layers, hidden: x.baseAddress!, cache: cache, reducer: nil)
                    }
                } catch let error as ClusterError where leaderSegment != nil && error.code == .closed {
                    // A rank failed mid-step: report what it sent (its error, or its link's close).
                    throw stages[0].lazy.compactMap { $0.pendingError() }.first ?? error
                }
                if local.shard.holdsHead {
                    grow(&localLogits, batch.logitRows.count * local.logitsWidth)
                    localLogits.withUnsafeMutableBufferPointer { local.head(batch, hidden: x.baseAddress!, logits: $0.baseAddress!) }
                }
            }
            compute[0] = (clock.now - start).seconds - waited()
            straggler[0] = waited()
            if local.shard.holdsHead {
                scatter(localLogits, width: local.logitsWidth, offset: 0, rows: batch.logitRows.count, into: logits)
            }
            try finish(stage: 0, batch: batch, replies: stages[0].map { try $0.receiveFrame(expect: .forwarded) }, offset: local.logitsWidth,
                       logits: logits, compute: &compute, network: &network, straggler: &straggler, since: start)

            // Later stages: the hidden states go to every rank; the last returns logits shares.
            for index in 1..<stages.count {
                let stageStart = clock.now
                let links = stages[index]
                for link in links {
                    try hidden.withUnsafeBufferPointer { try link.sendForward(batch, hidden: UnsafeBufferPointer(rebasing: $0[0..<(n * h)])) }
                }
                let replies = stageShared[index] || links.count == 1
                    ? try links.map { try $0.receiveFrame(expect: .forwarded) }
                    : try relay(links, count: n * h)
                try finish(stage: index, batch: batch, replies: replies, offset: 0, logits: logits,
                           compute: &compute, network: &network, straggler: &straggler, since: stageStart)
            }
        } catch {
            group.fail(error)
            throw error
        }
        group.record(compute: compute, network: network, straggler: straggler)
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
            grow(&partial, values)
            try scratch.withUnsafeMutableBufferPointer { sum in
                try links[0].partialSumFloats(first, into: sum.baseAddress!, count: values)
                try partial.withUnsafeMutableBufferPointer { p in
                    for link in links.dropFirst() {
                        try link.receivePartialSum(into: p.baseAddress!, count: values)
                        for i in 0..<values { sum[i] += p[i] }
                    }
                }
                for link in links { try link.sendReducedSum(UnsafeBufferPointer(rebasing: sum[0..<values])) }
            }
        }
    }

    /// Takes a stage's `forwarded` replies: the last stage's logits shares into `logits` (after `offset`
    /// columns already there), a middle stage's hidden states (rank 0's; the other ranks send none) into `hidden`.
    private func finish(stage index: Int, batch: ForwardBatch, replies: [Frame], offset: Int, logits: UnsafeMutablePointer<Float>,
                        compute: inout [Double], network: inout [Double], straggler: inout [Double],
                        since start: ContinuousClock.Instant) throws {
        let links = stages[index], isLast = index == stages.count - 1
        let rows = batch.logitRows.count, n = batch.tokens.count, h = config.hiddenSize
        let elapsed = (ContinuousClock.now - start).seconds
        var offset = offset
        for (rank, (link, frame)) in zip(links, replies).enumerated() {
            if isLast {
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
            compute.append(link.lastComputeSeconds)
            // Stage 0's workers overlap with this process; a later stage's time beyond its compute is the wire's.
            network.append(index == 0 ? 0 : max(0, elapsed - link.lastComputeSeconds))
            straggler.append(0)
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
        var names: [String] = []
        for (index, links) in stages.enumerated() {
            for (position, link) in links.enumerated() {
                let rank = index == 0 ? position + 1 : position
                var name = stages.count > 1 ? "stage \(index)" : ""
                if ranks > 1 { name += (name.isEmpty ? "" : " ") + "rank \(rank)" }
                if index > 0, ranks > 1, position == 0 { name += " (all-reduce over \(transport[index]))" }
                names.append("\(name) (\(link.name))")
            }
        }
        let leader = (stages.count > 1 ? "stage 0" : "") + (ranks > 1 ? (stages.count > 1 ? " rank 0" : "rank 0") : "")
        return group.profile(leaderName: "\(leader) (\(local.shard), here\(split))") { index, _ in names[index] }
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
