import _Builtin_intrinsics.intel

// Decode (matrix x vector) dot products for Q5_0 and the K-quants Q4_K, Q5_K, Q6_K against float activations.
// Block layouts are described in Dequantize+KQuants.swift; the scalar twin is `matmulReference`.

/// Dots of two Q5_0 rows with `x` at once (sharing the loads of x); `scales` is scratch for 2 * blocks floats.
///
/// A weight is `(nibble | bit << 4) - 16`: the nibble, minus 16 where the fifth bit is clear (one masked subtract).
@inline(__always)
func dotQ5_0F32Pair(_ row0: UnsafeRawPointer, _ row1: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int,
                    scales: UnsafeMutablePointer<Float>) -> (Float, Float) {
    var b = 0
    while b + 4 <= blocks {
        let halves = SIMD8<UInt16>(
            row0.loadUnaligned(fromByteOffset: b * 22, as: UInt16.self), row1.loadUnaligned(fromByteOffset: b * 22, as: UInt16.self),
            row0.loadUnaligned(fromByteOffset: b * 22 + 22, as: UInt16.self), row1.loadUnaligned(fromByteOffset: b * 22 + 22, as: UInt16.self),
            row0.loadUnaligned(fromByteOffset: b * 22 + 44, as: UInt16.self), row1.loadUnaligned(fromByteOffset: b * 22 + 44, as: UInt16.self),
            row0.loadUnaligned(fromByteOffset: b * 22 + 66, as: UInt16.self), row1.loadUnaligned(fromByteOffset: b * 22 + 66, as: UInt16.self))
        UnsafeMutableRawPointer(scales + 2 * b).storeBytes(of: _mm256_cvtph_ps(unsafeBitCast(halves, to: __m128i.self)), as: __m256.self)
        b += 4
    }
    while b < blocks {
        scales[2 * b] = floatFromHalf(row0.loadUnaligned(fromByteOffset: b * 22, as: UInt16.self))
        scales[2 * b + 1] = floatFromHalf(row1.loadUnaligned(fromByteOffset: b * 22, as: UInt16.self))
        b += 1
    }
    let low = _mm512_set1_epi32(0xF)
    let sixteen = _mm512_set1_epi32(16)
    var acc0 = _mm512_setzero_ps()
    var acc1 = _mm512_setzero_ps()
    for b in 0..<blocks {
        let x0 = loadFloats16(x + b * 32)
        let x1 = loadFloats16(x + b * 32 + 16)
        let h0 = row0.loadUnaligned(fromByteOffset: b * 22 + 2, as: UInt32.self)
        let q0 = _mm512_cvtepu8_epi32(loadBytes16(row0, b * 22 + 6))
        let lo0 = _mm512_and_si512(q0, low), hi0 = _mm512_srli_epi32(q0, 4)
        let p0 = _mm512_cvtepi32_ps(_mm512_mask_sub_epi32(lo0, ~__mmask16(truncatingIfNeeded: h0), lo0, sixteen))
        let p1 = _mm512_cvtepi32_ps(_mm512_mask_sub_epi32(hi0, ~__mmask16(truncatingIfNeeded: h0 >> 16), hi0, sixteen))
        acc0 = _mm512_fmadd_ps(_mm512_set1_ps(scales[2 * b]), _mm512_fmadd_ps(p1, x1, _mm512_mul_ps(p0, x0)), acc0)
        let h1 = row1.loadUnaligned(fromByteOffset: b * 22 + 2, as: UInt32.self)
        let q1 = _mm512_cvtepu8_epi32(loadBytes16(row1, b * 22 + 6))
        let lo1 = _mm512_and_si512(q1, low), hi1 = _mm512_srli_epi32(q1, 4)
        let p2 = _mm512_cvtepi32_ps(_mm512_mask_sub_epi32(lo1, ~__mmask16(truncatingIfNeeded: h1), lo1, sixteen))
        let p3 = _mm512_cvtepi32_ps(_mm512_mask_sub_epi32(hi1, ~__mmask16(truncatingIfNeeded: h1 >> 16), hi1, sixteen))
        acc1 = _mm512_fmadd_ps(_mm512_set1_ps(scales[2 * b + 1]), _mm512_fmadd_ps(p3, x1, _mm512_mul_ps(p2, x0)), acc1)
    }
    return (_mm512_reduce_add_ps(acc0), _mm512_reduce_add_ps(acc1))
}

/// Fills `sums` (16 floats per 256-weight super-block) for `dotQ4_KF32`: eight zeros, then the sums of x over the
/// eight sub-blocks of 32.
@inline(__always)
func fillKQuantMinimumSums(_ x: UnsafePointer<Float>, superBlocks: Int, _ sums: UnsafeMutablePointer<Float>) {
    for i in 0..<superBlocks {
        for j in 0..<8 {
            let p = x + 256 * i + 32 * j
            sums[16 * i + j] = 0
            sums[16 * i + 8 + j] = _mm512_reduce_add_ps(_mm512_add_ps(loadFloats16(p), loadFloats16(p + 16)))
        }
    }
}

/// Dot of a Q4_K (`highBits` false) or Q5_K (`highBits` true) row of `superBlocks` blocks with `x`.
///
/// A weight is `d*sc * q - dmin*m`, so the dot is `sum d*sc * (q . x) - sum dmin*m * xs` with `xs` the sums of x over
/// the sub-blocks of 32 (`xSums`, from `fillKQuantMinimumSums`). Per block the 8 scales and 8 mins become one vector
/// `(d*sc_0..7, -dmin*m_0..7)` (stored to `factors`, 16 floats, to broadcast from); its dot with `(0 x 8, xs_0..7)`
/// is the min term. Q4_K's low nibbles become floats by a `vpermps` lookup in 0...15 and the high ones by shift and
/// conversion (the mix that measured best for Q4_1).
@inline(__always)
func dotQ4_KF32(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, xSums: UnsafePointer<Float>, superBlocks: Int,
                factors: UnsafeMutablePointer<Float>, highBits: Bool) -> Float {
    let low = _mm512_set1_epi32(0xF)
    let sixteen = _mm512_set1_epi32(16)
    let nibbles = nibbleValues
    let blockBytes = highBits ? 176 : 144
    let qsOffset = highBits ? 48 : 16
    var acc0 = _mm512_setzero_ps()
    var acc1 = _mm512_setzero_ps()
    var minimum = _mm512_setzero_ps()
    for i in 0..<superBlocks {
        let block = row + i * blockBytes
        let d = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(as: UInt16.self)))
        let dmin = _mm512_set1_ps(-floatFromHalf(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        let sm = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(unsafeBitCast(unpackScalesK4(block + 4), to: __m128i.self)))
        let f = _mm512_mul_ps(sm, _mm512_mask_blend_ps(0xFF00, d, dmin))
        storeFloats16(f, factors)
        minimum = _mm512_fmadd_ps(f, loadFloats16(xSums + 16 * i), minimum)
        let h0 = highBits ? _mm512_cvtepu8_epi32(loadBytes16(block, 16)) : _mm512_setzero_si512()
        let h1 = highBits ? _mm512_cvtepu8_epi32(loadBytes16(block, 32)) : _mm512_setzero_si512()
        let xb = x + 256 * i
        for c in 0..<4 {
            let q0 = _mm512_cvtepu8_epi32(loadBytes16(block, qsOffset + 32 * c))
            let q1 = _mm512_cvtepu8_epi32(loadBytes16(block, qsOffset + 32 * c + 16))
            let lo: __m512, hi: __m512
            if highBits {
                let loBit = _mm512_set1_epi32(Int32(1) << (2 * c)), hiBit = _mm512_set1_epi32(Int32(2) << (2 * c))
                let a0 = _mm512_and_si512(q0, low), a1 = _mm512_and_si512(q1, low)
                let b0 = _mm512_srli_epi32(q0, 4), b1 = _mm512_srli_epi32(q1, 4)
                let w0 = _mm512_cvtepi32_ps(_mm512_mask_add_epi32(a0, _mm512_test_epi32_mask(h0, loBit), a0, sixteen))
                let w1 = _mm512_cvtepi32_ps(_mm512_mask_add_epi32(a1, _mm512_test_epi32_mask(h1, loBit), a1, sixteen))
                let w2 = _mm512_cvtepi32_ps(_mm512_mask_add_epi32(b0, _mm512_test_epi32_mask(h0, hiBit), b0, sixteen))
                let w3 = _mm512_cvtepi32_ps(_mm512_mask_add_epi32(b1, _mm512_test_epi32_mask(h1, hiBit), b1, sixteen))
                lo = _mm512_fmadd_ps(w1, loadFloats16(xb + 64 * c + 16), _mm512_mul_ps(w0, loadFloats16(xb + 64 * c)))
                hi = _mm512_fmadd_ps(w3, loadFloats16(xb + 64 * c + 48), _mm512_mul_ps(w2, loadFloats16(xb + 64 * c + 32)))
            } else {
                lo = _mm512_fmadd_ps(_mm512_permutexvar_ps(q1, nibbles), loadFloats16(xb + 64 * c + 16),
                                     _mm512_mul_ps(_mm512_permutexvar_ps(q0, nibbles), loadFloats16(xb + 64 * c)))
                hi = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(q1, 4)), loadFloats16(xb + 64 * c + 48),
                                     _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(q0, 4)), loadFloats16(xb + 64 * c + 32)))
            }
            acc0 = _mm512_fmadd_ps(_mm512_set1_ps(factors[2 * c]), lo, acc0)
            acc1 = _mm512_fmadd_ps(_mm512_set1_ps(factors[2 * c + 1]), hi, acc1)
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), minimum))
}

/// Dot of a Q6_K row of `superBlocks` blocks with `x`; `factors` is scratch for 16 floats (the block's `d * scale`s).
@inline(__always)
func dotQ6_KF32(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, superBlocks: Int,
                factors: UnsafeMutablePointer<Float>) -> Float {
    var acc0 = _mm512_setzero_ps()
    var acc1 = _mm512_setzero_ps()
    var acc2 = _mm512_setzero_ps()
    var acc3 = _mm512_setzero_ps()
    for i in 0..<superBlocks {
        let block = row + i * 210
        let d = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(fromByteOffset: 208, as: UInt16.self)))
        storeFloats16(_mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(block, 192)))), factors)
        for n in 0..<2 {
            for g in 0..<2 {
                let (q1, q2, q3, q4) = unpackQ6_K(
                    _mm512_cvtepu8_epi32(loadBytes16(block, 64 * n + 16 * g)),
                    _mm512_cvtepu8_epi32(loadBytes16(block, 64 * n + 32 + 16 * g)),
                    _mm512_cvtepu8_epi32(loadBytes16(block, 128 + 32 * n + 16 * g)))
                let xb = x + 256 * i + 128 * n + 16 * g
                let s = factors + 8 * n + g
                acc0 = _mm512_fmadd_ps(_mm512_set1_ps(s[0]), _mm512_mul_ps(_mm512_cvtepi32_ps(q1), loadFloats16(xb)), acc0)
                acc1 = _mm512_fmadd_ps(_mm512_set1_ps(s[2]), _mm512_mul_ps(_mm512_cvtepi32_ps(q2), loadFloats16(xb + 32)), acc1)
                acc2 = _mm512_fmadd_ps(_mm512_set1_ps(s[4]), _mm512_mul_ps(_mm512_cvtepi32_ps(q3), loadFloats16(xb + 64)), acc2)
                acc3 = _mm512_fmadd_ps(_mm512_set1_ps(s[6]), _mm512_mul_ps(_mm512_cvtepi32_ps(q4), loadFloats16(xb + 96)), acc3)
            }
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)))
}

/// Dots of two Q4_K rows with `x` at once, sharing the loads of x (as `dotQ4_KF32` does for one row);
/// `factors` is scratch for 32 floats.
@inline(__always)
func dotQ4_KF32Pair(_ row0: UnsafeRawPointer, _ row1: UnsafeRawPointer, _ x: UnsafePointer<Float>, xSums: UnsafePointer<Float>,
                    superBlocks: Int, factors: UnsafeMutablePointer<Float>) -> (Float, Float) {
    let nibbles = nibbleValues
    var acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps()
    var acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps()
    var minimum0 = _mm512_setzero_ps(), minimum1 = _mm512_setzero_ps()
    for i in 0..<superBlocks {
        let block0 = row0 + i * 144, block1 = row1 + i * 144
        let sums = loadFloats16(xSums + 16 * i)
        let f0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(unsafeBitCast(unpackScalesK4(block0 + 4), to: __m128i.self))),
                               _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(floatFromHalf(block0.loadUnaligned(as: UInt16.self))),
                                                    _mm512_set1_ps(-floatFromHalf(block0.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))))
        let f1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(unsafeBitCast(unpackScalesK4(block1 + 4), to: __m128i.self))),
                               _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(floatFromHalf(block1.loadUnaligned(as: UInt16.self))),
                                                    _mm512_set1_ps(-floatFromHalf(block1.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))))
        storeFloats16(f0, factors)
        storeFloats16(f1, factors + 16)
        minimum0 = _mm512_fmadd_ps(f0, sums, minimum0)
        minimum1 = _mm512_fmadd_ps(f1, sums, minimum1)
        let xb = x + 256 * i
        for c in 0..<4 {
            let x0 = loadFloats16(xb + 64 * c), x1 = loadFloats16(xb + 64 * c + 16)
            let x2 = loadFloats16(xb + 64 * c + 32), x3 = loadFloats16(xb + 64 * c + 48)
            let a0 = _mm512_cvtepu8_epi32(loadBytes16(block0, 16 + 32 * c))
            let a1 = _mm512_cvtepu8_epi32(loadBytes16(block0, 16 + 32 * c + 16))
            let lo0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(a1, nibbles), x1, _mm512_mul_ps(_mm512_permutexvar_ps(a0, nibbles), x0))
            let hi0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(a1, 4)), x3,
                                      _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(a0, 4)), x2))
            acc0 = _mm512_fmadd_ps(_mm512_set1_ps(factors[2 * c]), lo0, acc0)
            acc1 = _mm512_fmadd_ps(_mm512_set1_ps(factors[2 * c + 1]), hi0, acc1)
            let b0 = _mm512_cvtepu8_epi32(loadBytes16(block1, 16 + 32 * c))
            let b1 = _mm512_cvtepu8_epi32(loadBytes16(block1, 16 + 32 * c + 16))
            let lo1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(b1, nibbles), x1, _mm512_mul_ps(_mm512_permutexvar_ps(b0, nibbles), x0))
            let hi1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(b1, 4)), x3,
                                      _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(b0, 4)), x2))
            acc2 = _mm512_fmadd_ps(_mm512_set1_ps(factors[16 + 2 * c]), lo1, acc2)
            acc3 = _mm512_fmadd_ps(_mm512_set1_ps(factors[16 + 2 * c + 1]), hi1, acc3)
        }
    }
    return (_mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), minimum0)),
            _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc2, acc3), minimum1)))
}

/// Dots of two Q6_K rows with `x` at once, sharing the loads of x; `factors` is scratch for 32 floats.
@inline(__always)
func dotQ6_KF32Pair(_ row0: UnsafeRawPointer, _ row1: UnsafeRawPointer, _ x: UnsafePointer<Float>, superBlocks: Int,
                    factors: UnsafeMutablePointer<Float>) -> (Float, Float) {
    var acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps()
    var acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps()
    for i in 0..<superBlocks {
        let block0 = row0 + i * 210, block1 = row1 + i * 210
        storeFloats16(_mm512_mul_ps(_mm512_set1_ps(floatFromHalf(block0.loadUnaligned(fromByteOffset: 208, as: UInt16.self))),
                                    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(block0, 192)))), factors)
        storeFloats16(_mm512_mul_ps(_mm512_set1_ps(floatFromHalf(block1.loadUnaligned(fromByteOffset: 208, as: UInt16.self))),
                                    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(block1, 192)))), factors + 16)
        for n in 0..<2 {
            for g in 0..<2 {
                let xb = x + 256 * i + 128 * n + 16 * g
                let x0 = loadFloats16(xb), x1 = loadFloats16(xb + 32), x2 = loadFloats16(xb + 64), x3 = loadFloats16(xb + 96)
                let (p1, p2, p3, p4) = unpackQ6_K(
                    _mm512_cvtepu8_epi32(loadBytes16(block0, 64 * n + 16 * g)),
                    _mm512_cvtepu8_epi32(loadBytes16(block0, 64 * n + 32 + 16 * g)),
                    _mm512_cvtepu8_epi32(loadBytes16(block0, 128 + 32 * n + 16 * g)))
                let s0 = factors + 8 * n + g
                let u0 = _mm512_fmadd_ps(_mm512_set1_ps(s0[0]), _mm512_mul_ps(_mm512_cvtepi32_ps(p1), x0),
                                         _mm512_mul_ps(_mm512_set1_ps(s0[2]), _mm512_mul_ps(_mm512_cvtepi32_ps(p2), x1)))
                acc0 = _mm512_fmadd_ps(_mm512_set1_ps(s0[4]), _mm512_mul_ps(_mm512_cvtepi32_ps(p3), x2), _mm512_add_ps(acc0, u0))
                acc1 = _mm512_fmadd_ps(_mm512_set1_ps(s0[6]), _mm512_mul_ps(_mm512_cvtepi32_ps(p4), x3), acc1)
                let (r1, r2, r3, r4) = unpackQ6_K(
                    _mm512_cvtepu8_epi32(loadBytes16(block1, 64 * n + 16 * g)),
                    _mm512_cvtepu8_epi32(loadBytes16(block1, 64 * n + 32 + 16 * g)),
                    _mm512_cvtepu8_epi32(loadBytes16(block1, 128 + 32 * n + 16 * g)))
                let s1 = factors + 16 + 8 * n + g
                let u1 = _mm512_fmadd_ps(_mm512_set1_ps(s1[0]), _mm512_mul_ps(_mm512_cvtepi32_ps(r1), x0),
                                         _mm512_mul_ps(_mm512_set1_ps(s1[2]), _mm512_mul_ps(_mm512_cvtepi32_ps(r2), x1)))
                acc2 = _mm512_fmadd_ps(_mm512_set1_ps(s1[4]), _mm512_mul_ps(_mm512_cvtepi32_ps(r3), x2), _mm512_add_ps(acc2, u1))
                acc3 = _mm512_fmadd_ps(_mm512_set1_ps(s1[6]), _mm512_mul_ps(_mm512_cvtepi32_ps(r4), x3), acc3)
            }
        }
    }
    return (_mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)), _mm512_reduce_add_ps(_mm512_add_ps(acc2, acc3)))
}
