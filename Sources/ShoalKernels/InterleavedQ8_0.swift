import ShoalGGUF
import _Builtin_intrinsics.intel

/// Q8_0 for the fast path (the Q8_0 projections some files have, e.g. Gemma 3's `attn_v`). Per group of 16 rows
/// and block of 32 columns (544 bytes, the file's 8.5 bits per weight):
/// - 16 half-precision `d` (one per row);
/// - eight 64-byte vectors; vector j holds, in 32-bit lane r, bytes `4j ..< 4j+4` of row r's 32 quants.
///
/// `vpdpbusd` multiplies unsigned by signed bytes, and here both sides are signed, so the kernel feeds the
/// activations plus 128 (unsigned) and subtracts `128 * sum(q)`, which it computes once per loaded block (8 more
/// `vpdpbusd` shared by up to four tokens; an earlier layout stored it, 10 bits per weight that decode streamed).
/// Without VNNI it feeds `|q|` and the activations negated where q < 0 instead (the same sums, and no 16-bit
/// saturation: 2 * 128 * 127 < 32768): with AVX-512 through sign masks made once per block, on AVX2 through
/// `vpsignb` against the stored quants (AVX-512 has no byte sign instruction, and emulating its masked byte
/// subtraction cost Q8_0 prefill half its speed).
struct Q8_0Block: InterleavedFileBlock {
    static var weightType: GGMLType { .q8_0 }
    static var bytes: Int { 544 }
    static var readsOffsetActivations: Bool {
        #if SHOAL_VNNI
        true
        #else
        false
        #endif
    }

    static func pack(_ source: UnsafeRawPointer, row r: Int, into out: UnsafeMutableRawPointer) {
        out.storeBytes(of: source.loadUnaligned(as: UInt16.self), toByteOffset: 2 * r, as: UInt16.self)
        for j in 0..<8 {
            out.storeBytes(of: source.loadUnaligned(fromByteOffset: 2 + 4 * j, as: UInt32.self),
                           toByteOffset: 32 + 64 * j + 4 * r, as: UInt32.self)
        }
    }

    // One block's 8 weight vectors as the product needs them: as stored (VNNI) or as |q| (without).
    var v0, v1, v2, v3, v4, v5, v6, v7: __m512i
    /// Sign masks of the weights (AVX-512 without VNNI only).
    var s0, s1, s2, s3, s4, s5, s6, s7: __mmask64
    /// The weights as stored, whose signs `vpsignb` applies to the activations (AVX2 only).
    var q0, q1, q2, q3, q4, q5, q6, q7: __m512i
    let correction: __m512i
    let d: __m512

    @inline(__always)
    init(_ base: UnsafeRawPointer) {
        d = _mm512_cvtph_ps(base.loadUnaligned(as: __m256i.self))
        v0 = base.loadUnaligned(fromByteOffset: 32, as: __m512i.self)
        v1 = base.loadUnaligned(fromByteOffset: 96, as: __m512i.self)
        v2 = base.loadUnaligned(fromByteOffset: 160, as: __m512i.self)
        v3 = base.loadUnaligned(fromByteOffset: 224, as: __m512i.self)
        v4 = base.loadUnaligned(fromByteOffset: 288, as: __m512i.self)
        v5 = base.loadUnaligned(fromByteOffset: 352, as: __m512i.self)
        v6 = base.loadUnaligned(fromByteOffset: 416, as: __m512i.self)
        v7 = base.loadUnaligned(fromByteOffset: 480, as: __m512i.self)
        #if SHOAL_VNNI
        // 128 * sum(q) per row: unsigned ones times the signed quants.
        let ones = _mm512_set1_epi8(1)
        var sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, v0), ones, v1)
        sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(sum, ones, v2), ones, v3)
        sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(sum, ones, v4), ones, v5)
        sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(sum, ones, v6), ones, v7)
        correction = _mm512_slli_epi32(sum, 7)
        q0 = v0; q1 = v1; q2 = v2; q3 = v3; q4 = v4; q5 = v5; q6 = v6; q7 = v7
        s0 = 0; s1 = 0; s2 = 0; s3 = 0; s4 = 0; s5 = 0; s6 = 0; s7 = 0
        #else
        correction = _mm512_setzero_si512()
        q0 = v0; q1 = v1; q2 = v2; q3 = v3; q4 = v4; q5 = v5; q6 = v6; q7 = v7
        #if SHOAL_AVX512
        s0 = _mm512_movepi8_mask(v0); s1 = _mm512_movepi8_mask(v1); s2 = _mm512_movepi8_mask(v2); s3 = _mm512_movepi8_mask(v3)
        s4 = _mm512_movepi8_mask(v4); s5 = _mm512_movepi8_mask(v5); s6 = _mm512_movepi8_mask(v6); s7 = _mm512_movepi8_mask(v7)
        #else
        s0 = 0; s1 = 0; s2 = 0; s3 = 0; s4 = 0; s5 = 0; s6 = 0; s7 = 0
        #endif
        v0 = _mm512_abs_epi8(v0); v1 = _mm512_abs_epi8(v1); v2 = _mm512_abs_epi8(v2); v3 = _mm512_abs_epi8(v3)
        v4 = _mm512_abs_epi8(v4); v5 = _mm512_abs_epi8(v5); v6 = _mm512_abs_epi8(v6); v7 = _mm512_abs_epi8(v7)
        #endif
    }

    /// `acc + d * scale * (q . x)` for token t's block b.
    @inline(__always)
    func product(_ a: Int8Activations, token t: Int, block b: Int, _ acc: __m512) -> __m512 {
        #if SHOAL_VNNI
        let offsetX = a.offsetValues(token: t) + 32 * b
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
        let x = a.values(token: t) + 32 * b
        let zero = _mm512_setzero_si512()
        #if SHOAL_AVX512
        @inline(__always) func signed(_ offset: Int, _ mask: __mmask64, _ q: __m512i) -> __m512i {
            let bytes = broadcast4(x, offset)
            return _mm512_mask_sub_epi8(bytes, mask, zero, bytes)
        }
        #else
        @inline(__always) func signed(_ offset: Int, _ mask: __mmask64, _ q: __m512i) -> __m512i {
            let (xs, qs) = (unsafeBitCast(broadcast4(x, offset), to: (__m256i, __m256i).self), unsafeBitCast(q, to: (__m256i, __m256i).self))
            return unsafeBitCast((_mm256_sign_epi8(xs.0, qs.0), _mm256_sign_epi8(xs.1, qs.1)), to: __m512i.self)
        }
        #endif
        var low = dotBytes(zero, v0, signed(0, s0, q0))
        var high = dotBytes(zero, v4, signed(16, s4, q4))
        low = dotBytes(low, v1, signed(4, s1, q1))
        high = dotBytes(high, v5, signed(20, s5, q5))
        low = dotBytes(low, v2, signed(8, s2, q2))
        high = dotBytes(high, v6, signed(24, s6, q6))
        low = dotBytes(low, v3, signed(12, s3, q3))
        high = dotBytes(high, v7, signed(28, s7, q7))
        let sums = _mm512_add_epi32(low, high)
        #endif
        return _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), _mm512_mul_ps(d, _mm512_set1_ps(a.scales(token: t)[b])), acc)
    }
}
