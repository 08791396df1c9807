internal import Synchronization

/// What the admin API and logs show about one replica.
public struct ReplicaStatus: Sendable, Equatable, Codable {
    public var url: String
    public var models: [String]
    public var healthy: Bool
    public var breaker: String
    public var outstanding: Int
    public var draining: Bool
    /// Requests to this replica that failed (connect, timeout, 5xx, broken stream), since it joined.
    public var errors: Int
    /// Streams that broke on this replica and were continued on another, since it joined.
    public var migrations: Int

    public init(url: String, models: [String], healthy: Bool, breaker: String, outstanding: Int, draining: Bool,
                errors: Int = 0, migrations: Int = 0) {
        self.url = url
        self.models = models
        self.healthy = healthy
        self.breaker = breaker
        self.outstanding = outstanding
        self.draining = draining
        self.errors = errors
        self.migrations = migrations
    }
}

/// A model a pool serves, as its replicas described it in `/v1/models`.
public struct PoolModel: Sendable, Equatable {
    public var name: String
    /// The context length (`max_model_len`), if a replica reported it.
    public var contextLength: Int?

    public init(name: String, contextLength: Int? = nil) {
        self.name = name
        self.contextLength = contextLength
    }
}

/// Membership and per-replica state of every pool: health, breaker, load, draining, and each pool's policy.
///
/// All state sits behind one `Mutex`, never held across an `await`; policy, breaker and health logic are the
/// value-type state machines, this class only sequences them.
final class ReplicaSet: Sendable {
    typealias Breaker = CircuitBreaker<ContinuousClock.Instant>

    struct Replica {
        var models: [PoolModel]
        var health: HealthTracker
        var breaker: Breaker
        var outstanding = 0
        var draining = false
        var errors = 0
        var migrations = 0
        /// Which membership of this URL the replica is: a replica removed and added again is a new one, and the
        /// leases taken on the old one do not count against it.
        var incarnation: UInt64
    }

    struct Pool {
        var members: Set<ReplicaID> = []
        var policy: any ReplicaPolicy
    }

    struct State {
        var replicas: [ReplicaID: Replica] = [:]
        var pools: [String: Pool] = [:]
        var incarnations: UInt64 = 0
    }

    /// A request's hold on a replica. It ends exactly once: with `end(_:error:)` where the request's fate is
    /// known, or, when its last owner drops it unended (a cancelled task, an exit nobody wrote an `end` for),
    /// as `.ignored` (neither success nor failure for the breaker, and the replica's count goes down all the same).
    final class Lease: Sendable {
        let replica: ReplicaID
        let pool: String
        let started: ContinuousClock.Instant
        fileprivate let incarnation: UInt64
        private let owner: ReplicaSet
        private let ended = Atomic<Bool>(false)

        fileprivate init(replica: ReplicaID, pool: String, started: ContinuousClock.Instant, incarnation: UInt64,
                         owner: ReplicaSet) {
            self.replica = replica
            self.incarnation = incarnation
            self.pool = pool
            self.started = started
            self.owner = owner
        }

        /// Ends the lease with how the request went; later calls do nothing.
        /// - Parameter error: the failure kind for the errors counter, nil on success.
        func end(_ outcome: Breaker.Outcome, error: String? = nil) {
            guard !ended.exchange(true, ordering: .acquiringAndReleasing) else { return }
            owner.release(self, outcome: outcome, error: error)
        }

        /// Ends a lease with the outcome of the replica's HTTP status (5xx counted as an error).
        func end(status: Int) {
            end(.status(status), error: status >= 500 ? "status_\(status)" : nil)
        }

        deinit { end(.ignored) }
    }

    private let state = Mutex(State())
    private let makePolicy: @Sendable () -> any ReplicaPolicy
    private let breakerConfiguration: Breaker.Configuration
    private let healthConfiguration: HealthTracker.Configuration
    private let metrics: RouterMetrics
    private let clock = ContinuousClock()

    init(makePolicy: @escaping @Sendable () -> any ReplicaPolicy, breaker: Breaker.Configuration,
         health: HealthTracker.Configuration, metrics: RouterMetrics) {
        self.makePolicy = makePolicy
        breakerConfiguration = breaker
        healthConfiguration = health
        self.metrics = metrics
    }

    /// Adds (or re-describes) a replica serving `models`.
    func add(_ id: ReplicaID, models: [PoolModel]) {
        state.withLock { state in
            if var existing = state.replicas[id] {
                existing.models = models
                existing.draining = false
                state.replicas[id] = existing
            } else {
                state.incarnations += 1
                state.replicas[id] = Replica(models: models, health: HealthTracker(configuration: healthConfiguration),
                                             breaker: Breaker(configuration: breakerConfiguration),
                                             incarnation: state.incarnations)
            }
            for pool in state.pools.keys { state.pools[pool]?.members.remove(id) }
            for model in models {
                state.pools[model.name, default: Pool(policy: makePolicy())].members.insert(id)
            }
            Self.syncPolicies(&state)
        }
        metrics.healthy(replica: id, true)
        metrics.breakerState(replica: id, value: 0)
    }

    /// Removes a replica at once (requests in flight to it finish or fail on their own).
    /// - Returns: whether it was a member.
    @discardableResult
    func remove(_ id: ReplicaID) -> Bool {
        state.withLock { state in
            guard state.replicas.removeValue(forKey: id) != nil else { return false }
            for pool in state.pools.keys { state.pools[pool]?.members.remove(id) }
            state.pools = state.pools.filter { !$0.value.members.isEmpty }
            Self.syncPolicies(&state)
            return true
        }
    }

    /// Stops sending new requests to a replica; it is removed once its last request ends.
    /// - Returns: whether it was a member.
    @discardableResult
    func drain(_ id: ReplicaID) -> Bool {
        let (known, idle) = state.withLock { state -> (Bool, Bool) in
            guard state.replicas[id] != nil else { return (false, false) }
            state.replicas[id]?.draining = true
            return (true, state.replicas[id]?.outstanding == 0)
        }
        if idle { remove(id) }
        return known
    }

    private static func syncPolicies(_ state: inout State) {
        for name in state.pools.keys {
            let members = state.pools[name]?.members ?? []
            state.pools[name]?.policy.membersChanged(members)
        }
    }

    /// The models of every pool, sorted by name.
    var models: [PoolModel] {
        state.withLock { state in
            state.pools.keys.sorted().map { name in
                let context = state.pools[name]?.members.compactMap { id in
                    state.replicas[id]?.models.first { $0.name == name }?.contextLength
                }.min()
                return PoolModel(name: name, contextLength: context)
            }
        }
    }

    var replicaIDs: [ReplicaID] {
        state.withLock { Array($0.replicas.keys).sorted() }
    }

    func hasPool(_ name: String) -> Bool {
        state.withLock { $0.pools[name] != nil }
    }

    /// Whether a pool has a replica that may take a request now.
    func isPoolAvailable(_ name: String) -> Bool {
        let now = clock.now
        return state.withLock { state in
            guard let pool = state.pools[name] else { return false }
            return pool.members.contains { id in
                guard let replica = state.replicas[id] else { return false }
                return Self.isEligible(replica, now: now)
            }
        }
    }

    private static func isEligible(_ replica: Replica, now: ContinuousClock.Instant) -> Bool {
        replica.health.isHealthy && !replica.draining && replica.breaker.isAvailable(now: now)
    }

    /// Picks a replica of `pool` with its policy and takes a lease on it.
    /// - Parameter excluding: replicas this request already tried.
    /// - Returns: nil when no replica of the pool may take the request.
    func lease(pool name: String, request: RoutingRequest, excluding: Set<ReplicaID>) -> Lease? {
        let now = clock.now
        let picked = state.withLock { state -> (ReplicaID, String, String, Int, Int, UInt64)? in
            guard var pool = state.pools[name] else { return nil }
            var candidates: [ReplicaCandidate] = []
            for id in pool.members where !excluding.contains(id) {
                guard let replica = state.replicas[id], Self.isEligible(replica, now: now) else { continue }
                candidates.append(ReplicaCandidate(id: id, outstanding: replica.outstanding))
            }
            guard let chosen = pool.policy.choose(request, candidates: candidates),
                  var replica = state.replicas[chosen] else { return nil }
            let before = replica.breaker.state.gaugeValue
            guard replica.breaker.acquire(now: now) != .rejected else { return nil }
            replica.outstanding += 1
            state.replicas[chosen] = replica
            state.pools[name] = pool
            return (chosen, pool.policy.name, pool.policy.decisionLabel, before, replica.breaker.state.gaugeValue,
                    replica.incarnation)
        }
        guard let (id, policy, decision, before, after, incarnation) = picked else { return nil }
        if before != after { reportBreaker(id, after) }
        metrics.policyDecision(pool: name, policy: policy, decision: decision)
        metrics.requestStarted(replica: id, model: name)
        return Lease(replica: id, pool: name, started: now, incarnation: incarnation, owner: self)
    }

    /// Ends a lease (called once per lease, by `Lease.end`), feeding the outcome to the replica's breaker.
    private func release(_ lease: Lease, outcome: Breaker.Outcome, error: String?) {
        let now = clock.now
        let id = lease.replica
        let (change, removeNow) = state.withLock { state -> (Int?, Bool) in
            guard var replica = state.replicas[id], replica.incarnation == lease.incarnation else { return (nil, false) }
            let before = replica.breaker.state.gaugeValue
            replica.breaker.record(outcome, now: now)
            assert(replica.outstanding > 0, "a lease on \(id) ended twice")
            replica.outstanding -= 1
            if error != nil { replica.errors += 1 }
            state.replicas[id] = replica
            let after = replica.breaker.state.gaugeValue
            return (before == after ? nil : after, replica.draining && replica.outstanding == 0)
        }
        if let change { reportBreaker(id, change) }
        metrics.requestFinished(replica: id, model: lease.pool, seconds: (now - lease.started).inSeconds, error: error)
        if removeNow { remove(id) }
    }

    private func reportBreaker(_ id: ReplicaID, _ value: Int) {
        metrics.breakerState(replica: id, value: value)
        metrics.breakerTransition(replica: id, to: ["closed", "half_open", "open"][value])
    }

    /// Records an active health probe.
    func recordProbe(_ id: ReplicaID, passed: Bool) {
        let changed = state.withLock { state -> Bool? in
            guard state.replicas[id] != nil else { return nil }
            return state.replicas[id]?.health.record(probePassed: passed)
        }
        if changed == true { metrics.healthy(replica: id, passed) }
    }

    /// Counts a stream that broke on `id` and is moving to another replica.
    func recordMigration(from id: ReplicaID) {
        state.withLock { state in state.replicas[id]?.migrations += 1 }
    }

    /// The admin view of every replica.
    func statuses() -> [ReplicaStatus] {
        state.withLock { state in
            state.replicas.keys.sorted().compactMap { id in
                guard let replica = state.replicas[id] else { return nil }
                return ReplicaStatus(url: id.rawValue, models: replica.models.map(\.name), healthy: replica.health.isHealthy,
                                     breaker: replica.breaker.state.name, outstanding: replica.outstanding,
                                     draining: replica.draining, errors: replica.errors,
                                     migrations: replica.migrations)
            }
        }
    }
}
