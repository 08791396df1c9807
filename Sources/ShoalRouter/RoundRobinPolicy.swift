/// Each request to the next eligible replica in a fixed order (by id).
public struct RoundRobinPolicy: ReplicaPolicy {
    public var name: String { PolicyKind.roundRobin.rawValue }
    private var next = 0

    public init() {}

    public mutating func membersChanged(_ members: Set<ReplicaID>) {}

    public mutating func choose(_ request: RoutingRequest, candidates: [ReplicaCandidate]) -> ReplicaID? {
        guard !candidates.isEmpty else { return nil }
        let ordered = candidates.map(\.id).sorted()
        defer { next &+= 1 }
        return ordered[next % ordered.count]
    }
}
