import ShoalRouter
import Testing

@Suite struct HashRingTests {
    let three: [ReplicaID] = ["http://10.0.0.1:8080", "http://10.0.0.2:8080", "http://10.0.0.3:8080"]

    @Test func stableHashIsFixed() {
        // Pinned values: the ring must place keys identically in every process and release.
        #expect(StableHash.hash("") == StableHash.mix(0xcbf2_9ce4_8422_2325))
        #expect(StableHash.hash("a") != StableHash.hash("b"))
        #expect(StableHash.hash("session-42") == StableHash.hash("session-42"))
    }

    @Test func rejectsTooFewVirtualNodes() {
        #expect(throws: RouterError.self) { try HashRing(virtualNodes: 99) }
        #expect(throws: RouterError.self) { try HashRing(loadFactor: 0.9) }
    }

    @Test func balanceWithinTenPercentOfMean() throws {
        let ring = try HashRing(replicas: three)
        var counts: [ReplicaID: Int] = [:]
        for i in 0..<10_000 { counts[ring.owner(of: "key-\(i)")!, default: 0] += 1 }
        let mean = 10_000.0 / 3
        for replica in three {
            let count = Double(counts[replica] ?? 0)
            #expect(abs(count - mean) / mean < 0.10, "\(replica): \(count) keys vs mean \(mean)")
        }
    }

    @Test func joiningReplicaMovesAboutOneNthOfKeys() throws {
        var ring = try HashRing(replicas: three)
        let keys = (0..<10_000).map { "user-\($0)" }
        let before = keys.map { ring.owner(of: $0)! }
        let newcomer: ReplicaID = "http://10.0.0.4:8080"
        ring.add(newcomer)
        let after = keys.map { ring.owner(of: $0)! }
        var moved = 0
        for (old, new) in zip(before, after) where old != new {
            moved += 1
            #expect(new == newcomer, "a key moved between two old replicas")
        }
        let fraction = Double(moved) / Double(keys.count)
        #expect(fraction > 0.25 * 0.75 && fraction < 0.25 * 1.25, "moved \(fraction), expected about 1/4")
        ring.remove(newcomer)
        #expect(keys.map { ring.owner(of: $0)! } == before)
    }

    @Test(arguments: [1, 7, 42])
    func boundedLoadsCapEveryReplica(seed: UInt64) throws {
        let ring = try HashRing(replicas: three, loadFactor: 1.25)
        var random = RouterRandom(seed: seed)
        var loads: [ReplicaID: Int] = [:]
        // Very skewed keys: 80% of requests carry the same session id.
        for i in 0..<600 {
            let key = Int.random(in: 0..<10, using: &random) < 8 ? "hot" : "cold-\(i)"
            let picked = try #require(ring.pick(key: key, loads: loads, isEligible: { _ in true }))
            let total = loads.values.reduce(0, +)
            let capacity = (1.25 * Double(total + 1) / 3).rounded(.up)
            #expect(Double(loads[picked, default: 0] + 1) <= capacity, "seed \(seed)")
            loads[picked, default: 0] += 1
        }
        #expect(loads.count == 3)
    }

    @Test func ownerWithRoomKeepsItsKeysAndOverflowWalksOn() throws {
        let ring = try HashRing(replicas: three)
        let owner = try #require(ring.owner(of: "abc"))
        #expect(ring.pick(key: "abc", loads: [:], isEligible: { _ in true }) == owner)
        // The owner is full: the key goes to someone else.
        let loads: [ReplicaID: Int] = [owner: 10]
        let overflow = try #require(ring.pick(key: "abc", loads: loads, isEligible: { _ in true }))
        #expect(overflow != owner)
    }

    @Test func walksPastIneligibleReplicas() throws {
        let ring = try HashRing(replicas: three)
        for i in 0..<200 {
            let key = "k\(i)"
            let owner = try #require(ring.owner(of: key))
            let picked = try #require(ring.pick(key: key, loads: [:], isEligible: { $0 != owner }))
            #expect(picked != owner)
        }
        #expect(ring.pick(key: "x", loads: [:], isEligible: { _ in false }) == nil)
    }
}
