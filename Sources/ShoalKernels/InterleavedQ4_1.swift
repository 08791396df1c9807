import ShoalGGUF
import _Builtin_intrinsics.intel

/// A Q4_1 weight matrix repacked for the fast (int8 activation) path: rows in groups of 16, and within a group,
/// block by block, the 16 rows' data interleaved so that one 512-bit register holds the same 4 weight bytes of all
/// 16 rows. One `vpdpbusd` with a broadcast of 4 activation bytes then adds 4 products to each of 16 row sums.
///
/// Layout: for group g and block b, at `((g * blocks) + b) * 320` bytes:
/// - 16 half-precision `d` (one per row), then 16 half-precision `m`;
/// - four 64-byte vectors; vector j holds, in 32-bit lane r, bytes `4j ..< 4j+4` of row r's 16 quant bytes.
///   Q4_1 keeps element i in the low nibble of byte i and element i+16 in its high nibble, so the low nibbles of
///   vector j are elements `4j ..< 4j+4` and the high nibbles elements `16+4j ..< 16+4j+4`.
/// The bytes are the file's own (only moved), so results are as exact as the weights.
public final class InterleavedQ4_1: @unchecked Sendable {
    /// Rows per interleaved group.
    public static let groupRows = 16
    static let blockBytes = 320

    public let rows: Int
    public let columns: Int
    let blocks: Int
    let storage: UnsafeMutableRawPointer

    /// Repacks `w` (Q4_1 with a row count that is a multiple of 16); nil for any other matrix.
    public init?(_ w: MatrixView) {
        guard w.type == .q4_1, w.rows > 0, w.rows % Self.groupRows == 0, w.columns % 32 == 0 else { return nil }
        rows = w.rows
        columns = w.columns
        blocks = w.columns / 32
        let groups = rows / Self.groupRows
        storage = .allocate(byteCount: groups * blocks * Self.blockBytes, alignment: 64)
        for g in 0..<groups {
            for b in 0..<blocks {
                let out = storage + (g * blocks + b) * Self.blockBytes
                for r in 0..<Self.groupRows {
                    let block = w.row(g * Self.groupRows + r) + b * 20
                    out.storeBytes(of: block.loadUnaligned(as: UInt16.self), toByteOffset: 2 * r, as: UInt16.self)
                    out.storeBytes(of: block.loadUnaligned(fromByteOffset: 2, as: UInt16.self), toByteOffset: 32 + 2 * r, as: UInt16.self)
                    for j in 0..<4 {
                        let quad = block.loadUnaligned(fromByteOffset: 4 + 4 * j, as: UInt32.self)
                        out.storeBytes(of: quad, toByteOffset: 64 + 64 * j + 4 * r, as: UInt32.self)
                    }
                }
            }
        }
    }

    deinit { storage.deallocate() }

    /// Bytes of group `g` (all its blocks, consecutive).
    @inline(__always)
    func group(_ g: Int) -> UnsafeRawPointer { UnsafeRawPointer(storage + g * blocks * Self.blockBytes) }
}

/// `y[t*yStride + r] = dot(row r of w, x_t)` for all rows and `tokens` tokens, with each x_t first quantized to
/// int8 per block of 32 (`quantizeActivations`): llama.cpp's CPU path for Q4_1. Integer products are summed exactly
/// (`vpdpbusd`) and scaled per block in float.
public func matmul(
    _ w: InterleavedQ4_1, _ x: UnsafePointer<Float>, xStride: Int, tokens: Int,
    _ y: UnsafeMutablePointer<Float>, yStride: Int, pool: ComputePool
) {
    guard tokens > 0 else { return }
    let groups = w.rows / InterleavedQ4_1.groupRows
    let activationBytes = Int8Activations.byteCount(tokens: tokens, columns: w.columns)
    let work = w.rows * w.columns * tokens
    let threads = work < 65_536 ? 1 : pool.threadCount
    let chunks = threads == 1 ? 1 : min(groups, 4 * threads)
    // Thread 0 (the caller) quantizes x into its scratch before the other threads start; all only read it then.
    pool.runChunked(chunks: chunks, prologue: {
        let activations = Int8Activations(memory: pool.scratch(thread: 0, bytes: activationBytes), tokens: tokens, columns: w.columns)
        quantizeActivations(x, xStride: xStride, tokens: tokens, into: activations)
    }) { chunk, _ in
        let activations = Int8Activations(memory: pool.scratch(thread: 0, bytes: activationBytes), tokens: tokens, columns: w.columns)
        let part = partition(0..<groups, part: chunk, of: chunks, granule: 1)
        for g in part {
            let weights = w.group(g)
            let out = y + g * InterleavedQ4_1.groupRows
            var t = 0
            while t + 4 <= tokens {
                interleavedQ4_1Tile4(weights, blocks: w.blocks, activations, firstToken: t, out + t * yStride, yStride: yStride)
                t += 4
            }
            while t < tokens {
                interleavedQ4_1Tile1(weights, blocks: w.blocks, activations, token: t, out + t * yStride)
                t += 1
            }
        }
    }
}

/// `acc + the 16 lanes' sums of 4 products` of unsigned weight bytes with signed activation bytes (`vpdpbusd`, or
/// its AVX-512BW equivalent where the build target lacks VNNI; no overflow either way since weights are 0...15).
@inline(__always)
func dotBytes(_ acc: __m512i, _ weights: __m512i, _ activations: __m512i) -> __m512i {
    #if SHOAL_VNNI
    return _mm512_dpbusd_epi32(acc, weights, activations)
    #else
    return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(weights, activations), _mm512_set1_epi16(1)))
    #endif
}

/// Four bytes at `p + offset` broadcast to all 16 lanes.
@inline(__always)
func broadcast4(_ p: UnsafeRawPointer, _ offset: Int) -> __m512i {
    _mm512_set1_epi32(p.loadUnaligned(fromByteOffset: offset, as: Int32.self))
}

/// The 16 rows of one group times 4 consecutive tokens; results to `y[t*yStride ..< t*yStride + 16]`.
@inline(__always)
func interleavedQ4_1Tile4(_ group: UnsafeRawPointer, blocks: Int, _ a: Int8Activations, firstToken: Int,
                          _ y: UnsafeMutablePointer<Float>, yStride: Int) {
    let nibble = _mm512_set1_epi8(0x0F)
    var f0 = _mm512_setzero_ps(), f1 = _mm512_setzero_ps(), f2 = _mm512_setzero_ps(), f3 = _mm512_setzero_ps()
    let x0 = a.values(token: firstToken), x1 = a.values(token: firstToken + 1)
    let x2 = a.values(token: firstToken + 2), x3 = a.values(token: firstToken + 3)
    let s0 = a.scales(token: firstToken), s1 = a.scales(token: firstToken + 1)
    let s2 = a.scales(token: firstToken + 2), s3 = a.scales(token: firstToken + 3)
    let m0 = a.sums(token: firstToken), m1 = a.sums(token: firstToken + 1)
    let m2 = a.sums(token: firstToken + 2), m3 = a.sums(token: firstToken + 3)
    for b in 0..<blocks {
        let base = group + b * InterleavedQ4_1.blockBytes
        let d = _mm512_cvtph_ps(base.loadUnaligned(as: __m256i.self))
        let m = _mm512_cvtph_ps(base.loadUnaligned(fromByteOffset: 32, as: __m256i.self))
        let v0 = base.loadUnaligned(fromByteOffset: 64, as: __m512i.self)
        let v1 = base.loadUnaligned(fromByteOffset: 128, as: __m512i.self)
        let v2 = base.loadUnaligned(fromByteOffset: 192, as: __m512i.self)
        let v3 = base.loadUnaligned(fromByteOffset: 256, as: __m512i.self)
        let l0 = _mm512_and_si512(v0, nibble), h0 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), nibble)
        let l1 = _mm512_and_si512(v1, nibble), h1 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), nibble)
        let l2 = _mm512_and_si512(v2, nibble), h2 = _mm512_and_si512(_mm512_srli_epi16(v2, 4), nibble)
        let l3 = _mm512_and_si512(v3, nibble), h3 = _mm512_and_si512(_mm512_srli_epi16(v3, 4), nibble)
        let o = 32 * b
        f0 = blockProduct(l0, l1, l2, l3, h0, h1, h2, h3, x0 + o, d: d, m: m, scale: s0[b], sum: m0[b], f0)
        f1 = blockProduct(l0, l1, l2, l3, h0, h1, h2, h3, x1 + o, d: d, m: m, scale: s1[b], sum: m1[b], f1)
        f2 = blockProduct(l0, l1, l2, l3, h0, h1, h2, h3, x2 + o, d: d, m: m, scale: s2[b], sum: m2[b], f2)
        f3 = blockProduct(l0, l1, l2, l3, h0, h1, h2, h3, x3 + o, d: d, m: m, scale: s3[b], sum: m3[b], f3)
    }
    storeFloats16Unaligned(f0, y)
    storeFloats16Unaligned(f1, y + yStride)
    storeFloats16Unaligned(f2, y + 2 * yStride)
    storeFloats16Unaligned(f3, y + 3 * yStride)
}

/// The 16 rows of one group times one token; results to `y[0 ..< 16]`.
@inline(__always)
func interleavedQ4_1Tile1(_ group: UnsafeRawPointer, blocks: Int, _ a: Int8Activations, token: Int,
                          _ y: UnsafeMutablePointer<Float>) {
    let nibble = _mm512_set1_epi8(0x0F)
    var f = _mm512_setzero_ps()
    let x = a.values(token: token), s = a.scales(token: token), sums = a.sums(token: token)
    for b in 0..<blocks {
        let base = group + b * InterleavedQ4_1.blockBytes
        let d = _mm512_cvtph_ps(base.loadUnaligned(as: __m256i.self))
        let m = _mm512_cvtph_ps(base.loadUnaligned(fromByteOffset: 32, as: __m256i.self))
        let v0 = base.loadUnaligned(fromByteOffset: 64, as: __m512i.self)
        let v1 = base.loadUnaligned(fromByteOffset: 128, as: __m512i.self)
        let v2 = base.loadUnaligned(fromByteOffset: 192, as: __m512i.self)
        let v3 = base.loadUnaligned(fromByteOffset: 256, as: __m512i.self)
        f = blockProduct(_mm512_and_si512(v0, nibble), _mm512_and_si512(v1, nibble),
                         _mm512_and_si512(v2, nibble), _mm512_and_si512(v3, nibble),
                         _mm512_and_si512(_mm512_srli_epi16(v0, 4), nibble), _mm512_and_si512(_mm512_srli_epi16(v1, 4), nibble),
                         _mm512_and_si512(_mm512_srli_epi16(v2, 4), nibble), _mm512_and_si512(_mm512_srli_epi16(v3, 4), nibble),
                         x + 32 * b, d: d, m: m, scale: s[b], sum: sums[b], f)
    }
    storeFloats16Unaligned(f, y)
}

/// `acc + d * scale * (weights . x) + m * sum` for one block of 16 rows: the low-nibble vectors `l0...l3` pair with
/// activation bytes 0..<16, the high-nibble ones with 16..<32, in two independent chains.
@inline(__always)
func blockProduct(_ l0: __m512i, _ l1: __m512i, _ l2: __m512i, _ l3: __m512i,
                  _ h0: __m512i, _ h1: __m512i, _ h2: __m512i, _ h3: __m512i,
                  _ x: UnsafeRawPointer, d: __m512, m: __m512, scale: Float, sum: Float, _ acc: __m512) -> __m512 {
    var low = dotBytes(_mm512_setzero_si512(), l0, broadcast4(x, 0))
    var high = dotBytes(_mm512_setzero_si512(), h0, broadcast4(x, 16))
    low = dotBytes(low, l1, broadcast4(x, 4))
    high = dotBytes(high, h1, broadcast4(x, 20))
    low = dotBytes(low, l2, broadcast4(x, 8))
    high = dotBytes(high, h2, broadcast4(x, 24))
    low = dotBytes(low, l3, broadcast4(x, 12))
    high = dotBytes(high, h3, broadcast4(x, 28))
    let products = _mm512_cvtepi32_ps(_mm512_add_epi32(low, high))
    return _mm512_fmadd_ps(m, _mm512_set1_ps(sum), _mm512_fmadd_ps(products, _mm512_mul_ps(d, _mm512_set1_ps(scale)), acc))
}

@inline(__always)
func storeFloats16Unaligned(_ v: __m512, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: __m512.self)
}

/// Scalar twin of the fast Q4_1 matmul on the original (not interleaved) matrix: the same int8 quantization of x
/// (`quantizeBlockReference`), exact integer block products, the scaling in Double.
package func matmulInt8Reference(
    _ w: MatrixView, _ x: UnsafePointer<Float>, xStride: Int, tokens: Int,
    _ y: UnsafeMutablePointer<Float>, yStride: Int
) {
    precondition(w.type == .q4_1)
    let blocks = w.columns / 32
    for t in 0..<tokens {
        let quantized = (0..<blocks).map { quantizeBlockReference(x + t * xStride + 32 * $0) }
        for r in 0..<w.rows {
            var total = 0.0
            for b in 0..<blocks {
                let block = w.row(r) + b * 20
                let d = Double(floatFromHalfReference(block.loadUnaligned(as: UInt16.self)))
                let m = Double(floatFromHalfReference(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
                var products = 0
                for i in 0..<16 {
                    let byte = Int(block.load(fromByteOffset: 4 + i, as: UInt8.self))
                    products += (byte & 0xF) * Int(quantized[b].values[i]) + (byte >> 4) * Int(quantized[b].values[16 + i])
                }
                total += d * Double(quantized[b].scale) * Double(products) + m * quantized[b].sum
            }
            y[t * yStride + r] = Float(total)
        }
    }
}
