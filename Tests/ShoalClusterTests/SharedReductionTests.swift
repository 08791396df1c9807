import Foundation
import Glibc
import ShoalCluster
import Testing

/// The shared-memory all-reduce between ranks of one host: every rank ends with the same bits, the rank-order
/// sum, across pieces longer than a slot and many rounds (both slot sets); only the leader's segment is accepted;
/// and a wait gives up when its check throws.
struct SharedReductionTests {
    /// Rank `rank`'s partial sums in round `round`: distinct per rank, round and index.
    static func partial(rank: Int, round: Int, count: Int) -> [Float] {
        (0..<count).map { Float(sin(Double($0 * 7 + rank * 131 + round * 17))) * Float(rank + 1) }
    }

    @Test(arguments: [2, 3])
    func everyRankGetsTheRankOrderSumAcrossPiecesAndRounds(ranks: Int) async throws {
        let (leader, nonce) = try SharedReduction.create(ranks: ranks, slotFloats: 100)
        let others = try (1..<ranks).map {
            try SharedReduction.attach(path: leader.path, nonce: nonce, rank: $0, ranks: ranks, slotFloats: 100)
        }
        leader.unlinkName()
        #expect(!FileManager.default.fileExists(atPath: leader.path))
        let segments = [leader] + others
        let counts = [1, 99, 100, 101, 350, 576]
        let all = try await withThrowingTaskGroup(of: (Int, [[Float]]).self) { group in
            for rank in 0..<ranks {
                let segment = segments[rank]
                group.addTask {
                    let rounds = try await onOwnThread {
                        var rounds: [[Float]] = []
                        for (round, count) in counts.enumerated() {
                            var values = Self.partial(rank: rank, round: round, count: count)
                            try values.withUnsafeMutableBufferPointer { v in
                                try segment.allReduce(v.baseAddress!, count: count) {}
                            }
                            rounds.append(values)
                        }
                        return rounds
                    }
                    return (rank, rounds)
                }
            }
            var all = [[[Float]]](repeating: [], count: ranks)
            for try await (rank, rounds) in group { all[rank] = rounds }
            return all
        }
        for (round, count) in counts.enumerated() {
            var expected = Self.partial(rank: 0, round: round, count: count)
            for rank in 1..<ranks {
                let p = Self.partial(rank: rank, round: round, count: count)
                for i in 0..<count { expected[i] += p[i] }
            }
            for rank in 0..<ranks {
                // Bit for bit: the same additions in the same order on every rank.
                #expect(all[rank][round].map(\.bitPattern) == expected.map(\.bitPattern), "rank \(rank), round \(round)")
            }
        }
    }

    @Test func onlyTheLeadersSegmentIsAccepted() throws {
        let (leader, nonce) = try SharedReduction.create(ranks: 2, slotFloats: 64)
        defer { leader.unlinkName() }
        var wrong = nonce
        wrong[0] ^= 1
        #expect(throws: ClusterError.self) { try SharedReduction.attach(path: leader.path, nonce: wrong, rank: 1, ranks: 2, slotFloats: 64) }
        #expect(throws: ClusterError.self) { try SharedReduction.attach(path: leader.path, nonce: nonce, rank: 1, ranks: 3, slotFloats: 64) }
        #expect(throws: ClusterError.self) { try SharedReduction.attach(path: leader.path, nonce: nonce, rank: 2, ranks: 2, slotFloats: 64) }
        #expect(throws: ClusterError.self) { try SharedReduction.attach(path: leader.path + "-gone", nonce: nonce, rank: 1, ranks: 2, slotFloats: 64) }
        _ = try SharedReduction.attach(path: leader.path, nonce: nonce, rank: 1, ranks: 2, slotFloats: 64)
    }

    @Test func aWaitGivesUpWhenItsCheckThrows() throws {
        let (leader, _) = try SharedReduction.create(ranks: 2, slotFloats: 64)
        leader.unlinkName()
        var values = [Float](repeating: 1, count: 10)
        var checks = 0
        let started = ContinuousClock.now
        #expect(throws: ClusterError.self) {
            try values.withUnsafeMutableBufferPointer { v in
                try leader.allReduce(v.baseAddress!, count: 10) {
                    checks += 1
                    if checks == 3 { throw ClusterError(.timedOut, "gave up") }
                }
            }
        }
        #expect(checks == 3)
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(leader.waitedSeconds > 0)
    }
}
