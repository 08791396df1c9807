import ShoalGGUF
import _Builtin_intrinsics.intel

/// A Q8_0 weight matrix (the tied output head of SmolLM2, for one) repacked for the fast path: rows in groups of
/// 16, block by block, so one 512-bit register holds the same 4 weight bytes of all 16 rows.
///
/// Layout: for group g and block b, at `((g * blocks) + b) * 640` bytes:
/// - 16 half-precision `d` (one per row), 32 bytes of padding;
/// - 16 int32: `128 * sum(q)` of each row's block (see below);
/// - eight 64-byte vectors; vector j holds, in 32-bit lane r, bytes `4j ..< 4j+4` of row r's 32 quants.
///
/// `vpdpbusd` multiplies unsigned by signed bytes, and here both sides are signed, so the kernel feeds the
/// activations plus 128 (unsigned) and subtracts `128 * sum(q)`. Without VNNI it feeds `|q|` and the activations
/// negated where q < 0 instead (the same sums, and no 16-bit saturation: 2 * 128 * 127 < 32768).
package final class InterleavedQ8_0: InterleavedMatrix, @unchecked Sendable {
    static let blockBytes = 640

    package let rows: Int
    package let columns: Int
    let blocks: Int
    let storage: UnsafeMutableRawPointer

    /// Repacks `w` (Q8_0 with a row count that is a multiple of 16); nil for any other matrix.
    package init?(_ w: MatrixView) {
        guard w.type == .q8_0, w.rows > 0, w.rows % interleavedGroupRows == 0, w.columns % 32 == 0 else { return nil }
        rows = w.rows
        columns = w.columns
        blocks = w.columns / 32
        let groups = rows / interleavedGroupRows
        storage = .allocate(byteCount: groups * blocks * Self.blockBytes, alignment: 64)
        for g in 0..<groups {
            for b in 0..<blocks {
                let out = storage + (g * blocks + b) * Self.blockBytes
                for r in 0..<interleavedGroupRows {
                    let block = w.row(g * interleavedGroupRows + r) + b * 34
                    out.storeBytes(of: block.loadUnaligned(as: UInt16.self), toByteOffset: 2 * r, as: UInt16.self)
                    out.storeBytes(of: 0, toByteOffset: 32 + 2 * r, as: UInt16.self)
                    var sum: Int32 = 0
                    for i in 0..<32 { sum += Int32(block.load(fromByteOffset: 2 + i, as: Int8.self)) }
                    out.storeBytes(of: 128 * sum, toByteOffset: 64 + 4 * r, as: Int32.self)
                    for j in 0..<8 {
                        let quad = block.loadUnaligned(fromByteOffset: 2 + 4 * j, as: UInt32.self)
                        out.storeBytes(of: quad, toByteOffset: 128 + 64 * j + 4 * r, as: UInt32.self)
                    }
                }
            }
        }
    }

    deinit { storage.deallocate() }

    package static var readsOffsetActivations: Bool {
        #if SHOAL_VNNI
        true
        #else
        false
        #endif
    }

    @inline(__always)
    package func multiply(group g: Int, _ a: Int8Activations, firstToken: Int, tokens: Int,
                          _ y: UnsafeMutablePointer<Float>, yStride: Int) {
        let weights = UnsafeRawPointer(storage + g * blocks * Self.blockBytes)
        if tokens == 4 {
            interleavedQ8_0Tile4(weights, blocks: blocks, a, firstToken: firstToken, y, yStride: yStride)
        } else {
            for t in 0..<tokens { interleavedQ8_0Tile1(weights, blocks: blocks, a, token: firstToken + t, y + t * yStride) }
        }
    }
}

/// One block's 8 weight vectors as the product needs them: as stored (VNNI) or as |q| (without).
struct Q8_0BlockWeights {
    var v0, v1, v2, v3, v4, v5, v6, v7: __m512i
    /// Sign masks of the weights (used without VNNI only).
    var s0, s1, s2, s3, s4, s5, s6, s7: __mmask64
    let correction: __m512i
    let d: __m512

    @inline(__always)
    init(_ base: UnsafeRawPointer) {
        d = _mm512_cvtph_ps(base.loadUnaligned(as: __m256i.self))
        correction = base.loadUnaligned(fromByteOffset: 64, as: __m512i.self)
        v0 = base.loadUnaligned(fromByteOffset: 128, as: __m512i.self)
        v1 = base.loadUnaligned(fromByteOffset: 192, as: __m512i.self)
        v2 = base.loadUnaligned(fromByteOffset: 256, as: __m512i.self)
        v3 = base.loadUnaligned(fromByteOffset: 320, as: __m512i.self)
        v4 = base.loadUnaligned(fromByteOffset: 384, as: __m512i.self)
        v5 = base.loadUnaligned(fromByteOffset: 448, as: __m512i.self)
        v6 = base.loadUnaligned(fromByteOffset: 512, as: __m512i.self)
        v7 = base.loadUnaligned(fromByteOffset: 576, as: __m512i.self)
        #if SHOAL_VNNI
        s0 = 0; s1 = 0; s2 = 0; s3 = 0; s4 = 0; s5 = 0; s6 = 0; s7 = 0
        #else
        s0 = _mm512_movepi8_mask(v0); s1 = _mm512_movepi8_mask(v1); s2 = _mm512_movepi8_mask(v2); s3 = _mm512_movepi8_mask(v3)
        s4 = _mm512_movepi8_mask(v4); s5 = _mm512_movepi8_mask(v5); s6 = _mm512_movepi8_mask(v6); s7 = _mm512_movepi8_mask(v7)
        v0 = _mm512_abs_epi8(v0); v1 = _mm512_abs_epi8(v1); v2 = _mm512_abs_epi8(v2); v3 = _mm512_abs_epi8(v3)
        v4 = _mm512_abs_epi8(v4); v5 = _mm512_abs_epi8(v5); v6 = _mm512_abs_epi8(v6); v7 = _mm512_abs_epi8(v7)
        #endif
    }

    /// `acc + d * scale * (weights . x)` for one token's block `x` (signed bytes; `offsetX` the same plus 128).
    @inline(__always)
    func product(_ x: UnsafeRawPointer, _ offsetX: UnsafeRawPointer, scale: Float, _ acc: __m512) -> __m512 {
        #if SHOAL_VNNI
        var low = dotBytes(_mm512_setzero_si512(), broadcast4(offsetX, 0), v0)
        var high = dotBytes(_mm512_setzero_si512(), broadcast4(offsetX, 16), v4)
        low = dotBytes(low, broadcast4(offsetX, 4), v1)
        high = dotBytes(high, broadcast4(offsetX, 20), v5)
        low = dotBytes(low, broadcast4(offsetX, 8), v2)
        high = dotBytes(high, broadcast4(offsetX, 24), v6)
        low = dotBytes(low, broadcast4(offsetX, 12), v3)
        high = dotBytes(high, broadcast4(offsetX, 28), v7)
        let sums = _mm512_sub_epi32(_mm512_add_epi32(low, high), correction)
        #else
        let zero = _mm512_setzero_si512()
        @inline(__always) func signed(_ offset: Int, _ mask: __mmask64) -> __m512i {
            let b = broadcast4(x, offset)
            return _mm512_mask_sub_epi8(b, mask, zero, b)
        }
        var low = dotBytes(zero, v0, signed(0, s0))
        var high = dotBytes(zero, v4, signed(16, s4))
        low = dotBytes(low, v1, signed(4, s1))
        high = dotBytes(high, v5, signed(20, s5))
        low = dotBytes(low, v2, signed(8, s2))
        high = dotBytes(high, v6, signed(24, s6))
        low = dotBytes(low, v3, signed(12, s3))
        high = dotBytes(high, v7, signed(28, s7))
        let sums = _mm512_add_epi32(low, high)
        #endif
        return _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), _mm512_mul_ps(d, _mm512_set1_ps(scale)), acc)
    }
}

/// The 16 rows of one group times 4 consecutive tokens; results to `y[t*yStride ..< t*yStride + 16]`.
@inline(__always)
func interleavedQ8_0Tile4(_ group: UnsafeRawPointer, blocks: Int, _ a: Int8Activations, firstToken: Int,
                          _ y: UnsafeMutablePointer<Float>, yStride: Int) {
    var f0 = _mm512_setzero_ps(), f1 = _mm512_setzero_ps(), f2 = _mm512_setzero_ps(), f3 = _mm512_setzero_ps()
    let x0 = a.values(token: firstToken), x1 = a.values(token: firstToken + 1)
    let x2 = a.values(token: firstToken + 2), x3 = a.values(token: firstToken + 3)
    let u0 = a.offsetValues(token: firstToken), u1 = a.offsetValues(token: firstToken + 1)
    let u2 = a.offsetValues(token: firstToken + 2), u3 = a.offsetValues(token: firstToken + 3)
    let s0 = a.scales(token: firstToken), s1 = a.scales(token: firstToken + 1)
    let s2 = a.scales(token: firstToken + 2), s3 = a.scales(token: firstToken + 3)
    for b in 0..<blocks {
        let w = Q8_0BlockWeights(group + b * InterleavedQ8_0.blockBytes)
        let o = 32 * b
        f0 = w.product(x0 + o, u0 + o, scale: s0[b], f0)
        f1 = w.product(x1 + o, u1 + o, scale: s1[b], f1)
        f2 = w.product(x2 + o, u2 + o, scale: s2[b], f2)
        f3 = w.product(x3 + o, u3 + o, scale: s3[b], f3)
    }
    storeFloats16Unaligned(f0, y)
    storeFloats16Unaligned(f1, y + yStride)
    storeFloats16Unaligned(f2, y + 2 * yStride)
    storeFloats16Unaligned(f3, y + 3 * yStride)
}

/// The 16 rows of one group times one token; results to `y[0 ..< 16]`.
@inline(__always)
func interleavedQ8_0Tile1(_ group: UnsafeRawPointer, blocks: Int, _ a: Int8Activations, token: Int,
                          _ y: UnsafeMutablePointer<Float>) {
    var f = _mm512_setzero_ps()
    let x = a.values(token: token), u = a.offsetValues(token: token), s = a.scales(token: token)
    for b in 0..<blocks {
        f = Q8_0BlockWeights(group + b * InterleavedQ8_0.blockBytes).product(x + 32 * b, u + 32 * b, scale: s[b], f)
    }
    storeFloats16Unaligned(f, y)
}
