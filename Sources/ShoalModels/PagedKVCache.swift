/// Keys and values of a range of layers (every layer, or one pipeline stage's) in one preallocated arena of
/// fixed-size blocks. Layers are named by their absolute index in the model.
///
/// A sequence owns a block table (block ids); the token at position `p` lives in block
/// `table[p / blockSize]`, slot `p % blockSize`. Which blocks belong to whom is decided outside
/// (the engine's block manager): the cache only stores numbers. Values are float32 so that
/// cached decoding reproduces a full pass to float rounding.
///
/// Layout per layer and block: keys transposed (`kvWidth` rows of `blockSize` floats, so attention scores a whole
/// block of positions with vector FMAs and no horizontal sums), then values row by row (`blockSize` rows of `kvWidth`).
public final class PagedKVCache: @unchecked Sendable {
    public static let defaultBlockSize = 16

    /// The absolute indices of the layers held.
    public let layers: Range<Int>
    public var layerCount: Int { layers.count }
    public let blockCount: Int
    public let blockSize: Int
    public let kvWidth: Int
    private let storage: UnsafeMutablePointer<Float>
    private let blockStride: Int
    private let layerStride: Int

    /// Bytes one token occupies across all layers (keys and values).
    public static func bytesPerToken(layerCount: Int, kvWidth: Int) -> Int {
        layerCount * kvWidth * 2 * MemoryLayout<Float>.stride
    }

    /// Allocates the arena for layers `0..<layerCount`.
    /// - Throws: `ModelError` when the size is zero or does not fit in memory arithmetic.
    public convenience init(layerCount: Int, kvWidth: Int, blockCount: Int, blockSize: Int = PagedKVCache.defaultBlockSize) throws {
        try self.init(layers: 0..<max(0, layerCount), kvWidth: kvWidth, blockCount: blockCount, blockSize: blockSize)
    }

    /// Allocates the arena for the layers `layers` (absolute indices).
    /// - Throws: `ModelError` when the size is zero or does not fit in memory arithmetic.
    public init(layers: Range<Int>, kvWidth: Int, blockCount: Int, blockSize: Int = PagedKVCache.defaultBlockSize) throws {
        let layerCount = layers.count
        guard layerCount > 0, kvWidth > 0, blockCount > 0, blockSize > 0 else {
            throw ModelError(.invalidBatch, "KV cache needs at least one block (got \(blockCount))")
        }
        let (blockStride, o1) = (blockSize * kvWidth).multipliedReportingOverflow(by: 2)
        let (layerStride, o2) = blockStride.multipliedReportingOverflow(by: blockCount)
        let (total, o3) = layerStride.multipliedReportingOverflow(by: layerCount)
        guard !o1, !o2, !o3 else { throw ModelError(.invalidBatch, "KV cache size overflows") }
        self.layers = layers
        self.kvWidth = kvWidth
        self.blockCount = blockCount
        self.blockSize = blockSize
        self.blockStride = blockStride
        self.layerStride = layerStride
        storage = .allocate(capacity: total)
        storage.initialize(repeating: 0, count: total)
    }

    /// Convenience: a cache for `config` with `blockCount` blocks.
    public convenience init(config: ModelConfig, blockCount: Int, blockSize: Int = PagedKVCache.defaultBlockSize) throws {
        try self.init(layerCount: config.layerCount, kvWidth: config.kvWidth, blockCount: blockCount, blockSize: blockSize)
    }

    deinit { storage.deallocate() }

    /// The key tile of `block` for `layer`: element (i, slot) of the keys at `i * blockSize + slot`,
    /// i in 0..<kvWidth (KV head h covers i in h*headDim ..< (h+1)*headDim).
    @inline(__always)
    public func keyTile(layer: Int, block: Int) -> UnsafeMutablePointer<Float> {
        storage + (layer - layers.lowerBound) * layerStride + block * blockStride
    }

    /// Stores one token's keys (`kvWidth` floats) at `slot` of `block`.
    @inline(__always)
    public func storeKeys(_ keys: UnsafePointer<Float>, layer: Int, block: Int, slot: Int) {
        let tile = keyTile(layer: layer, block: block) + slot
        for i in 0..<kvWidth { tile[i * blockSize] = keys[i] }
    }

    /// One token's keys read back from `slot` of `block` (for tests and debugging).
    public func loadKeys(layer: Int, block: Int, slot: Int) -> [Float] {
        let tile = keyTile(layer: layer, block: block) + slot
        return (0..<kvWidth).map { tile[$0 * blockSize] }
    }

    /// Start of the value row of `slot` in `block` for `layer`.
    @inline(__always)
    public func values(layer: Int, block: Int, slot: Int) -> UnsafeMutablePointer<Float> {
        storage + (layer - layers.lowerBound) * layerStride + block * blockStride + (blockSize + slot) * kvWidth
    }

    /// Copies one block's contents (all layers) to another block, for copy-on-write of shared blocks.
    public func copyBlock(from source: Int, to destination: Int) {
        for layer in 0..<layerCount {
            let src = storage + layer * layerStride + source * blockStride
            let dst = storage + layer * layerStride + destination * blockStride
            dst.update(from: src, count: blockStride)
        }
    }
}
