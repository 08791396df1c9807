extension KVBlockManager {
    /// Checks the bookkeeping: every block is exactly one of free, in use (reference count > 0) or evictable
    /// cached; reference counts equal the number of tables holding each block; the free list, the LRU list and
    /// the hash index agree with the blocks' states.
    /// - Returns: a description of each violation; empty when consistent.
    /// - Complexity: O(blocks + total table length); meant for tests and debug-build `assert`s.
    public func invariantViolations() -> [String] {
        var problems: [String] = []
        func fail(_ message: String) { if problems.count < 20 { problems.append(message) } }

        guard referenceCounts.count == blockCount, places.count == blockCount, cachedBlocks.count == blockCount,
              lruPrevious.count == blockCount, lruNext.count == blockCount
        else { return ["per-block arrays do not have \(blockCount) entries"] }

        // Reference counts against the tables.
        var holders = Array(repeating: Int32(0), count: blockCount)
        for (id, entry) in sequences {
            if entry.table.isEmpty { fail("\(id) holds an empty table") }
            if entry.resolvedBlocks > entry.table.count { fail("\(id) resolved \(entry.resolvedBlocks) of \(entry.table.count) blocks") }
            var seen = Set<Int32>()
            for block in entry.table {
                guard (0..<Int32(blockCount)).contains(block) else {
                    fail("\(id) holds block \(block) outside the pool of \(blockCount)")
                    continue
                }
                if seen.insert(block).inserted { holders[Int(block)] += 1 } else { fail("\(id) holds block \(block) twice") }
            }
        }
        for block in 0..<blockCount where holders[block] != referenceCounts[block] {
            fail("block \(block) has reference count \(referenceCounts[block]) but \(holders[block]) tables hold it")
        }

        // The free list.
        var onFreeList = Array(repeating: false, count: blockCount)
        for block in freeList {
            guard (0..<Int32(blockCount)).contains(block) else { fail("free list holds block \(block)"); continue }
            if onFreeList[Int(block)] { fail("block \(block) is on the free list twice") }
            onFreeList[Int(block)] = true
        }

        // The LRU list, walked both ways.
        var onLRU = Array(repeating: false, count: blockCount)
        var walked = 0
        var block = lruHead
        var previous: Int32 = -1
        while block >= 0 {
            guard Int(block) < blockCount, !onLRU[Int(block)] else { fail("LRU list loops or leaves the pool at \(block)"); break }
            onLRU[Int(block)] = true
            if lruPrevious[Int(block)] != previous { fail("LRU back link of block \(block) is wrong") }
            previous = block
            block = lruNext[Int(block)]
            walked += 1
        }
        if previous != lruTail { fail("LRU tail is \(lruTail), the walk ends at \(previous)") }
        if walked != evictableCount { fail("LRU list has \(walked) blocks, count says \(evictableCount)") }

        // Each block in exactly one place.
        for block in 0..<blockCount {
            let count = referenceCounts[block]
            switch places[block] {
            case .free:
                if count != 0 { fail("free block \(block) has reference count \(count)") }
                if !onFreeList[block] { fail("free block \(block) is not on the free list") }
                if onLRU[block] { fail("free block \(block) is on the LRU list") }
                if cachedBlocks[block] != nil { fail("free block \(block) is still registered") }
            case .used:
                if count <= 0 { fail("used block \(block) has reference count \(count)") }
                if onFreeList[block] || onLRU[block] { fail("used block \(block) is on a free list") }
            case .evictable:
                if count != 0 { fail("evictable block \(block) has reference count \(count)") }
                if !onLRU[block] { fail("evictable block \(block) is not on the LRU list") }
                if onFreeList[block] { fail("evictable block \(block) is on the free list") }
                if cachedBlocks[block] == nil { fail("evictable block \(block) is not registered") }
            }
        }

        // The hash index against the registrations.
        var indexed = 0
        var registrations = Set<UInt64>()
        for (hash, blocks) in hashIndex {
            if blocks.isEmpty { fail("hash \(hash) maps to no block") }
            for block in blocks {
                indexed += 1
                guard let cached = cachedBlocks[Int(block)] else { fail("hash index names unregistered block \(block)"); continue }
                if cached.hash != hash { fail("block \(block) is indexed under \(hash) but hashes to \(cached.hash)") }
                if cached.tokens.count != blockSize { fail("cached block \(block) holds \(cached.tokens.count) token ids") }
                if !registrations.insert(cached.registration).inserted { fail("registration \(cached.registration) is used twice") }
                let twins = blocks.count { other in
                    guard let twin = cachedBlocks[Int(other)] else { return false }
                    return twin.parent == cached.parent && twin.tokens == cached.tokens
                }
                if twins != 1 { fail("block \(block)'s contents are registered \(twins) times") }
            }
        }
        let registered = cachedBlocks.count { $0 != nil }
        if indexed != registered { fail("\(registered) blocks are registered but \(indexed) are indexed") }
        if !prefixCachingEnabled, registered != 0 { fail("prefix caching is off but \(registered) blocks are cached") }
        if prefixHits > prefixQueries { fail("\(prefixHits) prefix hits exceed \(prefixQueries) queries") }
        return problems
    }
}
