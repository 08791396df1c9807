/// Hands out KV-cache block ids from a fixed pool: the simple allocator the generator uses.
/// (The server's block manager adds reference counts and prefix caching on top of the same ids.)
public struct BlockAllocator: Sendable {
    public let blockCount: Int
    public let blockSize: Int
    private var free: [Int32]

    public init(blockCount: Int, blockSize: Int) {
        self.blockCount = blockCount
        self.blockSize = blockSize
        free = (0..<Int32(blockCount)).reversed()
    }

    /// Blocks not handed out.
    public var freeCount: Int { free.count }

    /// Grows `table` so that it covers `positions` tokens; returns false (and leaves `table` as it was) if the pool runs dry.
    public mutating func ensure(_ table: inout [Int32], covers positions: Int) -> Bool {
        let needed = (positions + blockSize - 1) / blockSize - table.count
        guard needed > 0 else { return true }
        guard needed <= free.count else { return false }
        for _ in 0..<needed { table.append(free.removeLast()) }
        return true
    }

    /// Returns every block of `table` to the pool and empties it.
    public mutating func release(_ table: inout [Int32]) {
        free.append(contentsOf: table.reversed())
        table.removeAll()
    }
}
