/// SGLang's cache-aware routing: send a prompt to the replica that recently served the longest prefix of it,
/// so the replica's prefix cache hits, unless that replica is overloaded; otherwise least-loaded.
///
/// Rule (SGLang sgl-router's `cache_aware` policy, with its original defaults):
/// 1. For each candidate, the fraction of the prompt matched by its `PrefixIndex`; take the best (ties: fewer
///    outstanding, then id).
/// 2. If that fraction exceeds `cacheThreshold` (0.5) and the replica is not overloaded, route there. It is
///    overloaded when its outstanding count exceeds the least-loaded candidate's by more than
///    `balanceAbsThreshold` (32) *and* is more than `balanceRelThreshold` (1.0001) times it.
/// 3. Otherwise route to the least-loaded candidate (SGLang picks the smallest tree here; least-loaded spreads
///    cold prompts by load instead, which is what the issue asks).
/// Either way the prompt is inserted into the chosen replica's index.
///
/// SGLang applies the balance test to the global max/min load; here it is applied to the affine replica against
/// the minimum, so one hot replica elsewhere does not switch affinity off for everyone.
public struct PrefixAffinityPolicy: ReplicaPolicy {
    public struct Configuration: Sendable, Equatable {
        /// Minimum matched fraction of the prompt to follow affinity.
        public var cacheThreshold: Double = 0.5
        /// Absolute outstanding-request margin over the least-loaded replica.
        public var balanceAbsThreshold: Int = 32
        /// Relative margin over the least-loaded replica.
        public var balanceRelThreshold: Double = 1.0001
        /// Bytes per indexed block.
        public var blockSize: Int = 16
        /// Blocks remembered per replica (LRU beyond); 2^18 blocks of 16 bytes = 4 MiB of prompt text.
        public var maxBlocksPerReplica: Int = 1 << 18

        public init(cacheThreshold: Double = 0.5, balanceAbsThreshold: Int = 32, balanceRelThreshold: Double = 1.0001,
                    blockSize: Int = 16, maxBlocksPerReplica: Int = 1 << 18) {
            self.cacheThreshold = cacheThreshold
            self.balanceAbsThreshold = balanceAbsThreshold
            self.balanceRelThreshold = balanceRelThreshold
            self.blockSize = blockSize
            self.maxBlocksPerReplica = maxBlocksPerReplica
        }

        /// - Throws: `RouterError` naming the field out of range.
        public func validate() throws {
            guard (0...1).contains(cacheThreshold) else {
                throw RouterError(.invalidConfiguration, "cacheThreshold must be in 0...1 (got \(cacheThreshold))")
            }
            guard balanceAbsThreshold >= 0 else {
                throw RouterError(.invalidConfiguration, "balanceAbsThreshold must not be negative")
            }
            guard balanceRelThreshold >= 1 else {
                throw RouterError(.invalidConfiguration, "balanceRelThreshold must be at least 1")
            }
            guard blockSize >= 1, maxBlocksPerReplica >= 1 else {
                throw RouterError(.invalidConfiguration, "blockSize and maxBlocksPerReplica must be positive")
            }
        }
    }

    /// Why the last request went where it did (for the routing-decision counter).
    public enum Decision: String, Sendable {
        case cacheHit = "cache_hit"
        case imbalanced
        case coldPrompt = "cold"
    }

    public var name: String { PolicyKind.prefixAffinity.rawValue }
    public let configuration: Configuration
    public private(set) var indexes: [ReplicaID: PrefixIndex] = [:]
    public private(set) var lastDecision: Decision?
    public var decisionLabel: String { lastDecision?.rawValue ?? "none" }
    private var random: RouterRandom

    public init(configuration: Configuration = Configuration(), random: RouterRandom = RouterRandom()) {
        self.configuration = configuration
        self.random = random
    }

    public mutating func membersChanged(_ members: Set<ReplicaID>) {
        for id in indexes.keys where !members.contains(id) { indexes[id] = nil }
    }

    public mutating func choose(_ request: RoutingRequest, candidates: [ReplicaCandidate]) -> ReplicaID? {
        guard !candidates.isEmpty else { return nil }
        let probe = PrefixIndex(blockSize: configuration.blockSize)
        let hashes = probe.blockHashes(of: request.promptText)
        let length = max(1, request.promptText.utf8.count)
        let minLoad = candidates.map(\.outstanding).min() ?? 0

        var best: (candidate: ReplicaCandidate, matched: Int)?
        for candidate in candidates {
            let matched = indexes[candidate.id]?.matchedBlocks(hashes) ?? 0
            if let current = best {
                let better = matched > current.matched
                    || (matched == current.matched && candidate.outstanding < current.candidate.outstanding)
                    || (matched == current.matched && candidate.outstanding == current.candidate.outstanding
                        && candidate.id < current.candidate.id)
                if better { best = (candidate, matched) }
            } else {
                best = (candidate, matched)
            }
        }

        let chosen: ReplicaID
        if let best, Double(best.matched * configuration.blockSize) / Double(length) > configuration.cacheThreshold {
            let load = best.candidate.outstanding
            let overloaded = load - minLoad > configuration.balanceAbsThreshold
                && Double(load) > Double(minLoad) * configuration.balanceRelThreshold
            if overloaded {
                chosen = leastLoaded(candidates)
                lastDecision = .imbalanced
            } else {
                chosen = best.candidate.id
                lastDecision = .cacheHit
            }
        } else {
            chosen = leastLoaded(candidates)
            lastDecision = .coldPrompt
        }
        indexes[chosen, default: PrefixIndex(blockSize: configuration.blockSize,
                                             capacity: configuration.maxBlocksPerReplica)].insert(hashes)
        return chosen
    }

    /// The candidate with the fewest outstanding requests; ties broken at random (seeded).
    private mutating func leastLoaded(_ candidates: [ReplicaCandidate]) -> ReplicaID {
        let minLoad = candidates.map(\.outstanding).min() ?? 0
        let tied = candidates.filter { $0.outstanding == minLoad }.map(\.id).sorted()
        return tied[Int.random(in: 0..<tied.count, using: &random)]
    }
}
