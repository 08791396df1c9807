import ShoalGGUF
import _Builtin_intrinsics.intel

/// A Q5_0 weight matrix (most of Gemma 3's projections in its Q4_K_M file) repacked for the fast path: rows in
/// groups of 16, block by block, each weight widened to a byte (0...31) so that one 512-bit register holds the same
/// 4 weights of all 16 rows.
///
/// Layout: for group g and block b, at `((g * blocks) + b) * 576` bytes:
/// - 16 half-precision `d` (one per row), then 16 half-precision `-16 d` (the block's offset, exact in half);
/// - eight 64-byte vectors; vector j holds, in 32-bit lane r, row r's 5-bit values `4j ..< 4j+4` (vectors 0...3)
///   or `16+4(j-4) ..< 16+4(j-4)+4` (vectors 4...7), the order `blockProduct` pairs with the activations.
///
/// A weight is `d * q - 16 d`, so a block's dot is `d * scale * (q . x') + (-16 d) * scale * sum(x')`, Q4_1's form
/// with `m = -16 d`; the 36% larger copy (a byte per weight instead of 5/8) saves unpacking the high bits per token.
package final class InterleavedQ5_0: InterleavedMatrix, @unchecked Sendable {
    static let blockBytes = 576

    package let rows: Int
    package let columns: Int
    let blocks: Int
    let storage: UnsafeMutableRawPointer

    /// Repacks `w` (Q5_0 with a row count that is a multiple of 16); nil for any other matrix.
    package init?(_ w: MatrixView) {
        guard w.type == .q5_0, w.rows > 0, w.rows % interleavedGroupRows == 0, w.columns % 32 == 0 else { return nil }
        rows = w.rows
        columns = w.columns
        blocks = w.columns / 32
        let groups = rows / interleavedGroupRows
        storage = .allocate(byteCount: groups * blocks * Self.blockBytes, alignment: 64)
        for g in 0..<groups {
            for b in 0..<blocks {
                let out = storage + (g * blocks + b) * Self.blockBytes
                for r in 0..<interleavedGroupRows {
                    let block = w.row(g * interleavedGroupRows + r) + b * 22
                    let dBits = block.loadUnaligned(as: UInt16.self)
                    out.storeBytes(of: dBits, toByteOffset: 2 * r, as: UInt16.self)
                    out.storeBytes(of: Float16(-16 * Float(Float16(bitPattern: dBits))).bitPattern, toByteOffset: 32 + 2 * r, as: UInt16.self)
                    let highBits = block.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
                    for i in 0..<16 {
                        let byte = block.load(fromByteOffset: 6 + i, as: UInt8.self)
                        let low = (byte & 0xF) | UInt8((highBits >> UInt32(i)) & 1) << 4
                        let high = (byte >> 4) | UInt8((highBits >> UInt32(i + 16)) & 1) << 4
                        // Element i goes to vector i / 4, element 16 + i to vector 4 + i / 4, lane r, byte i % 4.
                        out.storeBytes(of: low, toByteOffset: 64 + 64 * (i / 4) + 4 * r + i % 4, as: UInt8.self)
                        out.storeBytes(of: high, toByteOffset: 64 + 64 * (4 + i / 4) + 4 * r + i % 4, as: UInt8.self)
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
            interleavedQ5_0Tile4(weights, blocks: blocks, a, firstToken: firstToken, y, yStride: yStride)
        } else {
            for t in 0..<tokens { interleavedQ5_0Tile1(weights, blocks: blocks, a, token: firstToken + t, y + t * yStride) }
        }
    }
}

/// The 16 rows of one group times 4 consecutive tokens; results to `y[t*yStride ..< t*yStride + 16]`.
@inline(__always)
func interleavedQ5_0Tile4(_ group: UnsafeRawPointer, blocks: Int, _ a: Int8Activations, firstToken: Int,
                          _ y: UnsafeMutablePointer<Float>, yStride: Int) {
    var f0 = _mm512_setzero_ps(), f1 = _mm512_setzero_ps(), f2 = _mm512_setzero_ps(), f3 = _mm512_setzero_ps()
    let x0 = a.values(token: firstToken), x1 = a.values(token: firstToken + 1)
    let x2 = a.values(token: firstToken + 2), x3 = a.values(token: firstToken + 3)
    let s0 = a.scales(token: firstToken), s1 = a.scales(token: firstToken + 1)
    let s2 = a.scales(token: firstToken + 2), s3 = a.scales(token: firstToken + 3)
    let m0 = a.sums(token: firstToken), m1 = a.sums(token: firstToken + 1)
    let m2 = a.sums(token: firstToken + 2), m3 = a.sums(token: firstToken + 3)
    for b in 0..<blocks {
        let base = group + b * InterleavedQ5_0.blockBytes
        let d = _mm512_cvtph_ps(base.loadUnaligned(as: __m256i.self))
        let m = _mm512_cvtph_ps(base.loadUnaligned(fromByteOffset: 32, as: __m256i.self))
        let l0 = base.loadUnaligned(fromByteOffset: 64, as: __m512i.self)
        let l1 = base.loadUnaligned(fromByteOffset: 128, as: __m512i.self)
        let l2 = base.loadUnaligned(fromByteOffset: 192, as: __m512i.self)
        let l3 = base.loadUnaligned(fromByteOffset: 256, as: __m512i.self)
        let h0 = base.loadUnaligned(fromByteOffset: 320, as: __m512i.self)
        let h1 = base.loadUnaligned(fromByteOffset: 384, as: __m512i.self)
        let h2 = base.loadUnaligned(fromByteOffset: 448, as: __m512i.self)
        let h3 = base.loadUnaligned(fromByteOffset: 512, as: __m512i.self)
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
func interleavedQ5_0Tile1(_ group: UnsafeRawPointer, blocks: Int, _ a: Int8Activations, token: Int,
                          _ y: UnsafeMutablePointer<Float>) {
    var f = _mm512_setzero_ps()
    let x = a.values(token: token), s = a.scales(token: token), sums = a.sums(token: token)
    for b in 0..<blocks {
        let base = group + b * InterleavedQ5_0.blockBytes
        f = blockProduct(base.loadUnaligned(fromByteOffset: 64, as: __m512i.self), base.loadUnaligned(fromByteOffset: 128, as: __m512i.self),
                         base.loadUnaligned(fromByteOffset: 192, as: __m512i.self), base.loadUnaligned(fromByteOffset: 256, as: __m512i.self),
                         base.loadUnaligned(fromByteOffset: 320, as: __m512i.self), base.loadUnaligned(fromByteOffset: 384, as: __m512i.self),
                         base.loadUnaligned(fromByteOffset: 448, as: __m512i.self), base.loadUnaligned(fromByteOffset: 512, as: __m512i.self),
                         x + 32 * b, d: _mm512_cvtph_ps(base.loadUnaligned(as: __m256i.self)),
                         m: _mm512_cvtph_ps(base.loadUnaligned(fromByteOffset: 32, as: __m256i.self)),
                         scale: s[b], sum: sums[b], f)
    }
    storeFloats16Unaligned(f, y)
}
