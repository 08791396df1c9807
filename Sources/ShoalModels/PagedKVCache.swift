public import ShoalKernels

/// Keys and values of a range of layers (every layer, or one pipeline stage's) in one preallocated arena of
/// fixed-size blocks. Layers are named by their absolute index in the model.
///
/// A sequence owns a block table (block ids); the token at position `p` lives in block
/// `table[p / blockSize]`, slot `p % blockSize`. Which blocks belong to whom is decided outside
/// (the engine's block manager): the cache only stores numbers, as `type` says (``KVCacheType``): float32 (cached
/// decoding then reproduces a full pass to float rounding), f16, bf16 or llama.cpp's 8-bit `q8_0` blocks.
///
/// Layout per layer and block: keys transposed (`kvWidth` rows of `blockSize` elements, so attention scores a
/// whole block of positions with vector FMAs and no horizontal sums), for `q8_0` followed by their scales
/// (`kvWidth / 32` rows of `blockSize` f16, one per 32 dimensions of a token); then values row by row
/// (`blockSize` rows of `kvWidth` elements), for `q8_0` followed by theirs (`blockSize` rows of `kvWidth / 32`).
public final class PagedKVCache: @unchecked Sendable {
    public static let defaultBlockSize = 16

    /// The absolute indices of the layers held.
    public let layers: Range<Int>
    public var layerCount: Int { layers.count }
    public let blockCount: Int
    public let blockSize: Int
    public let kvWidth: Int
    /// How elements are stored.
    public let type: KVCacheType
    private let storage: UnsafeMutableRawPointer
    private let byteCount: Int
    /// Bytes of one block of one layer, and of one layer.
    public let blockStride: Int
    private let layerStride: Int
    /// Byte offsets inside a block: key scales, values, value scales.
    public let keyScaleOffset: Int
    public let valueOffset: Int
    public let valueScaleOffset: Int
    /// Bytes of one value row, and of one row of value scales.
    public let valueRowBytes: Int
    public let valueScaleRowBytes: Int

    /// Bytes one token occupies across all layers (keys and values, `q8_0` scales included).
    public static func bytesPerToken(layerCount: Int, kvWidth: Int, type: KVCacheType = .f32) -> Int {
        layerCount * type.bytes(elements: kvWidth) * 2
    }

    /// Why `type` cannot hold rows of `kvWidth` elements of heads `headDim` wide, or nil when it can.
    public static func unsupportedReason(type: KVCacheType, headDim: Int) -> String? {
        guard type.isQuantized, headDim % KVCacheType.quantBlock != 0 else { return nil }
        return "a \(type.rawValue) KV cache needs heads of a multiple of \(KVCacheType.quantBlock) dimensions; this model's have \(headDim)"
    }

    /// Allocates the arena for layers `0..<layerCount`.
    /// - Throws: `ModelError` when the size is zero or does not fit in memory arithmetic.
    public convenience init(layerCount: Int, kvWidth: Int, blockCount: Int, blockSize: Int = PagedKVCache.defaultBlockSize,
                            type: KVCacheType = .f32) throws {
        try self.init(layers: 0..<max(0, layerCount), kvWidth: kvWidth, blockCount: blockCount, blockSize: blockSize, type: type)
    }

    /// Allocates the arena for the layers `layers` (absolute indices).
    /// - Throws: `ModelError` when the size is zero, does not fit in memory arithmetic, or `type` is quantized and
    ///   `kvWidth` is not a multiple of its blocks.
    public init(layers: Range<Int>, kvWidth: Int, blockCount: Int, blockSize: Int = PagedKVCache.defaultBlockSize,
                type: KVCacheType = .f32) throws {
        let layerCount = layers.count
        guard layerCount > 0, kvWidth > 0, blockCount > 0, blockSize > 0 else {
            throw ModelError(.invalidBatch, "KV cache needs at least one block (got \(blockCount))")
        }
        if type.isQuantized, kvWidth % KVCacheType.quantBlock != 0 {
            throw ModelError(.invalidBatch, "a \(type.rawValue) KV cache needs rows of a multiple of \(KVCacheType.quantBlock) elements, got \(kvWidth)")
        }
        let (half, o1) = type.bytes(elements: kvWidth).multipliedReportingOverflow(by: blockSize)
        let (blockStride, o2) = half.multipliedReportingOverflow(by: 2)
        let (layerStride, o3) = blockStride.multipliedReportingOverflow(by: blockCount)
        let (total, o4) = layerStride.multipliedReportingOverflow(by: layerCount)
        guard !o1, !o2, !o3, !o4 else { throw ModelError(.invalidBatch, "KV cache size overflows") }
        self.layers = layers
        self.kvWidth = kvWidth
        self.blockCount = blockCount
        self.blockSize = blockSize
        self.type = type
        self.blockStride = blockStride
        self.layerStride = layerStride
        keyScaleOffset = kvWidth * blockSize * type.elementBytes
        valueOffset = half
        valueRowBytes = kvWidth * type.elementBytes
        valueScaleOffset = half + blockSize * valueRowBytes
        valueScaleRowBytes = type.scaleBytes(elements: kvWidth)
        byteCount = total
        storage = .allocate(byteCount: total, alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: total)
    }

    /// Convenience: a cache for `config` with `blockCount` blocks.
    public convenience init(config: ModelConfig, blockCount: Int, blockSize: Int = PagedKVCache.defaultBlockSize,
                            type: KVCacheType = .f32) throws {
        try self.init(layerCount: config.layerCount, kvWidth: config.kvWidth, blockCount: blockCount, blockSize: blockSize, type: type)
    }

    deinit { storage.deallocate() }

    /// The bytes of `block` for `layer` (keys, then values; see the layout above).
    @inline(__always)
    public func block(layer: Int, block: Int) -> UnsafeMutableRawPointer {
        storage + (layer - layers.lowerBound) * layerStride + block * blockStride
    }

    /// The first block of `layer`: block `b` starts `b * blockStride` bytes later.
    @inline(__always)
    public func layerBase(_ layer: Int) -> UnsafeMutableRawPointer {
        storage + (layer - layers.lowerBound) * layerStride
    }

    /// The float32 key tile of `block` for `layer`: element (i, slot) of the keys at `i * blockSize + slot`,
    /// i in 0..<kvWidth (KV head h covers i in h*headDim ..< (h+1)*headDim). Only for an `f32` cache.
    @inline(__always)
    public func keyTile(layer: Int, block: Int) -> UnsafeMutablePointer<Float> {
        self.block(layer: layer, block: block).assumingMemoryBound(to: Float.self)
    }

    /// Start of the float32 value row of `slot` in `block` for `layer`. Only for an `f32` cache.
    @inline(__always)
    public func values(layer: Int, block: Int, slot: Int) -> UnsafeMutablePointer<Float> {
        (self.block(layer: layer, block: block) + valueOffset + slot * valueRowBytes).assumingMemoryBound(to: Float.self)
    }

    /// Stores one token's keys and values (`kvWidth` floats each) at `slot` of `block`, converting to `type`.
    @inline(__always)
    public func store(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, layer: Int, block: Int, slot: Int) {
        let base = self.block(layer: layer, block: block)
        let quantized = type.isQuantized
        kvStoreKeys(type, keys, count: kvWidth, tile: base, scales: quantized ? base + keyScaleOffset : nil, slot: slot, blockSize: blockSize)
        kvStoreValues(type, values, count: kvWidth, row: base + valueOffset + slot * valueRowBytes,
                      scales: quantized ? base + valueScaleOffset + slot * valueScaleRowBytes : nil)
    }

    /// One token's keys read back from `slot` of `block`, as floats (for tests and debugging).
    public func loadKeys(layer: Int, block: Int, slot: Int) -> [Float] {
        let base = UnsafeRawPointer(self.block(layer: layer, block: block))
        let scales = type.isQuantized ? base + keyScaleOffset : nil
        return (0..<kvWidth).map { kvKey(type, tile: base, scales: scales, d: $0, slot: slot, blockSize: blockSize) }
    }

    /// One token's values read back from `slot` of `block`, as floats (for tests and debugging).
    public func loadValues(layer: Int, block: Int, slot: Int) -> [Float] {
        let base = UnsafeRawPointer(self.block(layer: layer, block: block))
        let row = base + valueOffset + slot * valueRowBytes
        let scales = type.isQuantized ? base + valueScaleOffset + slot * valueScaleRowBytes : nil
        return (0..<kvWidth).map { kvValue(type, row: row, scales: scales, d: $0) }
    }

    /// Copies one block's contents (all layers) to another block, for copy-on-write of shared blocks.
    public func copyBlock(from source: Int, to destination: Int) {
        for layer in layers {
            block(layer: layer, block: destination).copyMemory(from: block(layer: layer, block: source), byteCount: blockStride)
        }
    }
}
