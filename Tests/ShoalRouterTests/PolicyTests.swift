import ShoalRouter
import Testing

@Suite struct PolicyTests {
    let ids: [ReplicaID] = ["http://a:1", "http://b:1", "http://c:1"]

    func candidates(_ loads: [Int]) -> [ReplicaCandidate] {
        zip(ids, loads).map { ReplicaCandidate(id: $0, outstanding: $1) }
    }

    @Test func roundRobinCycles() {
        var policy = RoundRobinPolicy()
        let picks = (0..<6).map { _ in policy.choose(RoutingRequest(), candidates: candidates([0, 0, 0]))! }
        #expect(picks == ids + ids)
        #expect(policy.choose(RoutingRequest(), candidates: []) == nil)
    }

    @Test(arguments: [3, 99, 12345])
    func leastLoadedNeverPicksTheBusiestOfThree(seed: UInt64) {
        var policy = LeastLoadedPolicy(random: RouterRandom(seed: seed))
        // With three candidates, two choices can never land on the single busiest one.
        for _ in 0..<200 {
            let pick = policy.choose(RoutingRequest(), candidates: candidates([5, 50, 7]))
            #expect(pick != ids[1], "seed \(seed)")
        }
    }

    @Test func leastLoadedIsReproducibleFromSeed() {
        var first = LeastLoadedPolicy(random: RouterRandom(seed: 5))
        var second = LeastLoadedPolicy(random: RouterRandom(seed: 5))
        let loads = candidates([1, 1, 1])
        let a = (0..<50).map { _ in first.choose(RoutingRequest(), candidates: loads) }
        let b = (0..<50).map { _ in second.choose(RoutingRequest(), candidates: loads) }
        #expect(a == b)
        #expect(Set(a.compactMap { $0 }).count == 3)
    }

    @Test func consistentHashIsStickyPerKey() {
        var policy = ConsistentHashPolicy(random: RouterRandom(seed: 1))
        policy.membersChanged(Set(ids))
        let request = RoutingRequest(routingKey: "session-7")
        let first = policy.choose(request, candidates: candidates([0, 0, 0]))
        for _ in 0..<20 { #expect(policy.choose(request, candidates: candidates([0, 0, 0])) == first) }
        // The owner goes unhealthy (not a candidate): the key moves, and comes back when it returns.
        let others = candidates([0, 0, 0]).filter { $0.id != first }
        let moved = policy.choose(request, candidates: others)
        #expect(moved != nil && moved != first)
        #expect(policy.choose(request, candidates: candidates([0, 0, 0])) == first)
    }

    @Test func prefixAffinityFollowsTheCachedPrefix() {
        var policy = PrefixAffinityPolicy(random: RouterRandom(seed: 3))
        let system = String(repeating: "You are a helpful assistant for user 17. ", count: 20)
        let first = policy.choose(RoutingRequest(promptText: system + "Hello"), candidates: candidates([0, 0, 0]))!
        #expect(policy.lastDecision == .coldPrompt)
        // Another replica is now less loaded, but within the margin: affinity wins.
        var loads = [0, 0, 0]
        loads[ids.firstIndex(of: first)!] = 10
        let second = policy.choose(RoutingRequest(promptText: system + "What time is it?"), candidates: candidates(loads))
        #expect(second == first)
        #expect(policy.lastDecision == .cacheHit)
    }

    @Test func prefixAffinityFallsBackToLeastLoadedWhenImbalanced() {
        var policy = PrefixAffinityPolicy(random: RouterRandom(seed: 3))
        let system = String(repeating: "Long shared system prompt. ", count: 40)
        let first = policy.choose(RoutingRequest(promptText: system + "q1"), candidates: candidates([0, 0, 0]))!
        var loads = [2, 2, 2]
        loads[ids.firstIndex(of: first)!] = 40   // 38 above the minimum: beyond balanceAbsThreshold 32
        let second = policy.choose(RoutingRequest(promptText: system + "q2"), candidates: candidates(loads))
        #expect(second != first)
        #expect(policy.lastDecision == .imbalanced)
        let lightest = candidates(loads).filter { $0.id != first }.map(\.id)
        #expect(lightest.contains(second!))
    }

    @Test func prefixAffinityColdPromptGoesLeastLoaded() {
        var policy = PrefixAffinityPolicy(random: RouterRandom(seed: 9))
        let pick = policy.choose(RoutingRequest(promptText: "a brand new prompt nobody has seen before"),
                                 candidates: candidates([4, 1, 3]))
        #expect(pick == ids[1])
        #expect(policy.lastDecision == .coldPrompt)
    }

    @Test func prefixIndexEvictsLeastRecentlyUsed() {
        var index = PrefixIndex(blockSize: 4, capacity: 8)
        let old = index.blockHashes(of: "aaaabbbbccccdddd")      // 4 blocks
        index.insert(old)
        for i in 0..<4 { index.insert(index.blockHashes(of: "x\(i)yyzzzzwwww")) }
        #expect(index.count <= 8 + 1)
        #expect(index.matchedBlocks(old) == 0)
        let recent = index.blockHashes(of: "x3yyzzzzwwww")
        #expect(index.matchedBlocks(recent) == 3)
        #expect(index.matchedBlocks(index.blockHashes(of: "x3yyzzzzQQQQ")) == 2)
    }
}
