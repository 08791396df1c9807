#if !SHOAL_AVX512
// The AVX2 and F16C instructions every x86-64 CPU since Haswell and Zen 1 has, for the operations Swift's SIMD types
// cannot spell efficiently (lane permutes, byte masks, half-precision conversion).
import _Builtin_intrinsics.intel
// Builds without AVX-512 (an AVX2-only CPU such as Zen 3, where LLVM cannot lower the AVX-512 intrinsics the
// kernels are written with): the intrinsics the kernels use, spelled with Swift's portable SIMD types and the same
// names, types and semantics (shadowing the imported declarations, which LLVM cannot lower here), so that the kernels compile unchanged and LLVM maps each 512-bit operation onto
// pairs of 256-bit instructions. Results are bit-identical to the AVX-512 instructions for the inputs the kernels
// give them (round-to-nearest-even conversions, wrapping integer arithmetic, saturating `maddubs`).


@inline(__always) private func i32(_ v: __m512i) -> SIMD16<Int32> { unsafeBitCast(v, to: SIMD16<Int32>.self) }
@inline(__always) private func i16(_ v: __m512i) -> SIMD32<Int16> { unsafeBitCast(v, to: SIMD32<Int16>.self) }
@inline(__always) private func i8(_ v: __m512i) -> SIMD64<Int8> { unsafeBitCast(v, to: SIMD64<Int8>.self) }
@inline(__always) private func u8(_ v: __m512i) -> SIMD64<UInt8> { unsafeBitCast(v, to: SIMD64<UInt8>.self) }
@inline(__always) private func m(_ v: SIMD16<Int32>) -> __m512i { unsafeBitCast(v, to: __m512i.self) }
@inline(__always) private func m(_ v: SIMD32<Int16>) -> __m512i { unsafeBitCast(v, to: __m512i.self) }
@inline(__always) private func m(_ v: SIMD32<UInt16>) -> __m512i { unsafeBitCast(v, to: __m512i.self) }
@inline(__always) private func m(_ v: SIMD64<Int8>) -> __m512i { unsafeBitCast(v, to: __m512i.self) }
/// A 16-bit lane mask spread to all-ones or all-zero 32-bit lanes, as two 256-bit halves.
@inline(__always) private func lanes(_ k: __mmask16) -> (__m256i, __m256i) {
    let broadcast = _mm256_set1_epi32(Int32(k))
    let low = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128)
    let high = _mm256_setr_epi32(256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
    return (_mm256_cmpeq_epi32(_mm256_and_si256(broadcast, low), low), _mm256_cmpeq_epi32(_mm256_and_si256(broadcast, high), high))
}
@inline(__always) private func halves(_ v: __m512) -> (__m256, __m256) { unsafeBitCast(v, to: (__m256, __m256).self) }
@inline(__always) private func whole(_ a: __m256, _ b: __m256) -> __m512 { unsafeBitCast((a, b), to: __m512.self) }
/// `b` where the mask is set, else `a`.
@inline(__always) private func select(_ k: __mmask16, _ a: __m512, _ b: __m512) -> __m512 {
    let (m0, m1) = lanes(k), (a0, a1) = halves(a), (b0, b1) = halves(b)
    return whole(_mm256_blendv_ps(a0, b0, _mm256_castsi256_ps(m0)), _mm256_blendv_ps(a1, b1, _mm256_castsi256_ps(m1)))
}

// MARK: Floats
@inline(__always) func _mm512_setzero_ps() -> __m512 { __m512() }
@inline(__always) func _mm512_set1_ps(_ a: Float) -> __m512 { __m512(repeating: a) }
@inline(__always) func _mm512_add_ps(_ a: __m512, _ b: __m512) -> __m512 { a + b }
@inline(__always) func _mm512_sub_ps(_ a: __m512, _ b: __m512) -> __m512 { a - b }
@inline(__always) func _mm512_mul_ps(_ a: __m512, _ b: __m512) -> __m512 { a * b }
@inline(__always) func _mm512_div_ps(_ a: __m512, _ b: __m512) -> __m512 { a / b }
@inline(__always) func _mm512_fmadd_ps(_ a: __m512, _ b: __m512, _ c: __m512) -> __m512 { c.addingProduct(a, b) }
@inline(__always) func _mm512_fnmadd_ps(_ a: __m512, _ b: __m512, _ c: __m512) -> __m512 { c.addingProduct(-a, b) }
@inline(__always) func _mm512_max_ps(_ a: __m512, _ b: __m512) -> __m512 {
    let (a0, a1) = halves(a), (b0, b1) = halves(b)
    return whole(_mm256_max_ps(a0, b0), _mm256_max_ps(a1, b1))
}
@inline(__always) func _mm512_min_ps(_ a: __m512, _ b: __m512) -> __m512 {
    let (a0, a1) = halves(a), (b0, b1) = halves(b)
    return whole(_mm256_min_ps(a0, b0), _mm256_min_ps(a1, b1))
}
@inline(__always) func _mm512_abs_ps(_ a: __m512) -> __m512 {
    unsafeBitCast(unsafeBitCast(a, to: SIMD16<UInt32>.self) & 0x7fff_ffff, to: __m512.self)
}
@inline(__always) func _mm512_reduce_add_ps(_ a: __m512) -> Float {
    // The same pairwise order as the AVX-512 sequence: halves of 256, 128, 64, 32 bits.
    let h8 = a.lowHalf + a.highHalf
    let h4 = h8.lowHalf + h8.highHalf
    let h2 = h4.lowHalf + h4.highHalf
    return h2[0] + h2[1]
}
@inline(__always) func _mm512_reduce_max_ps(_ a: __m512) -> Float {
    let (a0, a1) = halves(a)
    let h8 = _mm256_max_ps(a0, a1)
    var best = h8[0]
    for i in 1..<8 where h8[i] > best { best = h8[i] }
    return best
}
/// `a * 2^floor(b)`, as two exact power-of-two factors built from exponent bits (so |floor(b)| up to 252 stays
/// in range; beyond it the result is 0 or infinity anyway).
@inline(__always) func _mm512_scalef_ps(_ a: __m512, _ b: __m512) -> __m512 {
    // floor, clamp (max/min return the second operand for NaN, so NaN exponents become 0 here), convert.
    let (b0, b1) = halves(b)
    func exponent(_ e: __m256) -> __m256i {
        let clamped = _mm256_min_ps(_mm256_set1_ps(252), _mm256_max_ps(_mm256_set1_ps(-252), e))
        // Truncate, then subtract 1 where that rounded up (a negative non-integer): floor.
        let truncated = _mm256_cvttps_epi32(clamped)
        let above = _mm256_srai_epi32(_mm256_castps_si256(_mm256_sub_ps(clamped, _mm256_cvtepi32_ps(truncated))), 31)
        return _mm256_add_epi32(truncated, above)
    }
    let n = unsafeBitCast((exponent(b0), exponent(b1)), to: SIMD16<Int32>.self)
    let half = n &>> 1, rest = n &- half
    let s1 = unsafeBitCast((half &+ 127) &<< 23, to: __m512.self)
    let s2 = unsafeBitCast((rest &+ 127) &<< 23, to: __m512.self)
    return a * s1 * s2
}
@inline(__always) func _mm512_maskz_loadu_ps(_ k: __mmask16, _ p: UnsafeRawPointer?) -> __m512 {
    var out = __m512()
    let f = p!.assumingMemoryBound(to: Float.self)
    for i in 0..<16 where k & (1 << i) != 0 { out[i] = f[i] }
    return out
}
@inline(__always) func _mm512_mask_storeu_ps(_ p: UnsafeMutableRawPointer?, _ k: __mmask16, _ a: __m512) {
    let f = p!.assumingMemoryBound(to: Float.self)
    for i in 0..<16 where k & (1 << i) != 0 { f[i] = a[i] }
}
@inline(__always) func _mm512_mask_blend_ps(_ k: __mmask16, _ a: __m512, _ b: __m512) -> __m512 {
    select(k, a, b)
}
@inline(__always) func _mm512_maskz_mov_ps(_ k: __mmask16, _ a: __m512) -> __m512 {
    select(k, __m512(), a)
}
@inline(__always) func _mm512_mask_max_ps(_ src: __m512, _ k: __mmask16, _ a: __m512, _ b: __m512) -> __m512 {
    select(k, src, _mm512_max_ps(a, b))
}
@inline(__always) func _mm512_permutexvar_ps(_ idx: __m512i, _ a: __m512) -> __m512 {
    // Two 8-lane permutes (vpermps use the low 3 bits), blended on bit 3 of each index.
    let index = unsafeBitCast(idx, to: (__m256i, __m256i).self)
    let table = unsafeBitCast(a, to: (__m256, __m256).self)
    func half(_ i: __m256i) -> __m256 {
        let low = _mm256_permutevar8x32_ps(table.0, i), high = _mm256_permutevar8x32_ps(table.1, i)
        let useHigh = _mm256_castsi256_ps(_mm256_slli_epi32(i, 28))  // bit 3 into the sign bit
        return _mm256_blendv_ps(low, high, useHigh)
    }
    return unsafeBitCast((half(index.0), half(index.1)), to: __m512.self)
}
@inline(__always) func _mm512_permutex2var_ps(_ a: __m512, _ idx: __m512i, _ b: __m512) -> __m512 {
    let index = i32(idx) & 31
    var out = __m512()
    for i in 0..<16 { let j = Int(index[i]); out[i] = j < 16 ? a[j] : b[j - 16] }
    return out
}
@inline(__always) func _mm512_unpacklo_ps(_ a: __m512, _ b: __m512) -> __m512 {
    var out = __m512()
    for lane in 0..<4 { let o = 4 * lane; out[o] = a[o]; out[o + 1] = b[o]; out[o + 2] = a[o + 1]; out[o + 3] = b[o + 1] }
    return out
}
@inline(__always) func _mm512_unpackhi_ps(_ a: __m512, _ b: __m512) -> __m512 {
    var out = __m512()
    for lane in 0..<4 { let o = 4 * lane; out[o] = a[o + 2]; out[o + 1] = b[o + 2]; out[o + 2] = a[o + 3]; out[o + 3] = b[o + 3] }
    return out
}
@inline(__always) func _mm512_unpacklo_pd(_ a: __m512d, _ b: __m512d) -> __m512d {
    __m512d(a[0], b[0], a[2], b[2], a[4], b[4], a[6], b[6])
}
@inline(__always) func _mm512_unpackhi_pd(_ a: __m512d, _ b: __m512d) -> __m512d {
    __m512d(a[1], b[1], a[3], b[3], a[5], b[5], a[7], b[7])
}
@inline(__always) func _mm512_castps_pd(_ a: __m512) -> __m512d { unsafeBitCast(a, to: __m512d.self) }
@inline(__always) func _mm512_castpd_ps(_ a: __m512d) -> __m512 { unsafeBitCast(a, to: __m512.self) }
@inline(__always) func _mm512_castsi512_ps(_ a: __m512i) -> __m512 { unsafeBitCast(a, to: __m512.self) }
@inline(__always) func _mm512_cvtph_ps(_ a: __m256i) -> __m512 {
    let halves = unsafeBitCast(a, to: (__m128i, __m128i).self)
    return unsafeBitCast((_mm256_cvtph_ps(halves.0), _mm256_cvtph_ps(halves.1)), to: __m512.self)
}







// MARK: Conversions (AVX2 halves: the stdlib's SIMD conversions compile to slow generic code)
@inline(__always) private func split(_ v: __m512i) -> (__m256i, __m256i) { unsafeBitCast(v, to: (__m256i, __m256i).self) }
@inline(__always) private func join(_ a: __m256i, _ b: __m256i) -> __m512i { unsafeBitCast((a, b), to: __m512i.self) }
@inline(__always) func _mm512_cvtepi32_ps(_ a: __m512i) -> __m512 {
    let (lo, hi) = split(a)
    return unsafeBitCast((_mm256_cvtepi32_ps(lo), _mm256_cvtepi32_ps(hi)), to: __m512.self)
}
@inline(__always) func _mm512_cvtps_epi32(_ a: __m512) -> __m512i {
    let halves = unsafeBitCast(a, to: (__m256, __m256).self)
    return join(_mm256_cvtps_epi32(halves.0), _mm256_cvtps_epi32(halves.1))
}
@inline(__always) func _mm512_cvtepu8_epi32(_ a: __m128i) -> __m512i {
    join(_mm256_cvtepu8_epi32(a), _mm256_cvtepu8_epi32(_mm_unpackhi_epi64(a, a)))
}
@inline(__always) func _mm512_cvtepi8_epi32(_ a: __m128i) -> __m512i {
    join(_mm256_cvtepi8_epi32(a), _mm256_cvtepi8_epi32(_mm_unpackhi_epi64(a, a)))
}
@inline(__always) func _mm512_cvtepu16_epi32(_ a: __m256i) -> __m512i {
    let halves = unsafeBitCast(a, to: (__m128i, __m128i).self)
    return join(_mm256_cvtepu16_epi32(halves.0), _mm256_cvtepu16_epi32(halves.1))
}
@inline(__always) func _mm512_cvtepi32_epi8(_ a: __m512i) -> __m128i {
    unsafeBitCast(SIMD16<Int8>(truncatingIfNeeded: i32(a)), to: __m128i.self)
}

// MARK: Integers
@inline(__always) func _mm512_setzero_si512() -> __m512i { __m512i() }
@inline(__always) func _mm512_set1_epi32(_ a: Int32) -> __m512i { m(SIMD16<Int32>(repeating: a)) }
@inline(__always) func _mm512_set1_epi16(_ a: Int16) -> __m512i { m(SIMD32<Int16>(repeating: a)) }
@inline(__always) func _mm512_set1_epi8(_ a: CChar) -> __m512i { m(SIMD64<Int8>(repeating: Int8(a))) }


@inline(__always) func _mm512_and_si512(_ a: __m512i, _ b: __m512i) -> __m512i { a & b }
@inline(__always) func _mm512_or_si512(_ a: __m512i, _ b: __m512i) -> __m512i { a | b }
@inline(__always) func _mm512_add_epi32(_ a: __m512i, _ b: __m512i) -> __m512i { m(i32(a) &+ i32(b)) }
@inline(__always) func _mm512_sub_epi32(_ a: __m512i, _ b: __m512i) -> __m512i { m(i32(a) &- i32(b)) }
@inline(__always) func _mm512_add_epi16(_ a: __m512i, _ b: __m512i) -> __m512i { m(i16(a) &+ i16(b)) }
@inline(__always) func _mm512_srli_epi32(_ a: __m512i, _ n: UInt32) -> __m512i {
    let (lo, hi) = split(a)
    return join(_mm256_srli_epi32(lo, Int32(min(n, 32))), _mm256_srli_epi32(hi, Int32(min(n, 32))))
}
@inline(__always) func _mm512_slli_epi32(_ a: __m512i, _ n: UInt32) -> __m512i {
    let (lo, hi) = split(a)
    return join(_mm256_slli_epi32(lo, Int32(min(n, 32))), _mm256_slli_epi32(hi, Int32(min(n, 32))))
}
@inline(__always) func _mm512_srli_epi16(_ a: __m512i, _ n: UInt32) -> __m512i {
    let (lo, hi) = split(a)
    return join(_mm256_srli_epi16(lo, Int32(min(n, 16))), _mm256_srli_epi16(hi, Int32(min(n, 16))))
}
@inline(__always) func _mm512_reduce_add_epi32(_ a: __m512i) -> Int32 { i32(a).wrappedSum() }
@inline(__always) func _mm512_test_epi32_mask(_ a: __m512i, _ b: __m512i) -> __mmask16 {
    let (a0, a1) = split(a), (b0, b1) = split(b)
    let zero = _mm256_setzero_si256()
    // movemask of (a & b) == 0, inverted.
    let z0 = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(a0, b0), zero)))
    let z1 = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(a1, b1), zero)))
    return ~(UInt16(truncatingIfNeeded: z0) | UInt16(truncatingIfNeeded: z1) << 8)
}
/// `value` where the mask is set, else `src`.
@inline(__always) private func maskedInt32(_ k: __mmask16, _ src: __m512i, _ value: __m512i) -> __m512i {
    let (m0, m1) = lanes(k), (s0, s1) = split(src), (v0, v1) = split(value)
    return join(_mm256_blendv_epi8(s0, v0, m0), _mm256_blendv_epi8(s1, v1, m1))
}
@inline(__always) func _mm512_mask_add_epi32(_ src: __m512i, _ k: __mmask16, _ a: __m512i, _ b: __m512i) -> __m512i {
    maskedInt32(k, src, _mm512_add_epi32(a, b))
}
@inline(__always) func _mm512_mask_sub_epi32(_ src: __m512i, _ k: __mmask16, _ a: __m512i, _ b: __m512i) -> __m512i {
    maskedInt32(k, src, _mm512_sub_epi32(a, b))
}
@inline(__always) func _mm512_movepi8_mask(_ a: __m512i) -> __mmask64 {
    let halves = unsafeBitCast(a, to: (__m256i, __m256i).self)
    return UInt64(UInt32(bitPattern: _mm256_movemask_epi8(halves.0))) | UInt64(UInt32(bitPattern: _mm256_movemask_epi8(halves.1))) << 32
}
@inline(__always) func _mm512_abs_epi8(_ a: __m512i) -> __m512i {
    let (lo, hi) = split(a)
    return join(_mm256_abs_epi8(lo), _mm256_abs_epi8(hi))
}
@inline(__always) func _mm512_mask_sub_epi8(_ src: __m512i, _ k: __mmask64, _ a: __m512i, _ b: __m512i) -> __m512i {
    // Each byte's mask bit spread to a whole byte: broadcast the mask, move byte j/8 of it to lane j, test bit j%8.
    func byteMask(_ bits: UInt32) -> __m256i {
        let spread = _mm256_shuffle_epi8(_mm256_set1_epi32(Int32(bitPattern: bits)),
                                         _mm256_setr_epi64x(0, 0x0101_0101_0101_0101, 0x0202_0202_0202_0202, 0x0303_0303_0303_0303))
        let select = _mm256_set1_epi64x(Int64(bitPattern: 0x8040_2010_0804_0201))
        return _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select)
    }
    let (s0, s1) = split(src), (a0, a1) = split(a), (b0, b1) = split(b)
    return join(_mm256_blendv_epi8(s0, _mm256_sub_epi8(a0, b0), byteMask(UInt32(truncatingIfNeeded: k))),
                _mm256_blendv_epi8(s1, _mm256_sub_epi8(a1, b1), byteMask(UInt32(truncatingIfNeeded: k >> 32))))
}
/// Unsigned bytes of `a` times signed bytes of `b`, adjacent pairs summed with signed saturation to 16 bits.
@inline(__always) func _mm512_maddubs_epi16(_ a: __m512i, _ b: __m512i) -> __m512i {
    let x = unsafeBitCast(a, to: (__m256i, __m256i).self), y = unsafeBitCast(b, to: (__m256i, __m256i).self)
    return unsafeBitCast((_mm256_maddubs_epi16(x.0, y.0), _mm256_maddubs_epi16(x.1, y.1)), to: __m512i.self)
}

/// Signed 16-bit products, adjacent pairs summed to 32 bits.
@inline(__always) func _mm512_madd_epi16(_ a: __m512i, _ b: __m512i) -> __m512i {
    let x = unsafeBitCast(a, to: (__m256i, __m256i).self), y = unsafeBitCast(b, to: (__m256i, __m256i).self)
    return unsafeBitCast((_mm256_madd_epi16(x.0, y.0), _mm256_madd_epi16(x.1, y.1)), to: __m512i.self)
}
#endif
