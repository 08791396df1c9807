/// Consistent hashing with bounded loads on the request's routing key (`X-Session-ID`, else `user`), so a
/// session keeps hitting the replica that holds its KV cache. Requests without a key go least-loaded.
public struct ConsistentHashPolicy: ReplicaPolicy {
    public var name: String { PolicyKind.consistentHash.rawValue }
    public private(set) var ring: HashRing
    private var random: RouterRandom

    /// - Parameters:
    ///   - virtualNodes: points per replica (>= 100).
    ///   - loadFactor: no replica takes more than this times the mean in-flight load.
    /// - Throws: `RouterError` for out-of-range values.
    public init(virtualNodes: Int = 256, loadFactor: Double = 1.25, random: RouterRandom = RouterRandom()) throws {
        ring = try HashRing(virtualNodes: virtualNodes, loadFactor: loadFactor)
        self.random = random
    }

    /// With the defaults (256 virtual nodes, 1.25).
    public init(random: RouterRandom = RouterRandom()) {
        ring = HashRing(clampedVirtualNodes: 256, loadFactor: 1.25)
        self.random = random
    }

    public mutating func membersChanged(_ members: Set<ReplicaID>) {
        for gone in ring.replicas.subtracting(members) { ring.remove(gone) }
        for new in members.subtracting(ring.replicas) { ring.add(new) }
    }

    public mutating func choose(_ request: RoutingRequest, candidates: [ReplicaCandidate]) -> ReplicaID? {
        guard let key = request.routingKey, !key.isEmpty else {
            return LeastLoadedPolicy.twoChoices(candidates, random: &random)
        }
        var loads: [ReplicaID: Int] = [:]
        for candidate in candidates { loads[candidate.id] = candidate.outstanding }
        if let picked = ring.pick(key: key, loads: loads, isEligible: { loads[$0] != nil }) { return picked }
        // A candidate not on the ring (membership not yet told): still serve the request.
        return LeastLoadedPolicy.twoChoices(candidates, random: &random)
    }
}
