import Foundation
import ShoalEngine
import ShoalKernels
import ShoalModels
import Synchronization

/// The workers of one model-parallel group, as the leader's executors use them: the group's health (why it
/// cannot run steps), its re-forming after a failure, and the per-part time split of its steps.
///
/// A failure closes every link and starts a thread that reconnects them (each worker loads its shard, unless it
/// still holds it, and allocates its cache again) with growing pauses until all are back or the group is shut down.
final class LinkGroup: @unchecked Sendable {
    let links: [WorkerLink]
    /// Runs once every link is connected, before the group counts as formed (a throw is a failure to form).
    var afterForming: (() throws -> Void)?
    private let status = Mutex(Status())

    private struct Status {
        var failure: String?
        var reforming = false
        var stopped = false
        var steps = 0
        /// Per part (the leader first, then each link): compute, network and straggler seconds.
        var compute: [Double] = []
        var network: [Double] = []
        var straggler: [Double] = []
    }

    init(links: [WorkerLink]) {
        self.links = links
        status.withLock {
            $0.compute = Array(repeating: 0, count: links.count + 1)
            $0.network = $0.compute
            $0.straggler = $0.compute
        }
    }

    /// Connects every worker (it loads its shard).
    func connectAll() throws {
        for link in links { try link.connect() }
        try afterForming?()
    }

    var failure: String? { status.withLock { $0.failure } }

    /// KV-cache bytes per token of the process that holds the most: `local`'s or a worker's.
    func cacheBytesPerToken(local: DecoderModel, type: KVCacheType) -> Int {
        let localBytes = PagedKVCache.bytesPerToken(layerCount: local.shard.layers.count, kvWidth: local.cacheKVWidth, type: type)
        return links.compactMap { $0.reply?.cacheBytesPerToken }.reduce(localBytes, max)
    }

    /// Has every worker allocate `blockCount` blocks, and returns `local`'s cache of as many.
    func allocateCaches(local: DecoderModel, type: KVCacheType, blockCount: Int, blockSize: Int) throws -> PagedKVCache {
        let cache = try PagedKVCache(layers: local.shard.layers, kvWidth: local.cacheKVWidth, blockCount: blockCount,
                                     blockSize: blockSize, type: type)
        for link in links { try link.allocateCache(blockCount: blockCount, blockSize: blockSize) }
        return cache
    }

    /// Throws the group's failure, if it has one.
    func checkFormed() throws {
        if let failure = status.withLock({ $0.failure }) {
            throw ClusterError(.closed, "the model-parallel group is not formed: \(failure)")
        }
    }

    /// Adds one step's time split (arrays indexed like the parts: the leader, then the links).
    func record(compute: [Double], network: [Double], straggler: [Double]) {
        status.withLock { status in
            status.steps += 1
            for i in compute.indices {
                status.compute[i] += compute[i]
                status.network[i] += network[i]
                status.straggler[i] += straggler[i]
            }
        }
    }

    func profile(leader: (name: String, role: String), links linkNames: (Int, WorkerLink) -> (name: String, role: String)) -> ExecutorProfile {
        status.withLock { status in
            var parts = [ExecutorProfile.Part(name: leader.name, role: leader.role, computeSeconds: status.compute[0],
                                              networkSeconds: status.network[0], stragglerSeconds: status.straggler[0])]
            for (i, link) in links.enumerated() {
                let names = linkNames(i, link)
                parts.append(.init(name: names.name, role: names.role, computeSeconds: status.compute[i + 1],
                                   networkSeconds: status.network[i + 1], stragglerSeconds: status.straggler[i + 1]))
            }
            return ExecutorProfile(steps: status.steps, parts: parts)
        }
    }

    func shutdown() {
        status.withLock { $0.stopped = true }
        for link in links { link.close() }
    }

    /// Marks the group broken and re-forms it on a thread of its own.
    func fail(_ error: any Error) {
        for link in links { link.close() }
        let start = status.withLock { status -> Bool in
            status.failure = "\(error)"
            defer { status.reforming = true }
            return !status.reforming && !status.stopped
        }
        guard start else { return }
        let thread = Thread { [self] in reform() }
        thread.name = "shoal-group-reform"
        thread.start()
    }

    private func reform() {
        var pause = 0.1
        while !status.withLock({ $0.stopped }) {
            do {
                for link in links where !link.isConnected { try link.connect() }
                try afterForming?()
                status.withLock {
                    $0.failure = nil
                    $0.reforming = false
                }
                return
            } catch {
                for link in links { link.close() }
                status.withLock { $0.failure = "\(error)" }
                Thread.sleep(forTimeInterval: pause)
                pause = min(pause * 2, 2)
            }
        }
        status.withLock { $0.reforming = false }
    }
}
