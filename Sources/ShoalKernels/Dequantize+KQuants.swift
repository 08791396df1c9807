import _Builtin_intrinsics.intel

// Dequantization of Q5_0 and the K-quants Q4_K, Q5_K, Q6_K (ggml's block layouts, little-endian):
//
// - Q5_0 (22 bytes / 32 weights): f16 d, u8 qh[4], u8 qs[16]; h = u32(qh);
//   w[j] = d * ((qs[j] & 15 | (h >> j & 1) << 4) - 16), w[j+16] = d * ((qs[j] >> 4 | (h >> (j+16) & 1) << 4) - 16).
// - Q4_K (144 bytes / 256 weights): f16 d, f16 dmin, u8 scales[12] (8 six-bit scales and 8 six-bit mins, see
//   `scaleMinK4Reference`), u8 qs[128]; chunk c = 0..3 uses qs[32c ..< 32c+32]: w[64c+l] = d*sc[2c] * (q & 15) - dmin*m[2c],
//   w[64c+32+l] = d*sc[2c+1] * (q >> 4) - dmin*m[2c+1].
// - Q5_K (176 bytes / 256 weights): as Q4_K with u8 qh[32] before qs: bit 2c of qh[l] is the fifth bit of the low
//   nibble of chunk c, bit 2c+1 that of its high nibble.
// - Q6_K (210 bytes / 256 weights): u8 ql[128], u8 qh[64], i8 scales[16], f16 d; 16 sub-blocks of 16 weights.
//
// Every weight is computed as the reference does it in float: `(d * sc) * q - (dmin * m)` (no fused multiply-add),
// so the SIMD and scalar versions agree bit for bit.

/// The 8 scales (bytes 0-7) and 8 mins (bytes 8-15) of a Q4_K / Q5_K block from its 12 packed bytes at `s`
/// (ggml's `get_scale_min_k4` for j = 0...7, done four bytes at a time).
@inline(__always)
func unpackScalesK4(_ s: UnsafeRawPointer) -> SIMD16<UInt8> {
    let u0 = s.loadUnaligned(as: UInt32.self)
    let u1 = s.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
    let u2 = s.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
    let low6: UInt32 = 0x3F3F_3F3F, low4: UInt32 = 0x0F0F_0F0F, low2: UInt32 = 0x0303_0303
    let scales0 = u0 & low6
    let scales1 = (u2 & low4) | (((u0 >> 6) & low2) << 4)
    let mins0 = u1 & low6
    let mins1 = ((u2 >> 4) & low4) | (((u1 >> 6) & low2) << 4)
    return unsafeBitCast(SIMD4<UInt32>(scales0, scales1, mins0, mins1), to: SIMD16<UInt8>.self)
}

/// Scalar twin of `unpackScalesK4` for one index: ggml's `get_scale_min_k4(j, s)`.
package func scaleMinK4Reference(_ j: Int, _ s: UnsafeRawPointer) -> (scale: UInt8, min: UInt8) {
    func byte(_ i: Int) -> UInt8 { s.load(fromByteOffset: i, as: UInt8.self) }
    if j < 4 {
        return (byte(j) & 63, byte(j + 4) & 63)
    }
    return ((byte(j + 4) & 0xF) | ((byte(j - 4) >> 6) << 4), (byte(j + 4) >> 4) | ((byte(j) >> 6) << 4))
}

func dequantizeRowQ5_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int) {
    let low = _mm512_set1_epi32(0xF)
    let sixteen = _mm512_set1_epi32(16)
    for b in 0..<blocks {
        let block = src + b * 22
        let d = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(as: UInt16.self)))
        let h = block.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
        let q = _mm512_cvtepu8_epi32(loadBytes16(block, 6))
        // nibble | bit << 4 - 16 = nibble - 16 where the fifth bit is clear, the nibble where it is set.
        let loNibble = _mm512_and_si512(q, low)
        let hiNibble = _mm512_srli_epi32(q, 4)
        let lo = _mm512_mask_sub_epi32(loNibble, ~__mmask16(truncatingIfNeeded: h), loNibble, sixteen)
        let hi = _mm512_mask_sub_epi32(hiNibble, ~__mmask16(truncatingIfNeeded: h >> 16), hiNibble, sixteen)
        storeFloats16(_mm512_mul_ps(d, _mm512_cvtepi32_ps(lo)), dst + b * 32)
        storeFloats16(_mm512_mul_ps(d, _mm512_cvtepi32_ps(hi)), dst + b * 32 + 16)
    }
}

/// Q5_1 (24 bytes / 32 weights): f16 d, f16 m, u8 qh[4], u8 qs[16]; Q5_0's values without the -16, times d plus m.
func dequantizeRowQ5_1(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int) {
    let low = _mm512_set1_epi32(0xF)
    let sixteen = _mm512_set1_epi32(16)
    for b in 0..<blocks {
        let block = src + b * 24
        let d = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(as: UInt16.self)))
        let m = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        let h = block.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let q = _mm512_cvtepu8_epi32(loadBytes16(block, 8))
        let loNibble = _mm512_and_si512(q, low)
        let hiNibble = _mm512_srli_epi32(q, 4)
        let lo = _mm512_mask_add_epi32(loNibble, __mmask16(truncatingIfNeeded: h), loNibble, sixteen)
        let hi = _mm512_mask_add_epi32(hiNibble, __mmask16(truncatingIfNeeded: h >> 16), hiNibble, sixteen)
        storeFloats16(_mm512_add_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(lo)), m), dst + b * 32)
        storeFloats16(_mm512_add_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(hi)), m), dst + b * 32 + 16)
    }
}

func dequantizeRowQ5_1Reference(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 24
        let d = floatFromHalfReference(block.load(as: UInt16.self))
        let m = floatFromHalfReference(block.load(fromByteOffset: 2, as: UInt16.self))
        var h: UInt32 = 0
        for i in 0..<4 { h |= UInt32(block.load(fromByteOffset: 4 + i, as: UInt8.self)) << (8 * i) }
        for j in 0..<16 {
            let byte = block.load(fromByteOffset: 8 + j, as: UInt8.self)
            let x0 = Int(byte & 0xF) | Int((h >> j) & 1) << 4
            let x1 = Int(byte >> 4) | Int((h >> (j + 16)) & 1) << 4
            dst[b * 32 + j] = Float(x0) * d + m
            dst[b * 32 + j + 16] = Float(x1) * d + m
        }
    }
}

/// Q4_K (`highBits` false) and Q5_K (`highBits` true) blocks.
@inline(__always)
func dequantizeRowQ4_KOrQ5_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int, highBits: Bool) {
    let low = _mm512_set1_epi32(0xF)
    let sixteen = _mm512_set1_epi32(16)
    let blockBytes = highBits ? 176 : 144
    let qsOffset = highBits ? 48 : 16
    for b in 0..<blocks {
        let block = src + b * blockBytes
        let d = floatFromHalf(block.loadUnaligned(as: UInt16.self))
        let dmin = floatFromHalf(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        let sm = unpackScalesK4(block + 4)
        let h0 = highBits ? _mm512_cvtepu8_epi32(loadBytes16(block, 16)) : _mm512_setzero_si512()
        let h1 = highBits ? _mm512_cvtepu8_epi32(loadBytes16(block, 32)) : _mm512_setzero_si512()
        let y = dst + b * 256
        for c in 0..<4 {
            let d1 = _mm512_set1_ps(d * Float(sm[2 * c])), m1 = _mm512_set1_ps(dmin * Float(sm[8 + 2 * c]))
            let d2 = _mm512_set1_ps(d * Float(sm[2 * c + 1])), m2 = _mm512_set1_ps(dmin * Float(sm[9 + 2 * c]))
            let q0 = _mm512_cvtepu8_epi32(loadBytes16(block, qsOffset + 32 * c))
            let q1 = _mm512_cvtepu8_epi32(loadBytes16(block, qsOffset + 32 * c + 16))
            var a0 = _mm512_and_si512(q0, low), a1 = _mm512_and_si512(q1, low)
            var b0 = _mm512_srli_epi32(q0, 4), b1 = _mm512_srli_epi32(q1, 4)
            if highBits {
                let loBit = _mm512_set1_epi32(Int32(1) << (2 * c)), hiBit = _mm512_set1_epi32(Int32(2) << (2 * c))
                a0 = _mm512_mask_add_epi32(a0, _mm512_test_epi32_mask(h0, loBit), a0, sixteen)
                a1 = _mm512_mask_add_epi32(a1, _mm512_test_epi32_mask(h1, loBit), a1, sixteen)
                b0 = _mm512_mask_add_epi32(b0, _mm512_test_epi32_mask(h0, hiBit), b0, sixteen)
                b1 = _mm512_mask_add_epi32(b1, _mm512_test_epi32_mask(h1, hiBit), b1, sixteen)
            }
            storeFloats16(_mm512_sub_ps(_mm512_mul_ps(d1, _mm512_cvtepi32_ps(a0)), m1), y + 64 * c)
            storeFloats16(_mm512_sub_ps(_mm512_mul_ps(d1, _mm512_cvtepi32_ps(a1)), m1), y + 64 * c + 16)
            storeFloats16(_mm512_sub_ps(_mm512_mul_ps(d2, _mm512_cvtepi32_ps(b0)), m2), y + 64 * c + 32)
            storeFloats16(_mm512_sub_ps(_mm512_mul_ps(d2, _mm512_cvtepi32_ps(b1)), m2), y + 64 * c + 48)
        }
    }
}

/// The four 6-bit quants (minus 32) that Q6_K packs for 16 consecutive `l` of one 128-weight half:
/// `a` = ql[l], `b` = ql[l+32], `h` = qh[l] (zero-extended); results for weights l, l+32, l+64, l+96.
@inline(__always)
func unpackQ6_K(_ a: __m512i, _ b: __m512i, _ h: __m512i) -> (__m512i, __m512i, __m512i, __m512i) {
    let low = _mm512_set1_epi32(0xF)
    let bits45 = _mm512_set1_epi32(0x30)
    let offset = _mm512_set1_epi32(32)
    let q1 = _mm512_or_si512(_mm512_and_si512(a, low), _mm512_and_si512(_mm512_slli_epi32(h, 4), bits45))
    let q2 = _mm512_or_si512(_mm512_and_si512(b, low), _mm512_and_si512(_mm512_slli_epi32(h, 2), bits45))
    let q3 = _mm512_or_si512(_mm512_srli_epi32(a, 4), _mm512_and_si512(h, bits45))
    let q4 = _mm512_or_si512(_mm512_srli_epi32(b, 4), _mm512_and_si512(_mm512_srli_epi32(h, 2), bits45))
    return (_mm512_sub_epi32(q1, offset), _mm512_sub_epi32(q2, offset), _mm512_sub_epi32(q3, offset), _mm512_sub_epi32(q4, offset))
}

func dequantizeRowQ6_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 210
        let d = floatFromHalf(block.loadUnaligned(fromByteOffset: 208, as: UInt16.self))
        for n in 0..<2 {
            let ql = 64 * n, qh = 128 + 32 * n, sc = 192 + 8 * n
            let y = dst + b * 256 + 128 * n
            for g in 0..<2 {
                let (q1, q2, q3, q4) = unpackQ6_K(
                    _mm512_cvtepu8_epi32(loadBytes16(block, ql + 16 * g)),
                    _mm512_cvtepu8_epi32(loadBytes16(block, ql + 32 + 16 * g)),
                    _mm512_cvtepu8_epi32(loadBytes16(block, qh + 16 * g)))
                func scale(_ i: Int) -> __m512 { _mm512_set1_ps(d * Float(block.load(fromByteOffset: sc + i, as: Int8.self))) }
                storeFloats16(_mm512_mul_ps(scale(g), _mm512_cvtepi32_ps(q1)), y + 16 * g)
                storeFloats16(_mm512_mul_ps(scale(g + 2), _mm512_cvtepi32_ps(q2)), y + 32 + 16 * g)
                storeFloats16(_mm512_mul_ps(scale(g + 4), _mm512_cvtepi32_ps(q3)), y + 64 + 16 * g)
                storeFloats16(_mm512_mul_ps(scale(g + 6), _mm512_cvtepi32_ps(q4)), y + 96 + 16 * g)
            }
        }
    }
}

// MARK: - Scalar twins (straight from ggml's dequantize_row_* loops)

func dequantizeRowQ5_0Reference(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 22
        let d = floatFromHalfReference(block.load(as: UInt16.self))
        var h: UInt32 = 0
        for i in 0..<4 { h |= UInt32(block.load(fromByteOffset: 2 + i, as: UInt8.self)) << (8 * i) }
        for j in 0..<16 {
            let byte = block.load(fromByteOffset: 6 + j, as: UInt8.self)
            let x0 = Int(byte & 0xF) | Int((h >> j) & 1) << 4
            let x1 = Int(byte >> 4) | Int((h >> (j + 16)) & 1) << 4
            dst[b * 32 + j] = Float(x0 - 16) * d
            dst[b * 32 + j + 16] = Float(x1 - 16) * d
        }
    }
}

func dequantizeRowQ4_KReference(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 144
        let d = floatFromHalfReference(block.load(as: UInt16.self))
        let dmin = floatFromHalfReference(block.load(fromByteOffset: 2, as: UInt16.self))
        var y = dst + b * 256
        var q = 16
        var scaleIndex = 0
        for _ in stride(from: 0, to: 256, by: 64) {
            let (sc1, m1) = scaleMinK4Reference(scaleIndex, block + 4)
            let (sc2, m2) = scaleMinK4Reference(scaleIndex + 1, block + 4)
            let d1 = d * Float(sc1), min1 = dmin * Float(m1)
            let d2 = d * Float(sc2), min2 = dmin * Float(m2)
            for l in 0..<32 { y[l] = d1 * Float(block.load(fromByteOffset: q + l, as: UInt8.self) & 0xF) - min1 }
            for l in 0..<32 { y[32 + l] = d2 * Float(block.load(fromByteOffset: q + l, as: UInt8.self) >> 4) - min2 }
            y += 64
            q += 32
            scaleIndex += 2
        }
    }
}

func dequantizeRowQ5_KReference(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 176
        let d = floatFromHalfReference(block.load(as: UInt16.self))
        let dmin = floatFromHalfReference(block.load(fromByteOffset: 2, as: UInt16.self))
        var y = dst + b * 256
        var q = 48
        var scaleIndex = 0
        var u1: UInt8 = 1, u2: UInt8 = 2
        for _ in stride(from: 0, to: 256, by: 64) {
            let (sc1, m1) = scaleMinK4Reference(scaleIndex, block + 4)
            let (sc2, m2) = scaleMinK4Reference(scaleIndex + 1, block + 4)
            let d1 = d * Float(sc1), min1 = dmin * Float(m1)
            let d2 = d * Float(sc2), min2 = dmin * Float(m2)
            for l in 0..<32 {
                let ql = block.load(fromByteOffset: q + l, as: UInt8.self)
                let qh = block.load(fromByteOffset: 16 + l, as: UInt8.self)
                y[l] = d1 * Float(Int(ql & 0xF) + (qh & u1 != 0 ? 16 : 0)) - min1
                y[32 + l] = d2 * Float(Int(ql >> 4) + (qh & u2 != 0 ? 16 : 0)) - min2
            }
            y += 64
            q += 32
            scaleIndex += 2
            u1 <<= 2
            u2 <<= 2
        }
    }
}

func dequantizeRowQ6_KReference(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 210
        let d = floatFromHalfReference(block.load(fromByteOffset: 208, as: UInt16.self))
        for n in 0..<2 {
            let ql = 64 * n, qh = 128 + 32 * n, sc = 192 + 8 * n
            let y = dst + b * 256 + 128 * n
            func byte(_ offset: Int) -> Int { Int(block.load(fromByteOffset: offset, as: UInt8.self)) }
            func scale(_ i: Int) -> Float { Float(block.load(fromByteOffset: sc + i, as: Int8.self)) }
            for l in 0..<32 {
                let scaleIndex = l / 16
                let q1 = ((byte(ql + l) & 0xF) | ((byte(qh + l) >> 0) & 3) << 4) - 32
                let q2 = ((byte(ql + l + 32) & 0xF) | ((byte(qh + l) >> 2) & 3) << 4) - 32
                let q3 = ((byte(ql + l) >> 4) | ((byte(qh + l) >> 4) & 3) << 4) - 32
                let q4 = ((byte(ql + l + 32) >> 4) | ((byte(qh + l) >> 6) & 3) << 4) - 32
                y[l] = d * scale(scaleIndex) * Float(q1)
                y[l + 32] = d * scale(scaleIndex + 2) * Float(q2)
                y[l + 64] = d * scale(scaleIndex + 4) * Float(q3)
                y[l + 96] = d * scale(scaleIndex + 6) * Float(q4)
            }
        }
    }
}
