/// A consistent-hash ring with virtual nodes and bounded loads (Mirrokni, Thorup and Zadimoghaddam,
/// "Consistent Hashing with Bounded Loads", as in Envoy and HAProxy).
///
/// Each replica owns `virtualNodes` points on a 64-bit ring, placed by `StableHash` of "replica#i". A key goes
/// to the first point clockwise from its hash whose replica is eligible and below capacity, where capacity is
/// `ceil(loadFactor * (total in-flight + 1) / eligible replicas)`: no replica takes more than `loadFactor` times
/// the mean, and the overflow walks on to the next replica on the ring.
public struct HashRing: Sendable {
    /// Points per replica (at least 100).
    public let virtualNodes: Int
    /// Cap on a replica's load as a multiple of the mean (at least 1).
    public let loadFactor: Double
    private var points: [(hash: UInt64, replica: ReplicaID)] = []
    public private(set) var replicas: Set<ReplicaID> = []

    /// - Throws: `RouterError` if `virtualNodes < 100` or `loadFactor < 1`.
    public init(replicas: some Sequence<ReplicaID> = [], virtualNodes: Int = 256, loadFactor: Double = 1.25) throws {
        guard virtualNodes >= 100 else {
            throw RouterError(.invalidConfiguration, "virtualNodes must be at least 100 (got \(virtualNodes))")
        }
        guard loadFactor >= 1, loadFactor.isFinite else {
            throw RouterError(.invalidConfiguration, "loadFactor must be at least 1 (got \(loadFactor))")
        }
        self.init(clampedVirtualNodes: virtualNodes, loadFactor: loadFactor)
        for replica in replicas { add(replica) }
    }

    /// An empty ring, with out-of-range values raised to the minimum instead of refused.
    public init(clampedVirtualNodes virtualNodes: Int, loadFactor: Double) {
        self.virtualNodes = max(100, virtualNodes)
        self.loadFactor = loadFactor.isFinite ? max(1, loadFactor) : 1.25
    }

    /// Adds `replica`'s points; adding one already present does nothing.
    /// - Complexity: O(P log P) for P points on the ring.
    public mutating func add(_ replica: ReplicaID) {
        guard replicas.insert(replica).inserted else { return }
        for i in 0..<virtualNodes {
            points.append((StableHash.hash("\(replica.rawValue)#\(i)"), replica))
        }
        points.sort { $0.hash == $1.hash ? $0.replica < $1.replica : $0.hash < $1.hash }
    }

    /// Removes `replica`'s points; its keys move to the next replicas on the ring, no other key moves.
    public mutating func remove(_ replica: ReplicaID) {
        guard replicas.remove(replica) != nil else { return }
        points.removeAll { $0.replica == replica }
    }

    /// The replica owning `key` on the plain ring (no load bound, no health), or nil if the ring is empty.
    public func owner(of key: String) -> ReplicaID? {
        guard !points.isEmpty else { return nil }
        return points[firstIndex(atOrAfter: StableHash.hash(key))].replica
    }

    /// The replica for `key` with bounded loads, walking past replicas that are not eligible or are full.
    ///
    /// - Parameters:
    ///   - loads: in-flight requests per replica (missing means 0).
    ///   - isEligible: whether a replica may take requests now (healthy, breaker closed, not draining).
    /// - Returns: nil if no replica on the ring is eligible.
    /// - Complexity: O(log P + P) in the worst case, O(log P) when the owner has room.
    public func pick(key: String, loads: [ReplicaID: Int], isEligible: (ReplicaID) -> Bool) -> ReplicaID? {
        guard !points.isEmpty else { return nil }
        let eligible = replicas.filter(isEligible)
        guard !eligible.isEmpty else { return nil }
        let total = eligible.reduce(0) { $0 + max(0, loads[$1] ?? 0) }
        let capacity = Int((loadFactor * Double(total + 1) / Double(eligible.count)).rounded(.up))
        let start = firstIndex(atOrAfter: StableHash.hash(key))
        var visited = Set<ReplicaID>()
        var firstEligible: ReplicaID?
        for step in 0..<points.count {
            let replica = points[(start + step) % points.count].replica
            guard visited.insert(replica).inserted, eligible.contains(replica) else { continue }
            if firstEligible == nil { firstEligible = replica }
            if (loads[replica] ?? 0) + 1 <= capacity { return replica }
            if visited.count == replicas.count { break }
        }
        // Unreachable with capacity >= ceil(mean after adding one), kept as a safe answer.
        return firstEligible
    }

    private func firstIndex(atOrAfter hash: UInt64) -> Int {
        var low = 0
        var high = points.count
        while low < high {
            let mid = (low + high) / 2
            if points[mid].hash < hash { low = mid + 1 } else { high = mid }
        }
        return low == points.count ? 0 : low
    }
}
