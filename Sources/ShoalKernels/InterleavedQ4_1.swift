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
package final class InterleavedQ4_1: InterleavedMatrix, @unchecked Sendable {
    static let blockBytes = 320

    package let rows: Int
    package let columns: Int
    let blocks: Int
    let storage: UnsafeMutableRawPointer

    /// Repacks `w` (Q4_1 with a row count that is a multiple of 16); nil for any other matrix.
    package init?(_ w: MatrixView) {
        guard w.type == .q4_1, w.rows > 0, w.rows % interleavedGroupRows == 0, w.columns % 32 == 0 else { return nil }
        rows = w.rows
        columns = w.columns
        blocks = w.columns / 32
        let groups = rows / interleavedGroupRows
        storage = .allocate(byteCount: groups * blocks * Self.blockBytes, alignment: 64)
        for g in 0..<groups {
            for b in 0..<blocks {
                let out = storage + (g * blocks + b) * Self.blockBytes
                for r in 0..<interleavedGroupRows {
                    let block = w.row(g * interleavedGroupRows + r) + b * 20
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

    package static var readsOffsetActivations: Bool { false }

    @inline(__always)
    package func multiply(group g: Int, _ a: Int8Activations, firstToken: Int, tokens: Int,
                         _ y: UnsafeMutablePointer<Float>, yStride: Int) {
        let weights = UnsafeRawPointer(storage + g * blocks * Self.blockBytes)
        if tokens == 4 {
            interleavedQ4_1Tile4(weights, blocks: blocks, a, firstToken: firstToken, y, yStride: yStride)
        } else {
            for t in 0..<tokens { interleavedQ4_1Tile1(weights, blocks: blocks, a, token: firstToken + t, y + t * yStride) }
        }
    }
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
