import _Builtin_intrinsics.intel

/// How a KV cache stores keys and values.
///
/// - `f32`: 4 bytes an element, exact.
/// - `f16`, `bf16`: 2 bytes (IEEE half; bfloat16, float32's exponent range with an 8-bit mantissa).
/// - `q8_0`: llama.cpp's 8-bit blocks: 32 consecutive dimensions of one token share a scale (stored as f16), each
///   element is `round(x / scale)` with `scale = max|x| / 127`: 1.0625 bytes an element, scales included.
public enum KVCacheType: String, Sendable, CaseIterable, Codable {
    case f32
    case f16
    case bf16
    case q8_0

    /// Elements that share a `q8_0` scale.
    public static let quantBlock = 32

    /// The type for a name as vLLM (`--kv-cache-dtype`) or llama.cpp (`--cache-type-k`) spell it; nil for
    /// `auto` and for names not known.
    public init?(name: String) {
        switch name.lowercased() {
        case "f32", "fp32", "float32", "float": self = .f32
        case "f16", "fp16", "float16", "half": self = .f16
        case "bf16", "bfloat16": self = .bf16
        case "q8_0", "q8", "int8": self = .q8_0
        default: return nil
        }
    }

    /// Bytes of one element's value (the `q8_0` scales are counted by ``scaleBytes(elements:)``).
    public var elementBytes: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q8_0: 1
        }
    }

    /// Whether elements come in blocks of ``quantBlock`` with a scale each.
    public var isQuantized: Bool { self == .q8_0 }

    /// Bytes of the scales of `elements` elements (a multiple of ``quantBlock`` when quantized).
    public func scaleBytes(elements: Int) -> Int { isQuantized ? elements / Self.quantBlock * 2 : 0 }

    /// Bytes of `elements` elements, scales included.
    public func bytes(elements: Int) -> Int { elements * elementBytes + scaleBytes(elements: elements) }
}

// MARK: Stores (one token at a time)

/// Writes one token's keys (`count` floats) into `slot` of a transposed key tile (`count` rows of `blockSize`
/// elements; for `q8_0` with `count / 32` rows of `blockSize` f16 scales at `scales`).
public func kvStoreKeys(
    _ type: KVCacheType, _ source: UnsafePointer<Float>, count: Int,
    tile: UnsafeMutableRawPointer, scales: UnsafeMutableRawPointer?, slot: Int, blockSize: Int
) {
    switch type {
    case .f32:
        let out = tile.assumingMemoryBound(to: Float.self)
        for d in 0..<count { out[d * blockSize + slot] = source[d] }
    case .f16:
        let out = tile.assumingMemoryBound(to: UInt16.self)
        for d in 0..<count { out[d * blockSize + slot] = halfBits(source[d]) }
    case .bf16:
        let out = tile.assumingMemoryBound(to: UInt16.self)
        for d in 0..<count { out[d * blockSize + slot] = bfloat16Bits(source[d]) }
    case .q8_0:
        let out = tile.assumingMemoryBound(to: Int8.self)
        let scaleRows = scales!.assumingMemoryBound(to: UInt16.self)
        var c = 0
        while c < count {
            let (scale, inverse) = q8Scale(source + c, count: KVCacheType.quantBlock)
            scaleRows[c / KVCacheType.quantBlock * blockSize + slot] = halfBits(scale)
            for d in c..<(c + KVCacheType.quantBlock) { out[d * blockSize + slot] = q8Round(source[d] * inverse) }
            c += KVCacheType.quantBlock
        }
    }
}

/// Writes one token's values (`count` floats) as a row (for `q8_0` with `count / 32` f16 scales at `scales`).
public func kvStoreValues(
    _ type: KVCacheType, _ source: UnsafePointer<Float>, count: Int, row: UnsafeMutableRawPointer, scales: UnsafeMutableRawPointer?
) {
    switch type {
    case .f32:
        row.assumingMemoryBound(to: Float.self).update(from: source, count: count)
    case .f16:
        let out = row.assumingMemoryBound(to: UInt16.self)
        for d in 0..<count { out[d] = halfBits(source[d]) }
    case .bf16:
        let out = row.assumingMemoryBound(to: UInt16.self)
        for d in 0..<count { out[d] = bfloat16Bits(source[d]) }
    case .q8_0:
        let out = row.assumingMemoryBound(to: Int8.self)
        let scaleRow = scales!.assumingMemoryBound(to: UInt16.self)
        var c = 0
        while c < count {
            let (scale, inverse) = q8Scale(source + c, count: KVCacheType.quantBlock)
            scaleRow[c / KVCacheType.quantBlock] = halfBits(scale)
            for d in c..<(c + KVCacheType.quantBlock) { out[d] = q8Round(source[d] * inverse) }
            c += KVCacheType.quantBlock
        }
    }
}

// MARK: Scalar reads (fallback paths and tests)

/// Key element `d` of `slot` in a transposed tile (see ``kvStoreKeys``).
@inline(__always)
public func kvKey(_ type: KVCacheType, tile: UnsafeRawPointer, scales: UnsafeRawPointer?, d: Int, slot: Int, blockSize: Int) -> Float {
    let index = d * blockSize + slot
    switch type {
    case .f32: return tile.load(fromByteOffset: index * 4, as: Float.self)
    case .f16: return floatFromHalf(tile.load(fromByteOffset: index * 2, as: UInt16.self))
    case .bf16: return floatFromBFloat16(tile.load(fromByteOffset: index * 2, as: UInt16.self))
    case .q8_0:
        let scale = floatFromHalf(scales!.load(fromByteOffset: (d / KVCacheType.quantBlock * blockSize + slot) * 2, as: UInt16.self))
        return Float(tile.load(fromByteOffset: index, as: Int8.self)) * scale
    }
}

/// Element `d` of a value row (see ``kvStoreValues``).
@inline(__always)
public func kvValue(_ type: KVCacheType, row: UnsafeRawPointer, scales: UnsafeRawPointer?, d: Int) -> Float {
    switch type {
    case .f32: return row.load(fromByteOffset: d * 4, as: Float.self)
    case .f16: return floatFromHalf(row.load(fromByteOffset: d * 2, as: UInt16.self))
    case .bf16: return floatFromBFloat16(row.load(fromByteOffset: d * 2, as: UInt16.self))
    case .q8_0:
        let scale = floatFromHalf(scales!.load(fromByteOffset: d / KVCacheType.quantBlock * 2, as: UInt16.self))
        return Float(row.load(fromByteOffset: d, as: Int8.self)) * scale
    }
}

// MARK: Vector reads

/// Scores of up to four queries (`heads`, `headDim` floats apart) against the 16 positions of a transposed key
/// tile of a 2-byte or 8-bit type, starting at the head's first row (and, for `q8_0`, its first scale row):
/// element h, lane s = Σ_d q_h[d] · key(d, s). Missing heads repeat the last query. `f32` tiles are scored by the
/// model's own float path.
public func kvKeyScores16x4(
    _ type: KVCacheType, _ q: UnsafePointer<Float>, heads: Int, tile: UnsafeRawPointer, scales: UnsafeRawPointer?, headDim: Int
) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
    switch type {
    case .f32: return keyScores(F32Lanes.self, q, heads: heads, tile: tile, headDim: headDim)
    case .f16: return keyScores(F16Lanes.self, q, heads: heads, tile: tile, headDim: headDim)
    case .bf16: return keyScores(BF16Lanes.self, q, heads: heads, tile: tile, headDim: headDim)
    case .q8_0:
        // Two heads at a time: a chunk's sums and the running totals of four heads are more registers than AVX2 has.
        let first = q8KeyScores2(q, q + min(1, heads - 1) * headDim, tile: tile, scales: scales!, headDim: headDim)
        if heads <= 2 { return (first.0, first.1, first.1, first.1) }
        let second = q8KeyScores2(q + 2 * headDim, q + min(3, heads - 1) * headDim, tile: tile, scales: scales!, headDim: headDim)
        return (first.0, first.1, second.0, second.1)
    }
}

/// `output[h][0..<32] = Σ_p weights[h][p - first] · value(p)[column ..< column + 32]` for one or two heads (`heads`),
/// positions `first...last` of a sequence whose value rows are found through `table`: block `b`'s row of slot `s`
/// at `base + b * blockStride + valueOffset + s * rowBytes` (and, for `q8_0`, its scales at
/// `base + b * blockStride + scaleOffset + s * scaleRowBytes`). `column` must be a multiple of 32.
public func kvAccumulateValues2x32(
    _ type: KVCacheType, table: UnsafePointer<Int32>, first: Int, last: Int, blockSize: Int,
    base: UnsafeRawPointer, blockStride: Int, valueOffset: Int, rowBytes: Int, scaleOffset: Int, scaleRowBytes: Int,
    column: Int, weights: UnsafePointer<Float>, weightStride: Int, heads: Int,
    output: UnsafeMutablePointer<Float>, outputStride: Int
) {
    let geometry = ValueGeometry(
        table: table, first: first, last: last, blockSize: blockSize, base: base, blockStride: blockStride,
        valueOffset: valueOffset, rowBytes: rowBytes, scaleOffset: scaleOffset, scaleRowBytes: scaleRowBytes, column: column)
    let w1 = weights + min(1, heads - 1) * weightStride
    let sums: (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)
    switch type {
    case .f32: sums = accumulateValues(F32Lanes.self, geometry, weights, w1)
    case .f16: sums = accumulateValues(F16Lanes.self, geometry, weights, w1)
    case .bf16: sums = accumulateValues(BF16Lanes.self, geometry, weights, w1)
    case .q8_0: sums = accumulateValues(Q8Lanes.self, geometry, weights, w1)
    }
    let out0 = UnsafeMutableRawPointer(output)
    out0.storeBytes(of: sums.0, as: SIMD16<Float>.self)
    out0.storeBytes(of: sums.1, toByteOffset: 64, as: SIMD16<Float>.self)
    if heads > 1 {
        let out1 = UnsafeMutableRawPointer(output + outputStride)
        out1.storeBytes(of: sums.2, as: SIMD16<Float>.self)
        out1.storeBytes(of: sums.3, toByteOffset: 64, as: SIMD16<Float>.self)
    }
}

/// `output[h][0..<16] = Σ_p weights[h][p - first] · value(p)[column ..< column + 16]` for up to four heads
/// (`heads`), each value row chunk converted once for all of them (`kvAccumulateValues2x32` converts it once per
/// pair of heads). Missing heads repeat the last one's weights and are not stored. `column` must be a multiple of 16.
public func kvAccumulateValues4x16(
    _ type: KVCacheType, table: UnsafePointer<Int32>, first: Int, last: Int, blockSize: Int,
    base: UnsafeRawPointer, blockStride: Int, valueOffset: Int, rowBytes: Int, scaleOffset: Int, scaleRowBytes: Int,
    column: Int, weights: UnsafePointer<Float>, weightStride: Int, heads: Int,
    output: UnsafeMutablePointer<Float>, outputStride: Int
) {
    let geometry = ValueGeometry(
        table: table, first: first, last: last, blockSize: blockSize, base: base, blockStride: blockStride,
        valueOffset: valueOffset, rowBytes: rowBytes, scaleOffset: scaleOffset, scaleRowBytes: scaleRowBytes, column: column)
    let w = (weights, weights + min(1, heads - 1) * weightStride, weights + min(2, heads - 1) * weightStride,
             weights + min(3, heads - 1) * weightStride)
    let sums: (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)
    switch type {
    case .f32: sums = accumulateValues4(F32Lanes.self, geometry, w)
    case .f16: sums = accumulateValues4(F16Lanes.self, geometry, w)
    case .bf16: sums = accumulateValues4(BF16Lanes.self, geometry, w)
    case .q8_0: sums = accumulateValues4(Q8Lanes.self, geometry, w)
    }
    let raw = UnsafeMutableRawPointer(output)
    raw.storeBytes(of: sums.0, as: SIMD16<Float>.self)
    if heads > 1 { raw.storeBytes(of: sums.1, toByteOffset: 4 * outputStride, as: SIMD16<Float>.self) }
    if heads > 2 { raw.storeBytes(of: sums.2, toByteOffset: 8 * outputStride, as: SIMD16<Float>.self) }
    if heads > 3 { raw.storeBytes(of: sums.3, toByteOffset: 12 * outputStride, as: SIMD16<Float>.self) }
}

// MARK: Internals

/// 16 consecutive elements of a cache type as floats (unscaled for `q8_0`).
protocol KVLanes {
    static var elementBytes: Int { get }
    static var hasScales: Bool { get }
    static func load16(_ p: UnsafeRawPointer) -> SIMD16<Float>
}

enum F32Lanes: KVLanes {
    static var elementBytes: Int { 4 }
    static var hasScales: Bool { false }
    @inline(__always) static func load16(_ p: UnsafeRawPointer) -> SIMD16<Float> { p.loadUnaligned(as: SIMD16<Float>.self) }
}

enum F16Lanes: KVLanes {
    static var elementBytes: Int { 2 }
    static var hasScales: Bool { false }
    @inline(__always) static func load16(_ p: UnsafeRawPointer) -> SIMD16<Float> {
        _mm512_cvtph_ps(p.loadUnaligned(as: __m256i.self))
    }
}

enum BF16Lanes: KVLanes {
    static var elementBytes: Int { 2 }
    static var hasScales: Bool { false }
    @inline(__always) static func load16(_ p: UnsafeRawPointer) -> SIMD16<Float> {
        _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(p.loadUnaligned(as: __m256i.self)), 16))
    }
}

enum Q8Lanes: KVLanes {
    static var elementBytes: Int { 1 }
    static var hasScales: Bool { true }
    @inline(__always) static func load16(_ p: UnsafeRawPointer) -> SIMD16<Float> {
        _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(p.loadUnaligned(as: __m128i.self)))
    }
}

/// 16 f16 values as floats.
@inline(__always)
private func halves16(_ p: UnsafeRawPointer) -> SIMD16<Float> { F16Lanes.load16(p) }

@inline(__always)
private func keyScores<L: KVLanes>(
    _: L.Type, _ q: UnsafePointer<Float>, heads: Int, tile: UnsafeRawPointer, headDim: Int
) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
    let q0 = q, q1 = q + min(1, heads - 1) * headDim, q2 = q + min(2, heads - 1) * headDim, q3 = q + min(3, heads - 1) * headDim
    let rowBytes = 16 * L.elementBytes
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
    var row = tile
    for d in 0..<headDim {
        let k = L.load16(row)
        a0.addProduct(SIMD16(repeating: q0[d]), k)
        a1.addProduct(SIMD16(repeating: q1[d]), k)
        a2.addProduct(SIMD16(repeating: q2[d]), k)
        a3.addProduct(SIMD16(repeating: q3[d]), k)
        row += rowBytes
    }
    return (a0, a1, a2, a3)
}

/// Two queries against a `q8_0` tile: each 32-row chunk's integer-valued sums, times the chunk's 16 slot scales.
@inline(__always)
private func q8KeyScores2(
    _ q0: UnsafePointer<Float>, _ q1: UnsafePointer<Float>, tile: UnsafeRawPointer, scales: UnsafeRawPointer, headDim: Int
) -> (SIMD16<Float>, SIMD16<Float>) {
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
    var row = tile
    var chunk = 0
    while chunk * KVCacheType.quantBlock < headDim {
        var c0 = SIMD16<Float>(), c1 = SIMD16<Float>()
        let start = chunk * KVCacheType.quantBlock
        for d in start..<(start + KVCacheType.quantBlock) {
            let k = Q8Lanes.load16(row)
            c0.addProduct(SIMD16(repeating: q0[d]), k)
            c1.addProduct(SIMD16(repeating: q1[d]), k)
            row += 16
        }
        let scale = halves16(scales + chunk * 32)
        a0.addProduct(scale, c0)
        a1.addProduct(scale, c1)
        chunk += 1
    }
    return (a0, a1)
}

/// Where a sequence's value rows are.
struct ValueGeometry {
    let table: UnsafePointer<Int32>
    let first: Int, last: Int, blockSize: Int
    let base: UnsafeRawPointer
    let blockStride: Int, valueOffset: Int, rowBytes: Int, scaleOffset: Int, scaleRowBytes: Int, column: Int
}

@inline(__always)
private func accumulateValues<L: KVLanes>(
    _: L.Type, _ g: ValueGeometry, _ w0: UnsafePointer<Float>, _ w1: UnsafePointer<Float>
) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
    var a00 = SIMD16<Float>(), a01 = SIMD16<Float>(), a10 = SIMD16<Float>(), a11 = SIMD16<Float>()
    let columnBytes = g.column * L.elementBytes
    let scaleColumn = g.column / KVCacheType.quantBlock * 2
    var p = g.first
    while p <= g.last {
        let blockIndex = p / g.blockSize
        let end = min(g.last, blockIndex * g.blockSize + g.blockSize - 1)
        let blockBase = g.base + Int(g.table[blockIndex]) * g.blockStride
        let slot = p - blockIndex * g.blockSize
        var row = blockBase + g.valueOffset + slot * g.rowBytes + columnBytes
        var scale = blockBase + g.scaleOffset + slot * g.scaleRowBytes + scaleColumn
        while p <= end {
            let v0 = L.load16(row)
            let v1 = L.load16(row + 16 * L.elementBytes)
            let i = p - g.first
            var s0 = w0[i], s1 = w1[i]
            if L.hasScales {
                let f = floatFromHalf(scale.load(as: UInt16.self))
                s0 *= f
                s1 *= f
                scale += g.scaleRowBytes
            }
            let b0 = SIMD16<Float>(repeating: s0), b1 = SIMD16<Float>(repeating: s1)
            a00.addProduct(b0, v0); a01.addProduct(b0, v1)
            a10.addProduct(b1, v0); a11.addProduct(b1, v1)
            row += g.rowBytes
            p += 1
        }
    }
    return (a00, a01, a10, a11)
}

@inline(__always)
private func accumulateValues4<L: KVLanes>(
    _: L.Type, _ g: ValueGeometry,
    _ w: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>)
) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
    forEachValueChunk(L.self, g) { v, i in
        a0.addProduct(SIMD16(repeating: w.0[i]), v)
        a1.addProduct(SIMD16(repeating: w.1[i]), v)
        a2.addProduct(SIMD16(repeating: w.2[i]), v)
        a3.addProduct(SIMD16(repeating: w.3[i]), v)
    }
    return (a0, a1, a2, a3)
}

/// Calls `body(v, p - first)` for each position p of `g.first...g.last` in order, with v the 16 values at
/// `g.column` of p's row as floats (scaled, for `q8_0`).
@inline(__always)
func forEachValueChunk<L: KVLanes>(_: L.Type, _ g: ValueGeometry, _ body: (SIMD16<Float>, Int) -> Void) {
    let columnBytes = g.column * L.elementBytes
    let scaleColumn = g.column / KVCacheType.quantBlock * 2
    var p = g.first
    while p <= g.last {
        let blockIndex = p / g.blockSize
        let end = min(g.last, blockIndex * g.blockSize + g.blockSize - 1)
        let blockBase = g.base + Int(g.table[blockIndex]) * g.blockStride
        let slot = p - blockIndex * g.blockSize
        var row = blockBase + g.valueOffset + slot * g.rowBytes + columnBytes
        var scale = blockBase + g.scaleOffset + slot * g.scaleRowBytes + scaleColumn
        while p <= end {
            var v = L.load16(row)
            if L.hasScales {
                v *= SIMD16(repeating: floatFromHalf(scale.load(as: UInt16.self)))
                scale += g.scaleRowBytes
            }
            body(v, p - g.first)
            row += g.rowBytes
            p += 1
        }
    }
}

/// The `q8_0` scale of `count` floats and its inverse (0 for an all-zero block).
@inline(__always)
private func q8Scale(_ x: UnsafePointer<Float>, count: Int) -> (Float, Float) {
    var amax: Float = 0
    for i in 0..<count { amax = max(amax, abs(x[i])) }
    // The scale is stored as f16: quantize with the value that will be read back.
    let scale = floatFromHalf(halfBits(amax / 127))
    return (scale, scale > 0 ? 1 / scale : 0)
}

@inline(__always)
private func q8Round(_ x: Float) -> Int8 { Int8(max(-127, min(127, x.rounded(.toNearestOrEven)))) }

/// IEEE half bits of `x`, rounded to nearest even.
@inline(__always)
package func halfBits(_ x: Float) -> UInt16 { Float16(x).bitPattern }

/// bfloat16 bits of `x`, rounded to nearest even (NaN stays NaN).
@inline(__always)
package func bfloat16Bits(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    if x.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x40 }
    let rounding = ((bits >> 16) & 1) &+ 0x7FFF
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
}
