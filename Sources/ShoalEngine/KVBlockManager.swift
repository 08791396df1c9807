/// Bookkeeping for a paged KV cache: which of `blockCount` fixed-size blocks each sequence's table holds,
/// reference counts for blocks shared through a common prefix, and prefix caching.
///
/// With prefix caching on, a full block whose K/V have been computed (``markComputed(sequence:upTo:tokens:)``)
/// is registered under the chain hash of its tokens and everything before it. A later sequence whose prompt
/// starts with the same tokens reuses the registered blocks instead of recomputing them. A registered block
/// no sequence holds stays cached on an LRU list until a new allocation needs it: allocation takes never-cached
/// free blocks first, then evicts the least recently used cached block.
///
/// Lookups compare the stored token ids and the identity of the parent block, not only the hash, so a hash
/// collision can never hand out the wrong K/V.
///
/// This type only hands out ids; it never touches the cache's memory.
public struct KVBlockManager: Sendable {
    /// What ``allocate(sequence:promptTokens:maxNewTokens:)`` gave a sequence.
    public struct Allocation: Sendable, Equatable {
        /// Leading prompt tokens whose K/V are already in the cache (reused blocks); a multiple of `blockSize`.
        public var cachedTokens: Int
        /// Tokens after `cachedTokens` that the table now has room for and that must be computed.
        public var newTokens: Int
        /// The sequence's block table: the reused blocks, then fresh ones.
        public var blockTable: [Int32]

        public init(cachedTokens: Int, newTokens: Int, blockTable: [Int32]) {
            self.cachedTokens = cachedTokens
            self.newTokens = newTokens
            self.blockTable = blockTable
        }
    }

    /// Hashes a full block's tokens chained to its parent's hash.
    package typealias BlockHasher = @Sendable (_ parent: UInt64, _ tokens: ArraySlice<Int32>) -> UInt64

    enum Place: UInt8, Sendable { case free, used, evictable }

    /// A full, computed block registered for reuse.
    struct CachedBlock: Sendable {
        var hash: UInt64
        /// Unique for every registration (0 is the root of every chain).
        var registration: UInt64
        /// The registration of the block before it in its chain.
        var parent: UInt64
        var tokens: [Int32]
    }

    /// A sequence's table and how far its chain of full blocks has been registered.
    struct SequenceBlocks: Sendable {
        var table: [Int32]
        /// Leading full blocks already matched or registered.
        var resolvedBlocks: Int
        /// Chain hash and registration of the last resolved block (the root values when none).
        var chainHash: UInt64
        var chainRegistration: UInt64
    }

    /// Number of blocks in the pool.
    public let blockCount: Int
    /// Tokens per block.
    public let blockSize: Int
    /// Whether computed full blocks are cached for reuse.
    public let prefixCachingEnabled: Bool
    /// Prompt tokens looked up in the prefix cache by successful allocations (vLLM's `prefix_cache_queries`).
    public private(set) var prefixQueries: Int = 0
    /// Of those, tokens found in the cache (vLLM's `prefix_cache_hits`).
    public private(set) var prefixHits: Int = 0

    var referenceCounts: [Int32]
    var places: [Place]
    var cachedBlocks: [CachedBlock?]
    /// Never-cached (or unregistered) free blocks; taken from the end.
    var freeList: [Int32]
    /// Evictable cached blocks as a doubly linked list, least recently used at the head.
    var lruPrevious: [Int32]
    var lruNext: [Int32]
    var lruHead: Int32 = -1
    var lruTail: Int32 = -1
    var evictableCount = 0
    /// Registered blocks by chain hash (usually one per hash; more only on a collision or a stale chain).
    var hashIndex: [UInt64: [Int32]] = [:]
    var nextRegistration: UInt64 = 1
    var sequences: [SequenceID: SequenceBlocks] = [:]
    let hasher: BlockHasher

    /// Makes a manager for a cache of `blockCount` blocks of `blockSize` tokens, all free.
    /// - Parameters:
    ///   - blockCount: blocks in the pool (0 or more).
    ///   - blockSize: tokens per block (at least 1; 16 in Shoal's cache).
    ///   - prefixCaching: whether computed full blocks are kept for reuse.
    public init(blockCount: Int, blockSize: Int = 16, prefixCaching: Bool = true) {
        self.init(blockCount: blockCount, blockSize: blockSize, prefixCaching: prefixCaching) {
            KVBlockManager.chainHash(parent: $0, tokens: $1)
        }
    }

    /// As the public init, with the block hash replaced (tests force collisions with it).
    package init(blockCount: Int, blockSize: Int, prefixCaching: Bool, hasher: @escaping BlockHasher) {
        self.blockCount = max(0, blockCount)
        self.blockSize = max(1, blockSize)
        prefixCachingEnabled = prefixCaching
        self.hasher = hasher
        referenceCounts = Array(repeating: 0, count: self.blockCount)
        places = Array(repeating: .free, count: self.blockCount)
        cachedBlocks = Array(repeating: nil, count: self.blockCount)
        freeList = (0..<Int32(self.blockCount)).reversed()
        lruPrevious = Array(repeating: -1, count: self.blockCount)
        lruNext = Array(repeating: -1, count: self.blockCount)
    }

    // MARK: State

    /// Blocks a new allocation can take: free ones plus evictable cached ones.
    public var freeBlockCount: Int { freeList.count + evictableCount }
    /// Blocks held by at least one live sequence.
    public var usedBlockCount: Int { blockCount - freeBlockCount }
    /// Free blocks that still hold a cached prefix.
    public var evictableBlockCount: Int { evictableCount }
    /// Blocks registered in the prefix cache, in use or not.
    public var cachedBlockCount: Int { hashIndex.values.reduce(0) { $0 + $1.count } }
    /// Fraction of the pool held by live sequences, 0...1 (the KV-cache utilisation metric).
    public var usage: Double { blockCount == 0 ? 0 : Double(usedBlockCount) / Double(blockCount) }
    /// Tokens the whole pool holds.
    public var tokenCapacity: Int { blockCount * blockSize }
    /// Number of sequences holding a table.
    public var sequenceCount: Int { sequences.count }

    /// The block table of `sequence`, or nil if it holds none.
    public func blockTable(of sequence: SequenceID) -> [Int32]? { sequences[sequence]?.table }

    /// How many sequence tables hold `block` (0 for an out-of-range id).
    public func referenceCount(of block: Int32) -> Int {
        (0..<Int32(blockCount)).contains(block) ? Int(referenceCounts[Int(block)]) : 0
    }

    /// Whether `block` is registered in the prefix cache.
    public func isCached(_ block: Int32) -> Bool {
        (0..<Int32(blockCount)).contains(block) && cachedBlocks[Int(block)] != nil
    }

    /// Blocks needed to hold `tokens` tokens.
    public func blocksNeeded(forTokens tokens: Int) -> Int { (max(0, tokens) + blockSize - 1) / blockSize }

    // MARK: Prefix lookup

    /// A prefix found in the cache: the blocks and the chain state after the last one.
    struct PrefixMatch {
        var blocks: [Int32] = []
        var hash: UInt64 = KVBlockManager.rootHash
        var registration: UInt64 = 0
    }

    /// Leading prompt tokens a new sequence with this prompt would find in the cache (a multiple of
    /// `blockSize`, always less than the prompt's length so that its last token is computed).
    /// - Complexity: O(n) in the prompt's length.
    public func cachedPrefixLength(of promptTokens: [Int32]) -> Int {
        matchPrefix(promptTokens).blocks.count * blockSize
    }

    func matchPrefix(_ tokens: [Int32]) -> PrefixMatch {
        var match = PrefixMatch()
        guard prefixCachingEnabled, tokens.count > 1 else { return match }
        let reusable = (tokens.count - 1) / blockSize
        for index in 0..<reusable {
            let slice = tokens[(index * blockSize)..<((index + 1) * blockSize)]
            let hash = hasher(match.hash, slice)
            guard let block = registeredBlock(hash: hash, parent: match.registration, tokens: slice),
                  let cached = cachedBlocks[Int(block)]
            else { break }
            match.blocks.append(block)
            match.hash = hash
            match.registration = cached.registration
        }
        return match
    }

    func registeredBlock(hash: UInt64, parent: UInt64, tokens: ArraySlice<Int32>) -> Int32? {
        hashIndex[hash]?.first { block in
            guard let cached = cachedBlocks[Int(block)] else { return false }
            return cached.parent == parent && cached.tokens.elementsEqual(tokens)
        }
    }

    // MARK: Allocation

    /// Gives a new sequence a block table for its prompt, reusing cached prefix blocks.
    ///
    /// The table covers the cached tokens plus up to `maxNewTokens` more of the prompt (all of it when nil):
    /// a chunked prefill asks for its first chunk here and grows the table with ``append(sequence:newTotalLength:)``.
    /// - Parameters:
    ///   - sequence: an id that holds no table yet.
    ///   - promptTokens: the tokens to prefill (for a preempted sequence: prompt and generated tokens).
    ///   - maxNewTokens: the most uncached tokens to make room for now (at least 1).
    /// - Returns: the allocation, or nil (changing nothing) if the blocks are not there, the prompt is empty,
    ///   `maxNewTokens` is below 1 or the sequence already holds a table.
    public mutating func allocate(sequence: SequenceID, promptTokens: [Int32], maxNewTokens: Int? = nil) -> Allocation? {
        guard sequences[sequence] == nil, !promptTokens.isEmpty else { return nil }
        let match = matchPrefix(promptTokens)
        let cachedTokens = match.blocks.count * blockSize
        let newTokens = min(promptTokens.count - cachedTokens, maxNewTokens ?? .max)
        guard newTokens >= 1 else { return nil }
        let freshBlocks = blocksNeeded(forTokens: cachedTokens + newTokens) - match.blocks.count
        let evictableHits = match.blocks.count { places[Int($0)] == .evictable }
        guard freshBlocks <= freeBlockCount - evictableHits else { return nil }

        // Claim the hits before taking fresh blocks so that eviction cannot pick them.
        for block in match.blocks { retain(block) }
        var table = match.blocks
        table.reserveCapacity(match.blocks.count + freshBlocks)
        for _ in 0..<freshBlocks { table.append(takeFreshBlock()) }
        sequences[sequence] = SequenceBlocks(
            table: table, resolvedBlocks: match.blocks.count, chainHash: match.hash, chainRegistration: match.registration
        )
        if prefixCachingEnabled {
            prefixQueries += promptTokens.count
            prefixHits += cachedTokens
        }
        return Allocation(cachedTokens: cachedTokens, newTokens: newTokens, blockTable: table)
    }

    /// Whether `sequence`'s table can grow to hold `newTotalLength` tokens with the blocks free now.
    public func canAppend(sequence: SequenceID, newTotalLength: Int) -> Bool {
        guard let entry = sequences[sequence] else { return false }
        return blocksNeeded(forTokens: newTotalLength) - entry.table.count <= freeBlockCount
    }

    /// Grows `sequence`'s table to hold `newTotalLength` tokens (the next decode token or prefill chunk).
    /// - Returns: false, changing nothing, if the sequence holds no table or the blocks are not there.
    @discardableResult
    public mutating func append(sequence: SequenceID, newTotalLength: Int) -> Bool {
        guard let held = sequences[sequence]?.table.count else { return false }
        let extra = blocksNeeded(forTokens: newTotalLength) - held
        guard extra > 0 else { return true }
        guard extra <= freeBlockCount else { return false }
        for _ in 0..<extra {
            let block = takeFreshBlock()
            sequences[sequence]?.table.append(block)
        }
        return true
    }

    /// The longest length `sequence` could grow to with its table and the blocks free now (0 if unknown).
    public func reachableLength(of sequence: SequenceID) -> Int {
        guard let entry = sequences[sequence] else { return 0 }
        return (entry.table.count + freeBlockCount) * blockSize
    }

    /// Records that the K/V of `sequence`'s first `computedTokens` tokens are now in the cache, registering its
    /// newly completed full blocks for reuse (a no-op with prefix caching off).
    /// - Parameters:
    ///   - computedTokens: how many leading tokens are computed.
    ///   - tokens: the sequence's tokens (at least the computed ones), prompt first.
    public mutating func markComputed(sequence: SequenceID, upTo computedTokens: Int, tokens: [Int32]) {
        guard prefixCachingEnabled, var entry = sequences[sequence] else { return }
        let fullBlocks = min(min(computedTokens, tokens.count) / blockSize, entry.table.count)
        guard entry.resolvedBlocks < fullBlocks else { return }
        while entry.resolvedBlocks < fullBlocks {
            let index = entry.resolvedBlocks
            let slice = tokens[(index * blockSize)..<((index + 1) * blockSize)]
            let hash = hasher(entry.chainHash, slice)
            let block = entry.table[index]
            if let existing = cachedBlocks[Int(block)] {
                // Already registered (shared with a sequence that registered it after a cache reset).
                entry.chainRegistration = existing.registration
            } else if let twin = registeredBlock(hash: hash, parent: entry.chainRegistration, tokens: slice),
                      let cached = cachedBlocks[Int(twin)] {
                // Another sequence computed the same block first: keep ours private, chain through theirs.
                entry.chainRegistration = cached.registration
            } else {
                let registration = nextRegistration
                nextRegistration += 1
                cachedBlocks[Int(block)] = CachedBlock(
                    hash: hash, registration: registration, parent: entry.chainRegistration, tokens: Array(slice)
                )
                hashIndex[hash, default: []].append(block)
                entry.chainRegistration = registration
            }
            entry.chainHash = hash
            entry.resolvedBlocks += 1
        }
        sequences[sequence] = entry
    }

    /// Releases `sequence`'s table: blocks no other sequence holds become free, cached ones evictable
    /// (the table's tail first, so a prefix outlives its continuations). A no-op for an unknown id.
    public mutating func free(sequence: SequenceID) {
        guard let entry = sequences.removeValue(forKey: sequence) else { return }
        for block in entry.table.reversed() { release(block) }
    }

    /// Forgets every cached block. Free cached blocks become plain free blocks; blocks held by live sequences
    /// stay with them and are registered again as those sequences compute further.
    public mutating func resetPrefixCache() {
        for (_, blocks) in hashIndex {
            for block in blocks {
                cachedBlocks[Int(block)] = nil
                if places[Int(block)] == .evictable {
                    unlinkFromLRU(block)
                    places[Int(block)] = .free
                    freeList.append(block)
                }
            }
        }
        hashIndex = [:]
        for id in sequences.keys {
            sequences[id]?.resolvedBlocks = 0
            sequences[id]?.chainHash = KVBlockManager.rootHash
            sequences[id]?.chainRegistration = 0
        }
    }

    // MARK: Block moves

    private mutating func retain(_ block: Int32) {
        let index = Int(block)
        if places[index] == .evictable {
            unlinkFromLRU(block)
            places[index] = .used
        }
        referenceCounts[index] += 1
    }

    private mutating func release(_ block: Int32) {
        let index = Int(block)
        referenceCounts[index] -= 1
        guard referenceCounts[index] == 0 else { return }
        if cachedBlocks[index] != nil {
            places[index] = .evictable
            appendToLRU(block)
        } else {
            places[index] = .free
            freeList.append(block)
        }
    }

    /// Takes a free block, or else evicts the least recently used cached one; the caller checked there is one.
    private mutating func takeFreshBlock() -> Int32 {
        let block: Int32
        if let free = freeList.popLast() {
            block = free
        } else {
            block = lruHead
            unlinkFromLRU(block)
            if let cached = cachedBlocks[Int(block)] {
                hashIndex[cached.hash]?.removeAll { $0 == block }
                if hashIndex[cached.hash]?.isEmpty == true { hashIndex[cached.hash] = nil }
                cachedBlocks[Int(block)] = nil
            }
        }
        places[Int(block)] = .used
        referenceCounts[Int(block)] = 1
        return block
    }

    private mutating func appendToLRU(_ block: Int32) {
        let index = Int(block)
        lruPrevious[index] = lruTail
        lruNext[index] = -1
        if lruTail >= 0 { lruNext[Int(lruTail)] = block } else { lruHead = block }
        lruTail = block
        evictableCount += 1
    }

    private mutating func unlinkFromLRU(_ block: Int32) {
        let index = Int(block)
        let previous = lruPrevious[index]
        let next = lruNext[index]
        if previous >= 0 { lruNext[Int(previous)] = next } else { lruHead = next }
        if next >= 0 { lruPrevious[Int(next)] = previous } else { lruTail = previous }
        lruPrevious[index] = -1
        lruNext[index] = -1
        evictableCount -= 1
    }

    /// The evictable cached blocks, least recently used first.
    public var evictionOrder: [Int32] {
        var order: [Int32] = []
        var block = lruHead
        while block >= 0, order.count < blockCount {
            order.append(block)
            block = lruNext[Int(block)]
        }
        return order
    }
}
