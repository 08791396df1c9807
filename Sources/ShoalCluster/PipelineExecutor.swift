import Foundation
public import ShoalEngine
public import ShoalModels
import Synchronization

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
    /// The other stages, in order.
    public let links: [WorkerLink]
    private var cache: PagedKVCache?
    private var hidden: [Float] = []
    private var spare: [Float] = []
    private let status = Mutex(Status())
    private let reforming = Mutex(false)

    private struct Status {
        var failure: String?
        var steps = 0
        var compute: [Double] = []
        var network: [Double] = []
        var stopped = false
    }

    /// Connects every worker and has it load its stage.
    /// - Throws: the first worker's failure to connect or load.
    public init(local: DecoderModel, links: [WorkerLink]) throws {
        precondition(local.shard.holdsEmbedding && !links.isEmpty, "a pipeline needs the first stage here and at least one worker")
        config = local.config
        self.local = local
        self.links = links
        status.withLock {
            $0.compute = Array(repeating: 0, count: links.count + 1)
            $0.network = Array(repeating: 0, count: links.count + 1)
        }
        for link in links { try link.connect() }
    }

    public var cacheBytesPerToken: Int {
        let localBytes = PagedKVCache.bytesPerToken(layerCount: local.shard.layers.count, kvWidth: local.cacheKVWidth)
        return links.compactMap { $0.reply?.cacheBytesPerToken }.reduce(localBytes, max)
    }

    public func allocateCache(blockCount: Int, blockSize: Int) throws {
        cache = try PagedKVCache(layers: local.shard.layers, kvWidth: local.cacheKVWidth, blockCount: blockCount, blockSize: blockSize)
        for link in links { try link.allocateCache(blockCount: blockCount, blockSize: blockSize) }
    }

    public var failure: String? { status.withLock { $0.failure } }

    public func execute(_ batch: ForwardBatch, logits: UnsafeMutablePointer<Float>) throws {
        guard let cache else { throw ModelError(.invalidBatch, "the KV cache has not been allocated") }
        if let failure = status.withLock({ $0.failure }) {
            throw ModelError(.invalidBatch, "the model-parallel group is not formed: \(failure)")
        }
        try local.validate(batch, cache: cache)
        if batch.tokens.isEmpty { return }
        let h = config.hiddenSize, n = batch.tokens.count
        if hidden.count < n * h { hidden = [Float](repeating: 0, count: n * h) }
        if spare.count < n * h { spare = [Float](repeating: 0, count: n * h) }
        let clock = ContinuousClock()
        var start = clock.now
        var compute = [Double](repeating: 0, count: links.count + 1)
        var network = [Double](repeating: 0, count: links.count + 1)
        do {
            try hidden.withUnsafeMutableBufferPointer { x in
                local.embed(batch, into: x.baseAddress!)
                try local.forward(batch, layers: local.shard.layers, hidden: x.baseAddress!, cache: cache, reducer: nil)
            }
            compute[0] = (clock.now - start).seconds
            for (index, link) in links.enumerated() {
                start = clock.now
                let isLast = index == links.count - 1
                try hidden.withUnsafeBufferPointer { input in
                    let x = UnsafeBufferPointer(rebasing: input[0..<(n * h)])
                    if isLast {
                        let width = batch.logitRows.count * config.vocabularySize
                        let written = try link.forward(batch, hidden: x, output: logits, capacity: width)
                        guard written == width else {
                            throw ModelError(.invalidBatch, "\(link.name) returned \(written) logits, expected \(width)")
                        }
                    } else {
                        try spare.withUnsafeMutableBufferPointer { out in
                            let written = try link.forward(batch, hidden: x, output: out.baseAddress!, capacity: n * h)
                            guard written == n * h else {
                                throw ModelError(.invalidBatch, "\(link.name) returned \(written) hidden floats, expected \(n * h)")
                            }
                        }
                    }
                }
                if !isLast { swap(&hidden, &spare) }
                let elapsed = (clock.now - start).seconds
                compute[index + 1] = link.lastComputeSeconds
                network[index + 1] = max(0, elapsed - link.lastComputeSeconds)
            }
        } catch {
            fail(error)
            throw error
        }
        status.withLock { status in
            status.steps += 1
            for i in compute.indices {
                status.compute[i] += compute[i]
                status.network[i] += network[i]
            }
        }
    }

    public func profile() -> ExecutorProfile {
        status.withLock { status in
            var parts = [ExecutorProfile.Part(name: "stage 0 (\(local.shard), local)", computeSeconds: status.compute[0])]
            for (i, link) in links.enumerated() {
                parts.append(.init(name: "stage \(i + 1) (\(link.name))", computeSeconds: status.compute[i + 1],
                                   networkSeconds: status.network[i + 1]))
            }
            return ExecutorProfile(steps: status.steps, parts: parts)
        }
    }

    public func shutdown() {
        status.withLock { $0.stopped = true }
        for link in links { link.close() }
    }

    /// Marks the group broken and re-forms it on a thread of its own, retrying until every worker is back.
    private func fail(_ error: any Error) {
        status.withLock { $0.failure = "\(error)" }
        for link in links { link.close() }
        let alreadyReforming = reforming.withLock { running -> Bool in
            defer { running = true }
            return running
        }
        if alreadyReforming { return }
        let thread = Thread { [self] in reform() }
        thread.name = "shoal-pipeline-reform"
        thread.start()
    }

    private func reform() {
        var delay = Duration.milliseconds(100)
        while !status.withLock({ $0.stopped }) {
            do {
                for link in links where !link.isConnected { try link.connect() }
                status.withLock { $0.failure = nil }
                reforming.withLock { $0 = false }
                return
            } catch {
                status.withLock { $0.failure = "\(error)" }
                Thread.sleep(forTimeInterval: delay.seconds)
                delay = min(delay * 2, .seconds(2))
            }
        }
        reforming.withLock { $0 = false }
    }
}
