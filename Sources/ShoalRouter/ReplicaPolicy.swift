/// What a policy knows about a request when it picks a replica.
public struct RoutingRequest: Sendable, Equatable {
    /// The consistent-hash key: header `X-Session-ID`, else the body's `user` field.
    public var routingKey: String?
    /// The prompt as text (a completion prompt, or a chat's messages joined), for prefix affinity.
    public var promptText: String

    public init(routingKey: String? = nil, promptText: String = "") {
        self.routingKey = routingKey
        self.promptText = promptText
    }
}

/// A replica that may take the request now, with its load.
public struct ReplicaCandidate: Sendable, Equatable {
    public var id: ReplicaID
    /// Requests sent to it and not yet finished by this router.
    public var outstanding: Int

    public init(id: ReplicaID, outstanding: Int) {
        self.id = id
        self.outstanding = outstanding
    }
}

/// Picks one replica of a pool per request. Implementations are value-type state machines without I/O.
///
/// The caller passes only eligible candidates (healthy, breaker allowing, not draining, not already tried
/// by this request); `members` are all replicas of the pool, eligible or not (a ring keeps unhealthy ones
/// so their keys come back to them).
public protocol ReplicaPolicy: Sendable {
    /// The policy's name in logs and metrics (`round-robin`, `prefix-affinity` ...).
    var name: String { get }
    /// The pool's membership changed.
    mutating func membersChanged(_ members: Set<ReplicaID>)
    /// The chosen replica, or nil when `candidates` is empty.
    mutating func choose(_ request: RoutingRequest, candidates: [ReplicaCandidate]) -> ReplicaID?
    /// Why the last choice was made (`cache_hit`, `imbalanced` ...), for the decision counter.
    var decisionLabel: String { get }
}

extension ReplicaPolicy {
    public var decisionLabel: String { "chosen" }
}

/// The policies by their CLI names.
public enum PolicyKind: String, Sendable, CaseIterable, Codable {
    case prefixAffinity = "prefix-affinity"
    case leastLoaded = "least-loaded"
    case roundRobin = "round-robin"
    case consistentHash = "consistent-hash"

    /// A fresh policy of this kind.
    public func makePolicy(seed: UInt64? = nil,
                           prefixAffinity: PrefixAffinityPolicy.Configuration = .init()) -> any ReplicaPolicy {
        let random = seed.map { RouterRandom(seed: $0) } ?? RouterRandom()
        switch self {
        case .prefixAffinity: return PrefixAffinityPolicy(configuration: prefixAffinity, random: random)
        case .leastLoaded: return LeastLoadedPolicy(random: random)
        case .roundRobin: return RoundRobinPolicy()
        case .consistentHash: return ConsistentHashPolicy(random: random)
        }
    }
}
