import _Builtin_intrinsics.intel

// Dot products of one weight row (any supported type) with a float vector: the decode (matrix x vector) kernels.
// Each walks whole blocks with two independent accumulators and sums lanes once at the end.

/// Dot of a Q4_1 row of `blocks` blocks with `x` (32 * blocks floats).
@inline(__always)
func dotQ4_1F32(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
    let low = _mm512_set1_epi32(0xF)
    var acc0 = _mm512_setzero_ps()
    var acc1 = _mm512_setzero_ps()
    var min0 = _mm512_setzero_ps()
    var min1 = _mm512_setzero_ps()
    var b = 0
    while b + 2 <= blocks {
        do {
            let block = row + b * 20
            let d = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(as: UInt16.self)))
            let m = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
            let q = _mm512_cvtepu8_epi32(loadBytes16(block, 4))
            let x0 = loadFloats16(x + b * 32)
            let x1 = loadFloats16(x + b * 32 + 16)
            let s = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(q, 4)), x1,
                                    _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(q, low)), x0))
            acc0 = _mm512_fmadd_ps(d, s, acc0)
            min0 = _mm512_fmadd_ps(m, _mm512_add_ps(x0, x1), min0)
        }
        do {
            let block = row + (b + 1) * 20
            let d = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(as: UInt16.self)))
            let m = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
            let q = _mm512_cvtepu8_epi32(loadBytes16(block, 4))
            let x0 = loadFloats16(x + b * 32 + 32)
            let x1 = loadFloats16(x + b * 32 + 48)
            let s = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(q, 4)), x1,
                                    _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(q, low)), x0))
            acc1 = _mm512_fmadd_ps(d, s, acc1)
            min1 = _mm512_fmadd_ps(m, _mm512_add_ps(x0, x1), min1)
        }
        b += 2
    }
    if b < blocks {
        let block = row + b * 20
        let d = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(as: UInt16.self)))
        let m = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        let q = _mm512_cvtepu8_epi32(loadBytes16(block, 4))
        let x0 = loadFloats16(x + b * 32)
        let x1 = loadFloats16(x + b * 32 + 16)
        let s = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(q, 4)), x1,
                                _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(q, low)), x0))
        acc0 = _mm512_fmadd_ps(d, s, acc0)
        min0 = _mm512_fmadd_ps(m, _mm512_add_ps(x0, x1), min0)
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(min0, min1)))
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

/// Dot of a Q8_0 row of `blocks` blocks with `x`.
@inline(__always)
func dotQ8_0F32(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
    var acc0 = _mm512_setzero_ps()
    var acc1 = _mm512_setzero_ps()
    var b = 0
    while b < blocks {
        let block = row + b * 34
        let d = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(as: UInt16.self)))
        let q0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(block, 2)))
        let q1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(block, 18)))
        let s = _mm512_fmadd_ps(q1, loadFloats16(x + b * 32 + 16), _mm512_mul_ps(q0, loadFloats16(x + b * 32)))
        if b & 1 == 0 {
            acc0 = _mm512_fmadd_ps(d, s, acc0)
        } else {
            acc1 = _mm512_fmadd_ps(d, s, acc1)
        }
        b += 1
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
