/// An approximate prefix tree of the prompts one replica served recently, bounded in size with LRU eviction.
///
/// Prompts are cut into blocks of `blockSize` UTF-8 bytes; block k is stored as the chained hash of
/// blocks 0...k, so finding block k means the whole prefix up to it matched (like the engine's prefix
/// cache hashes KV blocks). A prompt's partial last block is not indexed. Equivalent to a radix tree with
/// block-sized edges, at a fraction of its memory and code.
public struct PrefixIndex: Sendable {
    /// Bytes per block.
    public let blockSize: Int
    /// Blocks kept; beyond it the least recently used are dropped.
    public let capacity: Int
    private var lastUsed: [UInt64: UInt64] = [:]
    private var tick: UInt64 = 0

    public init(blockSize: Int = 16, capacity: Int = 1 << 18) {
        self.blockSize = max(1, blockSize)
        self.capacity = max(1, capacity)
    }

    /// Blocks stored now.
    public var count: Int { lastUsed.count }

    /// The chained block hashes of `text`'s whole blocks.
    public func blockHashes(of text: String) -> [UInt64] {
        let bytes = Array(text.utf8)
        var hashes: [UInt64] = []
        hashes.reserveCapacity(bytes.count / blockSize)
        var chain: UInt64 = 0xcbf2_9ce4_8422_2325
        var start = 0
        while start + blockSize <= bytes.count {
            chain = StableHash.hash(bytes: bytes[start..<(start + blockSize)], seed: chain)
            hashes.append(chain)
            start += blockSize
        }
        return hashes
    }

    /// How many leading blocks of `hashes` are stored.
    public func matchedBlocks(_ hashes: [UInt64]) -> Int {
        var matched = 0
        for hash in hashes {
            guard lastUsed[hash] != nil else { break }
            matched += 1
        }
        return matched
    }

    /// Records that the replica served a prompt with these blocks (all become most recently used).
    /// - Complexity: amortised O(blocks); eviction sorts once per `capacity / 8` insertions.
    public mutating func insert(_ hashes: [UInt64]) {
        tick &+= 1
        for hash in hashes { lastUsed[hash] = tick }
        if lastUsed.count > capacity + capacity / 8 { evict() }
    }

    /// Drops the least recently used blocks down to `capacity`.
    private mutating func evict() {
        let excess = lastUsed.count - capacity
        guard excess > 0 else { return }
        let oldest = lastUsed.sorted { $0.value < $1.value }.prefix(excess)
        for (hash, _) in oldest { lastUsed[hash] = nil }
    }
}
