extension KVBlockManager {
    /// The parent hash of a sequence's first block: FNV-1a's 64-bit offset basis.
    public static let rootHash: UInt64 = 0xCBF2_9CE4_8422_2325

    /// The stable 64-bit hash of a full block: FNV-1a over the parent's hash and the block's token ids
    /// (little-endian bytes). The same tokens after the same prefix hash the same in every process, so the
    /// value can leave the process (prefix-affinity routing); lookups never trust it alone.
    /// - Parameters:
    ///   - parent: the previous block's chain hash, or ``rootHash`` for a sequence's first block.
    ///   - tokens: the block's token ids.
    public static func chainHash(parent: UInt64, tokens: ArraySlice<Int32>) -> UInt64 {
        let prime: UInt64 = 0x0000_0100_0000_01B3
        var hash = rootHash
        @inline(__always) func mix(_ word: UInt64, bytes: Int) {
            var word = word
            for _ in 0..<bytes {
                hash = (hash ^ (word & 0xFF)) &* prime
                word >>= 8
            }
        }
        mix(parent, bytes: 8)
        for token in tokens { mix(UInt64(UInt32(bitPattern: token)), bytes: 4) }
        return hash
    }
}
