import _Builtin_intrinsics.intel

// The fast path's activations: each token's vector cut into blocks of 32 values, each block stored as 32 signed
// bytes and one float scale (`x ≈ scale * q`, `scale = max|x| / 127`), llama.cpp's Q8 activation format, plus the
// block's sum `scale * sum(q)`, which Q4_1's minimum term needs.
//
// That sum must be of the quantized values, not the exact floats: a Q4_1 weight is `d * q + m` with q in 0...15,
// and only with the quantized sum does the rounding error of x meet the weights centred (`sum (d q + m)(x' - x)`);
// with the exact sum it meets `d q`, all positive, and SmolLM2's mean KL to exact came out 5x worse (0.0117, not
// 0.0021).

/// Where `quantizeActivations` writes one batch of tokens: `tokens` rows of `columns` int8 values, the same values
/// plus 128 as unsigned bytes (for kernels whose weights are signed, see `Q8_0Block`), then per token and
/// block a scale and a sum, and the integer sums of each block's two halves of 16 (for Q6_K's scale per 16).
/// Lives in caller-provided memory (`byteCount` bytes, 64-byte aligned).
package struct Int8Activations {
    let values: UnsafeMutablePointer<Int8>
    let offsetValues: UnsafeMutablePointer<UInt8>
    let scales: UnsafeMutablePointer<Float>
    let sums: UnsafeMutablePointer<Float>
    let halfSums: UnsafeMutablePointer<Int32>
    package let columns: Int
    package let blocks: Int

    /// Bytes needed for `tokens` tokens of `columns` values (a multiple of 32).
    package static func byteCount(tokens: Int, columns: Int) -> Int {
        2 * tokens * columns + 16 * tokens * (columns / 32) + 64
    }

    package init(memory: UnsafeMutableRawPointer, tokens: Int, columns: Int) {
        self.columns = columns
        blocks = columns / 32
        values = memory.bindMemory(to: Int8.self, capacity: tokens * columns)
        offsetValues = (memory + tokens * columns).bindMemory(to: UInt8.self, capacity: tokens * columns)
        let floats = (memory + 2 * tokens * columns).bindMemory(to: Float.self, capacity: 2 * tokens * blocks)
        scales = floats
        sums = floats + tokens * blocks
        halfSums = UnsafeMutableRawPointer(floats + 2 * tokens * blocks).bindMemory(to: Int32.self, capacity: 2 * tokens * blocks)
    }

    /// Token `t`'s int8 values.
    @inline(__always)
    package func values(token t: Int) -> UnsafeRawPointer { UnsafeRawPointer(values + t * columns) }
    /// Token `t`'s values plus 128, as unsigned bytes (written only when `quantizeActivations` was asked for them).
    @inline(__always)
    package func offsetValues(token t: Int) -> UnsafeRawPointer { UnsafeRawPointer(offsetValues + t * columns) }
    /// Token `t`'s block scales.
    @inline(__always)
    package func scales(token t: Int) -> UnsafePointer<Float> { UnsafePointer(scales + t * blocks) }
    /// Token `t`'s block sums `scale * sum(q)`.
    @inline(__always)
    package func sums(token t: Int) -> UnsafePointer<Float> { UnsafePointer(sums + t * blocks) }
    /// Token `t`'s integer sums of q over values `0 ..< 16` and `16 ..< 32` of each block (two per block).
    @inline(__always)
    package func halfSums(token t: Int) -> UnsafePointer<Int32> { UnsafePointer(halfSums + 2 * t * blocks) }
}

/// Quantizes `tokens` vectors of `columns` floats (`xStride` apart) into `out`: per block of 32, round-to-nearest
/// of `x * (127 / max|x|)`; with `offset`, also the values plus 128 as unsigned bytes.
package func quantizeActivations(_ x: UnsafePointer<Float>, xStride: Int, tokens: Int, into out: Int8Activations,
                                 offset: Bool = false) {
    let blocks = out.blocks
    let signBit = _mm_set1_epi8(-128)
    for t in 0..<tokens {
        let row = x + t * xStride
        let q = out.values + t * out.columns
        let u = out.offsetValues + t * out.columns
        let scales = out.scales + t * blocks
        let sums = out.sums + t * blocks
        let halfSums = out.halfSums + 2 * t * blocks
        for b in 0..<blocks {
            let v0 = loadFloats16(row + 32 * b)
            let v1 = loadFloats16(row + 32 * b + 16)
            let amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)))
            let scale = amax / 127
            let inverse: Float = amax > 0 ? 127 / amax : 0
            let factor = _mm512_set1_ps(inverse)
            let q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, factor))
            let q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, factor))
            let bytes0 = _mm512_cvtepi32_epi8(q0), bytes1 = _mm512_cvtepi32_epi8(q1)
            UnsafeMutableRawPointer(q + 32 * b).storeBytes(of: bytes0, as: __m128i.self)
            UnsafeMutableRawPointer(q + 32 * b + 16).storeBytes(of: bytes1, as: __m128i.self)
            if offset {
                // q + 128 in unsigned bytes is q with its top bit flipped.
                UnsafeMutableRawPointer(u + 32 * b).storeBytes(of: _mm_xor_si128(bytes0, signBit), as: __m128i.self)
                UnsafeMutableRawPointer(u + 32 * b + 16).storeBytes(of: _mm_xor_si128(bytes1, signBit), as: __m128i.self)
            }
            scales[b] = scale
            let low = _mm512_reduce_add_epi32(q0), high = _mm512_reduce_add_epi32(q1)
            halfSums[2 * b] = low
            halfSums[2 * b + 1] = high
            sums[b] = scale * Float(low + high)
        }
    }
}

/// Scalar twin of `quantizeActivations` for one block: the int8 values (same rounding, ties to even), the scale and
/// the sum `scale * sum(q)` in Double.
package func quantizeBlockReference(_ x: UnsafePointer<Float>) -> (values: [Int8], scale: Float, sum: Double) {
    var amax: Float = 0
    for i in 0..<32 { amax = max(amax, abs(x[i])) }
    let inverse: Float = amax > 0 ? 127 / amax : 0
    var values = [Int8](repeating: 0, count: 32)
    var sum = 0
    for i in 0..<32 {
        values[i] = Int8((x[i] * inverse).rounded(.toNearestOrEven))
        sum += Int(values[i])
    }
    return (values, amax / 127, Double(amax / 127) * Double(sum))
}
