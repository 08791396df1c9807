import ShoalEngine
import ShoalTestSupport
import Testing

extension KVBlockManager {
    /// `allocate` that must succeed.
    fileprivate mutating func mustAllocate(
        sequence: SequenceID, promptTokens: [Int32], maxNewTokens: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Allocation {
        let allocation = allocate(sequence: sequence, promptTokens: promptTokens, maxNewTokens: maxNewTokens)
        return try #require(allocation, sourceLocation: sourceLocation)
    }
}

@Suite("KVBlockManager")
struct KVBlockManagerTests {
    /// Token ids `start ..< start + count`.
    static func tokens(_ start: Int32, _ count: Int) -> [Int32] { (0..<Int32(count)).map { start + $0 } }

    static func expectConsistent(_ manager: KVBlockManager, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(manager.invariantViolations() == [], sourceLocation: sourceLocation)
    }

    @Test func freshAllocationTakesPlainBlocks() throws {
        var manager = KVBlockManager(blockCount: 8, blockSize: 16)
        let allocation = try manager.mustAllocate(sequence: 1, promptTokens: Self.tokens(0, 40))
        #expect(allocation == .init(cachedTokens: 0, newTokens: 40, blockTable: [0, 1, 2]))
        #expect(manager.freeBlockCount == 5)
        #expect(manager.usedBlockCount == 3)
        #expect(manager.usage == 3.0 / 8.0)
        #expect(manager.blockTable(of: 1) == [0, 1, 2])
        Self.expectConsistent(manager)
    }

    @Test func chunkedAllocationCoversOnlyTheFirstChunk() throws {
        var manager = KVBlockManager(blockCount: 8, blockSize: 16)
        let allocation = try manager.mustAllocate(sequence: 1, promptTokens: Self.tokens(0, 100), maxNewTokens: 20)
        #expect(allocation.newTokens == 20)
        #expect(allocation.blockTable.count == 2)
        let refused = manager.allocate(sequence: 2, promptTokens: [1], maxNewTokens: 0)
        #expect(refused == nil)
        Self.expectConsistent(manager)
    }

    @Test func failedAllocationChangesNothing() throws {
        var manager = KVBlockManager(blockCount: 4, blockSize: 16)
        _ = try manager.mustAllocate(sequence: 1, promptTokens: Self.tokens(0, 33))
        let tooBig = manager.allocate(sequence: 2, promptTokens: Self.tokens(100, 17))
        #expect(tooBig == nil)
        #expect(manager.freeBlockCount == 1)
        #expect(manager.blockTable(of: 2) == nil)
        let twice = manager.allocate(sequence: 1, promptTokens: [5])
        #expect(twice == nil, "a sequence holding a table cannot allocate again")
        let empty = manager.allocate(sequence: 3, promptTokens: [])
        #expect(empty == nil)
        Self.expectConsistent(manager)
    }

    @Test func appendGrowsOrChangesNothing() throws {
        var manager = KVBlockManager(blockCount: 3, blockSize: 4)
        _ = try manager.mustAllocate(sequence: 1, promptTokens: Self.tokens(0, 4))
        #expect(manager.canAppend(sequence: 1, newTotalLength: 12))
        let grew = manager.append(sequence: 1, newTotalLength: 5)
        #expect(grew)
        #expect(manager.blockTable(of: 1)?.count == 2)
        let within = manager.append(sequence: 1, newTotalLength: 8)
        #expect(within, "still within the second block")
        #expect(manager.blockTable(of: 1)?.count == 2)
        #expect(!manager.canAppend(sequence: 1, newTotalLength: 13))
        let overflow = manager.append(sequence: 1, newTotalLength: 13)
        #expect(!overflow)
        #expect(manager.blockTable(of: 1)?.count == 2)
        #expect(manager.reachableLength(of: 1) == 12)
        let unknown = manager.append(sequence: 9, newTotalLength: 1)
        #expect(!unknown, "unknown sequence")
        Self.expectConsistent(manager)
    }

    @Test func computedBlocksAreSharedWithReferenceCounts() throws {
        var manager = KVBlockManager(blockCount: 10, blockSize: 16)
        let prompt = Self.tokens(0, 48)
        let first = try manager.mustAllocate(sequence: 1, promptTokens: prompt)
        manager.markComputed(sequence: 1, upTo: 48, tokens: prompt)
        Self.expectConsistent(manager)
        #expect(first.blockTable.allSatisfy { manager.isCached($0) })

        let second = try manager.mustAllocate(sequence: 2, promptTokens: prompt + Self.tokens(500, 10))
        #expect(second.cachedTokens == 48)
        #expect(second.newTokens == 10)
        #expect(Array(second.blockTable.prefix(3)) == first.blockTable)
        for block in first.blockTable { #expect(manager.referenceCount(of: block) == 2) }
        #expect(manager.referenceCount(of: second.blockTable[3]) == 1)
        #expect(manager.prefixQueries == 48 + 58)
        #expect(manager.prefixHits == 48)
        Self.expectConsistent(manager)

        manager.free(sequence: 1)
        for block in first.blockTable { #expect(manager.referenceCount(of: block) == 1) }
        #expect(manager.usedBlockCount == 4)
        Self.expectConsistent(manager)
        manager.free(sequence: 2)
        #expect(manager.usedBlockCount == 0)
        #expect(manager.freeBlockCount == 10)
        Self.expectConsistent(manager)
    }

    @Test func theLastPromptTokenIsAlwaysComputed() throws {
        var manager = KVBlockManager(blockCount: 8, blockSize: 16)
        let prompt = Self.tokens(0, 32)
        _ = try manager.mustAllocate(sequence: 1, promptTokens: prompt)
        manager.markComputed(sequence: 1, upTo: 32, tokens: prompt)
        #expect(manager.cachedPrefixLength(of: prompt) == 16)
        let again = try manager.mustAllocate(sequence: 2, promptTokens: prompt)
        #expect(again.cachedTokens == 16)
        #expect(again.newTokens == 16)
        #expect(manager.cachedPrefixLength(of: Self.tokens(0, 33)) == 32)
        #expect(manager.cachedPrefixLength(of: [0]) == 0)
        Self.expectConsistent(manager)
    }

    @Test func blocksAreNotCachedBeforeTheyAreComputed() throws {
        var manager = KVBlockManager(blockCount: 8, blockSize: 16)
        let prompt = Self.tokens(0, 40)
        _ = try manager.mustAllocate(sequence: 1, promptTokens: prompt)
        #expect(manager.cachedPrefixLength(of: prompt) == 0)
        manager.markComputed(sequence: 1, upTo: 20, tokens: prompt)
        #expect(manager.cachedPrefixLength(of: prompt) == 16, "only the first block is both full and computed")
        manager.markComputed(sequence: 1, upTo: 40, tokens: prompt)
        #expect(manager.cachedPrefixLength(of: prompt) == 32)
        Self.expectConsistent(manager)
    }

    @Test func aPartialLastBlockIsNeverCached() throws {
        var manager = KVBlockManager(blockCount: 8, blockSize: 16)
        let prompt = Self.tokens(0, 20)
        let allocation = try manager.mustAllocate(sequence: 1, promptTokens: prompt)
        manager.markComputed(sequence: 1, upTo: 20, tokens: prompt)
        #expect(manager.isCached(allocation.blockTable[0]))
        #expect(!manager.isCached(allocation.blockTable[1]))
        manager.free(sequence: 1)
        #expect(manager.evictableBlockCount == 1)
        #expect(manager.cachedPrefixLength(of: prompt + [7, 7, 7, 7, 7]) == 16)
        Self.expectConsistent(manager)
    }

    @Test func aFreedPrefixIsHitLater() throws {
        var manager = KVBlockManager(blockCount: 6, blockSize: 16)
        let prompt = Self.tokens(0, 48)
        let first = try manager.mustAllocate(sequence: 1, promptTokens: prompt)
        manager.markComputed(sequence: 1, upTo: 48, tokens: prompt)
        manager.free(sequence: 1)
        #expect(manager.usedBlockCount == 0)
        #expect(manager.evictableBlockCount == 3)
        #expect(manager.freeBlockCount == 6)
        Self.expectConsistent(manager)

        let second = try manager.mustAllocate(sequence: 2, promptTokens: prompt + [1])
        #expect(second.cachedTokens == 48)
        #expect(Array(second.blockTable.prefix(3)) == first.blockTable)
        #expect(manager.evictableBlockCount == 0)
        #expect(manager.usedBlockCount == 4)
        Self.expectConsistent(manager)
    }

    @Test func aDifferentPrefixDoesNotHit() throws {
        var manager = KVBlockManager(blockCount: 8, blockSize: 4)
        let prompt: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        _ = try manager.mustAllocate(sequence: 1, promptTokens: prompt)
        manager.markComputed(sequence: 1, upTo: 9, tokens: prompt)
        // Same second block after a different first block: the chain does not match.
        #expect(manager.cachedPrefixLength(of: [1, 2, 3, 0, 5, 6, 7, 8, 9]) == 0)
        // Same first block, different second block: only the first one hits.
        #expect(manager.cachedPrefixLength(of: [1, 2, 3, 4, 5, 6, 7, 0, 9]) == 4)
        #expect(manager.cachedPrefixLength(of: prompt) == 8)
    }

    @Test func evictionTakesPlainFreeBlocksFirstThenLeastRecentlyUsed() throws {
        var manager = KVBlockManager(blockCount: 6, blockSize: 4)
        let a = Self.tokens(0, 8), c = Self.tokens(100, 8)
        let tableA = try manager.mustAllocate(sequence: 1, promptTokens: a).blockTable
        manager.markComputed(sequence: 1, upTo: 8, tokens: a)
        manager.free(sequence: 1)
        let tableC = try manager.mustAllocate(sequence: 2, promptTokens: c).blockTable
        manager.markComputed(sequence: 2, upTo: 8, tokens: c)
        manager.free(sequence: 2)
        // A's blocks, then C's, each table's tail first.
        #expect(manager.evictionOrder == [tableA[1], tableA[0], tableC[1], tableC[0]])
        Self.expectConsistent(manager)

        // A hit makes A's prefix the most recently used.
        _ = try manager.mustAllocate(sequence: 3, promptTokens: a + [9])
        manager.free(sequence: 3)
        #expect(Array(manager.evictionOrder.suffix(2)) == [tableA[1], tableA[0]])
        #expect(manager.evictionOrder.prefix(2) == [tableC[1], tableC[0]])

        // Two plain free blocks go first, then C's blocks are evicted, tail first.
        let d = try manager.mustAllocate(sequence: 4, promptTokens: Self.tokens(200, 12))
        #expect(d.blockTable.last == tableC[1])
        #expect(!manager.isCached(tableC[1]))
        #expect(manager.cachedPrefixLength(of: c + [1]) == 4, "C's first block is still cached")
        #expect(manager.cachedPrefixLength(of: a + [1]) == 8, "A's prefix survives")
        Self.expectConsistent(manager)
        _ = try manager.mustAllocate(sequence: 5, promptTokens: Self.tokens(300, 4))
        #expect(manager.blockTable(of: 5) == [tableC[0]])
        #expect(manager.evictionOrder == [tableA[1], tableA[0]])
        #expect(manager.cachedPrefixLength(of: c + [1]) == 0)
        Self.expectConsistent(manager)
    }

    @Test func hashCollisionsNeverHandOutWrongBlocks() throws {
        // Every block hashes the same: only the stored ids and parents tell them apart.
        var manager = KVBlockManager(blockCount: 12, blockSize: 4, prefixCaching: true) { _, _ in 42 }
        let x: [Int32] = [1, 2, 3, 4, 5, 6, 7, 8, 0]
        let y: [Int32] = [9, 9, 9, 9, 5, 6, 7, 8, 0]
        _ = try manager.mustAllocate(sequence: 1, promptTokens: x)
        manager.markComputed(sequence: 1, upTo: 9, tokens: x)
        #expect(manager.cachedPrefixLength(of: y) == 0)
        _ = try manager.mustAllocate(sequence: 2, promptTokens: y)
        manager.markComputed(sequence: 2, upTo: 9, tokens: y)
        Self.expectConsistent(manager)
        #expect(manager.cachedPrefixLength(of: x) == 8)
        #expect(manager.cachedPrefixLength(of: y) == 8)
        #expect(manager.cachedPrefixLength(of: [1, 2, 3, 4, 9, 9, 9, 9, 0]) == 4)
        #expect(manager.cachedPrefixLength(of: [9, 9, 9, 9, 9, 9, 9, 9, 0]) == 4)
        let again = try manager.mustAllocate(sequence: 3, promptTokens: y)
        #expect(again.blockTable.prefix(2) == manager.blockTable(of: 2)?.prefix(2))
        Self.expectConsistent(manager)
    }

    @Test func aBlockComputedTwiceIsRegisteredOnce() throws {
        var manager = KVBlockManager(blockCount: 8, blockSize: 4)
        let prompt = Self.tokens(0, 9)
        _ = try manager.mustAllocate(sequence: 1, promptTokens: prompt)
        _ = try manager.mustAllocate(sequence: 2, promptTokens: prompt)
        manager.markComputed(sequence: 1, upTo: 9, tokens: prompt)
        manager.markComputed(sequence: 2, upTo: 9, tokens: prompt)
        #expect(manager.cachedBlockCount == 2)
        Self.expectConsistent(manager)
        manager.free(sequence: 1)
        manager.free(sequence: 2)
        #expect(manager.evictableBlockCount == 2)
        #expect(manager.freeBlockCount == 8)
        Self.expectConsistent(manager)
    }

    @Test func resetForgetsTheCacheAndLiveSequencesRegisterAgain() throws {
        var manager = KVBlockManager(blockCount: 8, blockSize: 4)
        let a = Self.tokens(0, 9), b = Self.tokens(50, 9)
        _ = try manager.mustAllocate(sequence: 1, promptTokens: a)
        manager.markComputed(sequence: 1, upTo: 9, tokens: a)
        manager.free(sequence: 1)
        _ = try manager.mustAllocate(sequence: 2, promptTokens: b)
        manager.markComputed(sequence: 2, upTo: 9, tokens: b)
        manager.resetPrefixCache()
        #expect(manager.cachedBlockCount == 0)
        #expect(manager.evictableBlockCount == 0)
        #expect(manager.cachedPrefixLength(of: a) == 0)
        #expect(manager.cachedPrefixLength(of: b) == 0)
        Self.expectConsistent(manager)
        manager.markComputed(sequence: 2, upTo: 9, tokens: b)
        #expect(manager.cachedPrefixLength(of: b) == 8)
        Self.expectConsistent(manager)
    }

    @Test func disabledPrefixCachingCachesNothing() throws {
        var manager = KVBlockManager(blockCount: 8, blockSize: 4, prefixCaching: false)
        let prompt = Self.tokens(0, 9)
        _ = try manager.mustAllocate(sequence: 1, promptTokens: prompt)
        manager.markComputed(sequence: 1, upTo: 9, tokens: prompt)
        manager.free(sequence: 1)
        #expect(manager.cachedBlockCount == 0)
        let uncached = try manager.mustAllocate(sequence: 2, promptTokens: prompt)
        #expect(uncached.cachedTokens == 0)
        #expect(manager.prefixQueries == 0)
        #expect(manager.prefixHits == 0)
        Self.expectConsistent(manager)
    }

    @Test func chainHashIsStable() {
        // FNV-1a is fixed: these values must not change between runs or processes.
        let empty = KVBlockManager.chainHash(parent: KVBlockManager.rootHash, tokens: [])
        let one = KVBlockManager.chainHash(parent: KVBlockManager.rootHash, tokens: [1])
        #expect(empty == KVBlockManager.chainHash(parent: KVBlockManager.rootHash, tokens: []))
        #expect(empty != one)
        #expect(one != KVBlockManager.chainHash(parent: 0, tokens: [1]))
        #expect(KVBlockManager.chainHash(parent: 0, tokens: []) == 0xA8C7_F832_281A_39C5)
    }

    /// Random allocations, growth, computation and frees against a shadow of the cache's contents:
    /// every reused block must hold exactly the tokens the new prompt has at its positions.
    @Test(arguments: [(UInt64(1), false), (2, false), (3, true), (4, true)])
    func randomOperationsKeepContentsAndInvariants(seed: UInt64, weakHash: Bool) throws {
        var rng = SeededGenerator(seed: seed)
        let blockSize = 4, blockCount = 24
        var manager = weakHash
            ? KVBlockManager(blockCount: blockCount, blockSize: blockSize, prefixCaching: true) { _, tokens in UInt64(tokens.first ?? 0) % 3 }
            : KVBlockManager(blockCount: blockCount, blockSize: blockSize)
        var shadow = Array(repeating: Int32(-1), count: blockCount * blockSize)
        var live: [SequenceID: (tokens: [Int32], computed: Int)] = [:]
        var nextID: UInt64 = 0
        let bases: [[Int32]] = (0..<3).map { _ in (0..<24).map { _ in Int32.random(in: 0..<4, using: &rng) } }

        for operation in 0..<3000 {
            let context = "seed \(seed) operation \(operation)"
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<4:
                let base = bases.randomElement(using: &rng)!
                let prompt = Array(base.prefix(Int.random(in: 1...base.count, using: &rng)))
                    + (0..<Int.random(in: 0..<6, using: &rng)).map { _ in Int32.random(in: 0..<4, using: &rng) }
                nextID += 1
                let id = SequenceID(nextID)
                guard let allocation = manager.allocate(sequence: id, promptTokens: prompt,
                                                        maxNewTokens: Int.random(in: 1...20, using: &rng))
                else { break }
                for position in 0..<allocation.cachedTokens {
                    let block = Int(allocation.blockTable[position / blockSize])
                    guard shadow[block * blockSize + position % blockSize] == prompt[position] else {
                        Issue.record("\(context): reused block \(block) holds other data at position \(position)")
                        return
                    }
                }
                live[id] = (prompt, allocation.cachedTokens)
            case 4..<7:
                // Compute some of a sequence's tokens (it may grow first), as a forward step would.
                guard let id = live.keys.randomElement(using: &rng), var state = live[id] else { break }
                if state.computed == state.tokens.count {
                    state.tokens.append(Int32.random(in: 0..<4, using: &rng))
                }
                let target = Int.random(in: (state.computed + 1)...state.tokens.count, using: &rng)
                guard manager.append(sequence: id, newTotalLength: target) else { break }
                let table = try #require(manager.blockTable(of: id))
                for position in state.computed..<target {
                    let block = table[position / blockSize]
                    guard manager.referenceCount(of: block) == 1, !manager.isCached(block) else {
                        Issue.record("\(context): writing into shared or cached block \(block)")
                        return
                    }
                    shadow[Int(block) * blockSize + position % blockSize] = state.tokens[position]
                }
                state.computed = target
                manager.markComputed(sequence: id, upTo: target, tokens: state.tokens)
                live[id] = state
            case 7..<9:
                guard let id = live.keys.randomElement(using: &rng) else { break }
                manager.free(sequence: id)
                live[id] = nil
            default:
                if Int.random(in: 0..<20, using: &rng) == 0 { manager.resetPrefixCache() }
            }
            let problems = manager.invariantViolations()
            #expect(problems == [], "\(context)")
            if !problems.isEmpty { return }
        }
        #expect(manager.prefixHits > 0, "the run must exercise prefix reuse")
        for id in live.keys { manager.free(sequence: id) }
        #expect(manager.usedBlockCount == 0)
        #expect(manager.freeBlockCount == blockCount)
        Self.expectConsistent(manager)
    }
}
