/// The power of two choices on outstanding requests: sample two distinct candidates at random and take
/// the one with fewer in flight (ties: the first sampled). Nearly as even as scanning for the minimum, but
/// many routers sharing stale counts do not all stampede the same replica.
public struct LeastLoadedPolicy: ReplicaPolicy {
    public var name: String { PolicyKind.leastLoaded.rawValue }
    private var random: RouterRandom

    /// - Parameter random: seeded in tests.
    public init(random: RouterRandom = RouterRandom()) {
        self.random = random
    }

    public mutating func membersChanged(_ members: Set<ReplicaID>) {}

    public mutating func choose(_ request: RoutingRequest, candidates: [ReplicaCandidate]) -> ReplicaID? {
        Self.twoChoices(candidates, random: &random)
    }

    /// The less loaded of two distinct random candidates.
    static func twoChoices(_ candidates: [ReplicaCandidate], random: inout RouterRandom) -> ReplicaID? {
        switch candidates.count {
        case 0: return nil
        case 1: return candidates[0].id
        default:
            // Sort so the choice depends only on the seed, not on the caller's order.
            let ordered = candidates.sorted { $0.id < $1.id }
            let first = Int.random(in: 0..<ordered.count, using: &random)
            var second = Int.random(in: 0..<(ordered.count - 1), using: &random)
            if second >= first { second += 1 }
            return ordered[second].outstanding < ordered[first].outstanding ? ordered[second].id : ordered[first].id
        }
    }
}
