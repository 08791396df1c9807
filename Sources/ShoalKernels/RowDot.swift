import _Builtin_intrinsics.intel

// Dot products of weight rows (any supported type) with a float vector: the decode (matrix x vector) kernels.
// Each walks whole blocks with independent accumulators and sums lanes once at the end. Their scalar twin is
// `matmulReference` (dequantizeRowReference + a Double sum), which the tests compare them with.

/// Lanes 0, 1, ..., 15 as floats: the nibble values, for `vpermps` lookups.
@inline(__always)
var nibbleValues: __m512 { SIMD16<Float>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) }

/// Dots of two Q4_1 rows with `x` (32 * blocks floats) at once. `scales` is scratch for 4 * blocks floats; `mSums`
/// holds 4 floats per block, `0, xs_b, 0, xs_b` with `xs_b` the sum of x over block b (see `fillQ4_1MinimumSums`).
///
/// Each weight is `q * d + m`, so a row's dot is `sum_b d_b * sum_j q_j x_j + sum_b m_b * xs_b`. The low nibbles
/// become floats by a `vpermps` lookup in the constant table 0...15 (it reads only the low 4 bits of each index, so
/// no mask), the high nibbles by shift + `vcvtdq2ps`: on Zen 4 `vpmovzxbd`/`vpermps`/shifts share pipes with the
/// FMAs while conversions do not, and this mix measured best (1 thread, 1536x576 from L2, best of 200 samples):
/// 13.5 GB/s, against 12.8 with two conversions, 12.9 with two lookups, 11.7 with a per-block table of
/// `q * d + m` looked up twice, ~10.5 for single rows. Rows in pairs share the loads of x and the scale
/// conversions (one `vcvtph2ps` per two blocks of both rows).
@inline(__always)
func dotQ4_1F32Pair(_ row0: UnsafeRawPointer, _ row1: UnsafeRawPointer, _ x: UnsafePointer<Float>,
                           mSums: UnsafePointer<Float>, blocks: Int, scales: UnsafeMutablePointer<Float>) -> (Float, Float) {
    var minimum = _mm256_setzero_ps()
    var b = 0
    while b + 2 <= blocks {
        let halves = SIMD4<UInt32>(row0.loadUnaligned(fromByteOffset: b * 20, as: UInt32.self),
                                   row1.loadUnaligned(fromByteOffset: b * 20, as: UInt32.self),
                                   row0.loadUnaligned(fromByteOffset: b * 20 + 20, as: UInt32.self),
                                   row1.loadUnaligned(fromByteOffset: b * 20 + 20, as: UInt32.self))
        let dm = _mm256_cvtph_ps(unsafeBitCast(halves, to: __m128i.self))
        UnsafeMutableRawPointer(scales + 4 * b).storeBytes(of: dm, as: __m256.self)
        minimum = _mm256_fmadd_ps(dm, UnsafeRawPointer(mSums + 4 * b).loadUnaligned(as: __m256.self), minimum)
        b += 2
    }
    if b < blocks {
        let halves = SIMD4<UInt32>(row0.loadUnaligned(fromByteOffset: b * 20, as: UInt32.self),
                                   row1.loadUnaligned(fromByteOffset: b * 20, as: UInt32.self), 0, 0)
        let dm = _mm_cvtph_ps(unsafeBitCast(halves, to: __m128i.self))
        UnsafeMutableRawPointer(scales + 4 * b).storeBytes(of: dm, as: __m128.self)
        let lowHalf = _mm_fmadd_ps(dm, UnsafeRawPointer(mSums + 4 * b).loadUnaligned(as: __m128.self), _mm_setzero_ps())
        minimum = _mm256_add_ps(minimum, SIMD8<Float>(lowHalf: lowHalf, highHalf: SIMD4<Float>()))
    }
    let nibbles = nibbleValues
    var acc0 = _mm512_setzero_ps()
    var acc1 = _mm512_setzero_ps()
    for b in 0..<blocks {
        let x0 = loadFloats16(x + b * 32)
        let x1 = loadFloats16(x + b * 32 + 16)
        let q0 = _mm512_cvtepu8_epi32(loadBytes16(row0, b * 20 + 4))
        let s0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(q0, 4)), x1, _mm512_mul_ps(_mm512_permutexvar_ps(q0, nibbles), x0))
        acc0 = _mm512_fmadd_ps(s0, _mm512_set1_ps(scales[4 * b]), acc0)
        let q1 = _mm512_cvtepu8_epi32(loadBytes16(row1, b * 20 + 4))
        let s1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(q1, 4)), x1, _mm512_mul_ps(_mm512_permutexvar_ps(q1, nibbles), x0))
        acc1 = _mm512_fmadd_ps(s1, _mm512_set1_ps(scales[4 * b + 2]), acc1)
    }
    // Lanes 1 and 5 of `minimum` hold row 0's m terms, lanes 3 and 7 row 1's.
    return (_mm512_reduce_add_ps(acc0) + (minimum[1] + minimum[5]), _mm512_reduce_add_ps(acc1) + (minimum[3] + minimum[7]))
}

/// Fills `mSums` (4 floats per block) for `dotQ4_1F32Pair`: `0, xs_b, 0, xs_b` with `xs_b` the sum of x over block b.
@inline(__always)
func fillQ4_1MinimumSums(_ x: UnsafePointer<Float>, blocks: Int, _ mSums: UnsafeMutablePointer<Float>) {
    for b in 0..<blocks {
        let xs = _mm512_reduce_add_ps(_mm512_add_ps(loadFloats16(x + b * 32), loadFloats16(x + b * 32 + 16)))
        let m = mSums + 4 * b
        m[0] = 0
        m[1] = xs
        m[2] = 0
        m[3] = xs
    }
}

/// Dot of a Q4_0 row of `blocks` blocks with `x`.
@inline(__always)
func dotQ4_0F32(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
    let low = _mm512_set1_epi32(0xF)
    let eight = _mm512_set1_epi32(8)
    var acc0 = _mm512_setzero_ps()
    var acc1 = _mm512_setzero_ps()
    var b = 0
    while b < blocks {
        let block = row + b * 18
        let d = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(as: UInt16.self)))
        let q = _mm512_cvtepu8_epi32(loadBytes16(block, 2))
        let x0 = loadFloats16(x + b * 32)
        let x1 = loadFloats16(x + b * 32 + 16)
        let lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(q, low), eight))
        let hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight))
        let s = _mm512_fmadd_ps(hi, x1, _mm512_mul_ps(lo, x0))
        if b & 1 == 0 {
            acc0 = _mm512_fmadd_ps(d, s, acc0)
        } else {
            acc1 = _mm512_fmadd_ps(d, s, acc1)
        }
        b += 1
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
}

/// Dots of two Q8_0 rows with `x` at once (sharing the loads of x); `scales` is scratch for 2 * blocks floats.
/// The block scales are converted first (8 per `vcvtph2ps`) so the loop broadcasts them from memory.
@inline(__always)
func dotQ8_0F32Pair(_ row0: UnsafeRawPointer, _ row1: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int,
                    scales: UnsafeMutablePointer<Float>) -> (Float, Float) {
    var b = 0
    while b + 4 <= blocks {
        let halves = SIMD8<UInt16>(
            row0.loadUnaligned(fromByteOffset: b * 34, as: UInt16.self), row1.loadUnaligned(fromByteOffset: b * 34, as: UInt16.self),
            row0.loadUnaligned(fromByteOffset: b * 34 + 34, as: UInt16.self), row1.loadUnaligned(fromByteOffset: b * 34 + 34, as: UInt16.self),
            row0.loadUnaligned(fromByteOffset: b * 34 + 68, as: UInt16.self), row1.loadUnaligned(fromByteOffset: b * 34 + 68, as: UInt16.self),
            row0.loadUnaligned(fromByteOffset: b * 34 + 102, as: UInt16.self), row1.loadUnaligned(fromByteOffset: b * 34 + 102, as: UInt16.self))
        UnsafeMutableRawPointer(scales + 2 * b).storeBytes(of: _mm256_cvtph_ps(unsafeBitCast(halves, to: __m128i.self)), as: __m256.self)
        b += 4
    }
    while b < blocks {
        scales[2 * b] = floatFromHalf(row0.loadUnaligned(fromByteOffset: b * 34, as: UInt16.self))
        scales[2 * b + 1] = floatFromHalf(row1.loadUnaligned(fromByteOffset: b * 34, as: UInt16.self))
        b += 1
    }
    var acc0 = _mm512_setzero_ps()
    var acc1 = _mm512_setzero_ps()
    for b in 0..<blocks {
        let x0 = loadFloats16(x + b * 32)
        let x1 = loadFloats16(x + b * 32 + 16)
        let p0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(row0, b * 34 + 2)))
        let p1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(row0, b * 34 + 18)))
        acc0 = _mm512_fmadd_ps(_mm512_set1_ps(scales[2 * b]), _mm512_fmadd_ps(p1, x1, _mm512_mul_ps(p0, x0)), acc0)
        let p2 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(row1, b * 34 + 2)))
        let p3 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(row1, b * 34 + 18)))
        acc1 = _mm512_fmadd_ps(_mm512_set1_ps(scales[2 * b + 1]), _mm512_fmadd_ps(p3, x1, _mm512_mul_ps(p2, x0)), acc1)
    }
    return (_mm512_reduce_add_ps(acc0), _mm512_reduce_add_ps(acc1))
}

/// Dot of an F16 row of `count` weights with `x`.
@inline(__always)
func dotF16F32(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
    var acc0 = _mm512_setzero_ps()
    var acc1 = _mm512_setzero_ps()
    var i = 0
    while i + 32 <= count {
        let w0 = _mm512_cvtph_ps(row.loadUnaligned(fromByteOffset: 2 * i, as: __m256i.self))
        let w1 = _mm512_cvtph_ps(row.loadUnaligned(fromByteOffset: 2 * i + 32, as: __m256i.self))
        acc0 = _mm512_fmadd_ps(w0, loadFloats16(x + i), acc0)
        acc1 = _mm512_fmadd_ps(w1, loadFloats16(x + i + 16), acc1)
        i += 32
    }
    var sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
    while i < count {
        sum += floatFromHalf(row.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) * x[i]
        i += 1
    }
    return sum
}

/// Dot of a BF16 row of `count` weights with `x`.
@inline(__always)
func dotBF16F32(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
    var acc0 = _mm512_setzero_ps()
    var acc1 = _mm512_setzero_ps()
    var i = 0
    while i + 32 <= count {
        let w0 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(row.loadUnaligned(fromByteOffset: 2 * i, as: __m256i.self)), 16))
        let w1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(row.loadUnaligned(fromByteOffset: 2 * i + 32, as: __m256i.self)), 16))
        acc0 = _mm512_fmadd_ps(w0, loadFloats16(x + i), acc0)
        acc1 = _mm512_fmadd_ps(w1, loadFloats16(x + i + 16), acc1)
        i += 32
    }
    var sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
    while i < count {
        sum += floatFromBFloat16(row.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) * x[i]
        i += 1
    }
    return sum
}

/// Dot of two float vectors (SIMD, four accumulators).
@inline(__always)
func dotF32F32(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var acc0 = _mm512_setzero_ps()
    var acc1 = _mm512_setzero_ps()
    var acc2 = _mm512_setzero_ps()
    var acc3 = _mm512_setzero_ps()
    var i = 0
    while i + 64 <= count {
        acc0 = _mm512_fmadd_ps(loadFloats16(a + i), loadFloats16(b + i), acc0)
        acc1 = _mm512_fmadd_ps(loadFloats16(a + i + 16), loadFloats16(b + i + 16), acc1)
        acc2 = _mm512_fmadd_ps(loadFloats16(a + i + 32), loadFloats16(b + i + 32), acc2)
        acc3 = _mm512_fmadd_ps(loadFloats16(a + i + 48), loadFloats16(b + i + 48), acc3)
        i += 64
    }
    while i + 16 <= count {
        acc0 = _mm512_fmadd_ps(loadFloats16(a + i), loadFloats16(b + i), acc0)
        i += 16
    }
    if i < count {
        let mask = __mmask16((1 << (count - i)) - 1)
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + i), _mm512_maskz_loadu_ps(mask, b + i), acc1)
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)))
}

