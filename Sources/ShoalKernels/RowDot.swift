import _Builtin_intrinsics.intel

// Dot products of one weight row (any supported type) with a float vector: the decode (matrix x vector) kernels.
// Each walks whole blocks with two independent accumulators and sums lanes once at the end.

/// Lanes 0, 1, ..., 15 as floats: the nibble values a Q4 lookup table is built from.
@inline(__always)
var nibbleValues: __m512 { SIMD16<Float>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) }

/// Dot of a Q4_1 row of `blocks` blocks with `x` (32 * blocks floats). `scales` is scratch for 2 * blocks floats.
///
/// Per block, the 16 possible weights `q * d + m` form a table, and `vpermps` picks each weight by its nibble
/// (it reads only the low 4 bits of each index, so the low nibble needs no mask). The block scales are converted
/// to float first, so that the loop can broadcast them straight from memory (broadcasts from registers would
/// compete with the table lookups for the shuffle unit).
///
/// Measured on Zen 4 (1 thread, 1536x576): this 10-12 GB/s; the same with scales converted inline 10; vcvtdq2ps
/// instead of the table 9-10; block broadcast + vpsrlvd instead of vpmovzxbd 9-10 (vpmovzxbd zmm and vpermps both
/// compete with the FMAs for the same pipes, ~6 cycles per block in all variants).
@inline(__always)
func dotQ4_1F32(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int, scales: UnsafeMutablePointer<Float>) -> Float {
    for b in 0..<blocks {
        let dm = _mm_cvtph_ps(_mm_cvtsi32_si128(Int32(bitPattern: row.loadUnaligned(fromByteOffset: b * 20, as: UInt32.self))))
        UnsafeMutableRawPointer(scales + 2 * b).storeBytes(of: _mm_cvtsi128_si64(_mm_castps_si128(dm)), as: Int64.self)
    }
    let nibbles = nibbleValues
    var acc0 = _mm512_setzero_ps()
    var acc1 = _mm512_setzero_ps()
    var acc2 = _mm512_setzero_ps()
    var acc3 = _mm512_setzero_ps()
    var b = 0
    while b + 2 <= blocks {
        let block0 = row + b * 20
        let table0 = _mm512_fmadd_ps(nibbles, _mm512_set1_ps(scales[2 * b]), _mm512_set1_ps(scales[2 * b + 1]))
        let q0 = _mm512_cvtepu8_epi32(loadBytes16(block0, 4))
        acc0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(q0, table0), loadFloats16(x + b * 32), acc0)
        acc1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(q0, 4), table0), loadFloats16(x + b * 32 + 16), acc1)
        let block1 = block0 + 20
        let table1 = _mm512_fmadd_ps(nibbles, _mm512_set1_ps(scales[2 * b + 2]), _mm512_set1_ps(scales[2 * b + 3]))
        let q1 = _mm512_cvtepu8_epi32(loadBytes16(block1, 4))
        acc2 = _mm512_fmadd_ps(_mm512_permutexvar_ps(q1, table1), loadFloats16(x + b * 32 + 32), acc2)
        acc3 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(q1, 4), table1), loadFloats16(x + b * 32 + 48), acc3)
        b += 2
    }
    if b < blocks {
        let block0 = row + b * 20
        let table0 = _mm512_fmadd_ps(nibbles, _mm512_set1_ps(scales[2 * b]), _mm512_set1_ps(scales[2 * b + 1]))
        let q0 = _mm512_cvtepu8_epi32(loadBytes16(block0, 4))
        acc0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(q0, table0), loadFloats16(x + b * 32), acc0)
        acc1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(q0, 4), table0), loadFloats16(x + b * 32 + 16), acc1)
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)))
}

/// Dots of two Q4_1 rows with `x` at once (sharing the loads of x); `scales` is scratch for 4 * blocks floats.
@inline(__always)
func dotQ4_1F32Pair(_ row0: UnsafeRawPointer, _ row1: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int,
                    scales: UnsafeMutablePointer<Float>) -> (Float, Float) {
    // Convert the scales of two blocks of both rows with one vcvtph2ps: [d0 m0 d1 m1] of block b, then of b + 1.
    var b = 0
    while b + 2 <= blocks {
        let halves = SIMD4<UInt32>(row0.loadUnaligned(fromByteOffset: b * 20, as: UInt32.self),
                                   row1.loadUnaligned(fromByteOffset: b * 20, as: UInt32.self),
                                   row0.loadUnaligned(fromByteOffset: b * 20 + 20, as: UInt32.self),
                                   row1.loadUnaligned(fromByteOffset: b * 20 + 20, as: UInt32.self))
        UnsafeMutableRawPointer(scales + 4 * b).storeBytes(of: _mm256_cvtph_ps(unsafeBitCast(halves, to: __m128i.self)), as: __m256.self)
        b += 2
    }
    if b < blocks {
        let halves = SIMD4<UInt32>(row0.loadUnaligned(fromByteOffset: b * 20, as: UInt32.self),
                                   row1.loadUnaligned(fromByteOffset: b * 20, as: UInt32.self), 0, 0)
        UnsafeMutableRawPointer(scales + 4 * b).storeBytes(of: _mm_cvtph_ps(unsafeBitCast(halves, to: __m128i.self)), as: __m128.self)
    }
    let nibbles = nibbleValues
    var acc0 = _mm512_setzero_ps()
    var acc1 = _mm512_setzero_ps()
    var acc2 = _mm512_setzero_ps()
    var acc3 = _mm512_setzero_ps()
    for b in 0..<blocks {
        let x0 = loadFloats16(x + b * 32)
        let x1 = loadFloats16(x + b * 32 + 16)
        let table0 = _mm512_fmadd_ps(nibbles, _mm512_set1_ps(scales[4 * b]), _mm512_set1_ps(scales[4 * b + 1]))
        let q0 = _mm512_cvtepu8_epi32(loadBytes16(row0, b * 20 + 4))
        acc0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(q0, table0), x0, acc0)
        acc1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(q0, 4), table0), x1, acc1)
        let table1 = _mm512_fmadd_ps(nibbles, _mm512_set1_ps(scales[4 * b + 2]), _mm512_set1_ps(scales[4 * b + 3]))
        let q1 = _mm512_cvtepu8_epi32(loadBytes16(row1, b * 20 + 4))
        acc2 = _mm512_fmadd_ps(_mm512_permutexvar_ps(q1, table1), x0, acc2)
        acc3 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(q1, 4), table1), x1, acc3)
    }
    return (_mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)), _mm512_reduce_add_ps(_mm512_add_ps(acc2, acc3)))
}

/// Variant of `dotQ4_1F32Pair` with conversions instead of table lookups: weights as `cvt(q) * d`, the `m` term
/// as a dot of the block minimums with `mSums` (per pair of blocks: 0, xs_b, 0, xs_b, 0, xs_b+1, 0, xs_b+1).
@inline(__always)
func dotQ4_1F32PairConvert(_ row0: UnsafeRawPointer, _ row1: UnsafeRawPointer, _ x: UnsafePointer<Float>,
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
    let low = _mm512_set1_epi32(0xF)
    var acc0 = _mm512_setzero_ps()
    var acc1 = _mm512_setzero_ps()
    for b in 0..<blocks {
        let x0 = loadFloats16(x + b * 32)
        let x1 = loadFloats16(x + b * 32 + 16)
        let q0 = _mm512_cvtepu8_epi32(loadBytes16(row0, b * 20 + 4))
        let s0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(q0, 4)), x1, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(q0, low)), x0))
        acc0 = _mm512_fmadd_ps(s0, _mm512_set1_ps(scales[4 * b]), acc0)
        let q1 = _mm512_cvtepu8_epi32(loadBytes16(row1, b * 20 + 4))
        let s1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(q1, 4)), x1, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(q1, low)), x0))
        acc1 = _mm512_fmadd_ps(s1, _mm512_set1_ps(scales[4 * b + 2]), acc1)
    }
    let m = minimum
    return (_mm512_reduce_add_ps(acc0) + (m[1] + m[5]), _mm512_reduce_add_ps(acc1) + (m[3] + m[7]))
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

/// Dot of a Q8_0 row of `blocks` blocks with `x`. `scales` is scratch for `blocks` floats: the block scales are
/// converted first so the loop broadcasts them from memory (a register broadcast competes with the FMAs).
@inline(__always)
func dotQ8_0F32(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int, scales: UnsafeMutablePointer<Float>) -> Float {
    for b in 0..<blocks {
        scales[b] = floatFromHalf(row.loadUnaligned(fromByteOffset: b * 34, as: UInt16.self))
    }
    var acc0 = _mm512_setzero_ps()
    var acc1 = _mm512_setzero_ps()
    var b = 0
    while b + 2 <= blocks {
        let block0 = row + b * 34
        let p0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(block0, 2)))
        let p1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(block0, 18)))
        let s0 = _mm512_fmadd_ps(p1, loadFloats16(x + b * 32 + 16), _mm512_mul_ps(p0, loadFloats16(x + b * 32)))
        acc0 = _mm512_fmadd_ps(_mm512_set1_ps(scales[b]), s0, acc0)
        let p2 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(block0, 36)))
        let p3 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(block0, 52)))
        let s1 = _mm512_fmadd_ps(p3, loadFloats16(x + b * 32 + 48), _mm512_mul_ps(p2, loadFloats16(x + b * 32 + 32)))
        acc1 = _mm512_fmadd_ps(_mm512_set1_ps(scales[b + 1]), s1, acc1)
        b += 2
    }
    if b < blocks {
        let block0 = row + b * 34
        let p0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(block0, 2)))
        let p1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(block0, 18)))
        let s0 = _mm512_fmadd_ps(p1, loadFloats16(x + b * 32 + 16), _mm512_mul_ps(p0, loadFloats16(x + b * 32)))
        acc0 = _mm512_fmadd_ps(_mm512_set1_ps(scales[b]), s0, acc0)
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
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

