/// DNS discovery of one name as a value-type state machine: which replicas it added, and what a new answer
/// changes. No I/O; the gateway carries out the actions.
package struct DiscoveryState: Sendable, Equatable {
    package enum Action: Hashable, Sendable {
        /// Add the replica as `POST /admin/replicas` does, then report it with `admitted(_:)`.
        case admit(ReplicaID)
        /// Send it no new requests and remove it once idle, as `POST /admin/replicas/drain` does.
        case drain(ReplicaID)
    }

    /// The replicas this discovery added and has not drained since.
    package private(set) var members: Set<ReplicaID> = []

    package init() {}

    /// What an answer listing `replicas` calls for: drain the members it lacks, admit the rest (sorted).
    ///
    /// An empty answer changes nothing: a name with no addresses is far more often a DNS hiccup than a cluster
    /// scaled to zero, and draining every replica would turn the hiccup into an outage.
    package mutating func resolved(_ replicas: Set<ReplicaID>) -> [Action] {
        guard !replicas.isEmpty else { return [] }
        let gone = members.subtracting(replicas)
        members.subtract(gone)
        return gone.sorted().map(Action.drain) + replicas.subtracting(members).sorted().map(Action.admit)
    }

    /// Records that `replica` was added. One that could not be added stays out, so the next answer that lists
    /// it admits it again.
    package mutating func admitted(_ replica: ReplicaID) {
        members.insert(replica)
    }
}
