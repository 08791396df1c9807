public import ShoalGGUF
import _Builtin_intrinsics.intel

/// Converts `count` weights of `type` starting at `src` to Float in `dst`.
///
/// `count` must be a multiple of the type's block size and `type` one that `Kernels.supports`
/// (both are checked when a `MatrixView` is made).
public func dequantizeRow(_ type: GGMLType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
    precondition(Kernels.supports(type), "dequantizeRow: unsupported type \(type)")
    precondition(count % type.blockSize == 0, "dequantizeRow: \(count) is not a multiple of the block size")
    switch type {
    case .f32: dst.update(from: src.assumingMemoryBound(to: Float.self), count: count)
    case .f16: dequantizeRowF16(src, dst, count: count)
    case .bf16: dequantizeRowBF16(src, dst, count: count)
    case .q4_0: dequantizeRowQ4_0(src, dst, blocks: count / 32)
    case .q4_1: dequantizeRowQ4_1(src, dst, blocks: count / 32)
    case .q8_0: dequantizeRowQ8_0(src, dst, blocks: count / 32)
    case .q5_0: dequantizeRowQ5_0(src, dst, blocks: count / 32)
    case .q5_1: dequantizeRowQ5_1(src, dst, blocks: count / 32)
    case .q4_K: dequantizeRowQ4_KOrQ5_K(src, dst, blocks: count / 256, highBits: false)
    case .q5_K: dequantizeRowQ4_KOrQ5_K(src, dst, blocks: count / 256, highBits: true)
    case .q6_K: dequantizeRowQ6_K(src, dst, blocks: count / 256)
    default: preconditionFailure("dequantizeRow: unsupported type \(type)")
    }
}

/// Scalar twin of `dequantizeRow`, written straight from ggml's block formulas.
package func dequantizeRowReference(_ type: GGMLType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
    precondition(Kernels.supports(type) && count % type.blockSize == 0)
    switch type {
    case .f32:
        for i in 0..<count { dst[i] = src.load(fromByteOffset: 4 * i, as: Float.self) }
    case .f16:
        for i in 0..<count { dst[i] = floatFromHalfReference(src.load(fromByteOffset: 2 * i, as: UInt16.self)) }
    case .bf16:
        for i in 0..<count { dst[i] = floatFromBFloat16(src.load(fromByteOffset: 2 * i, as: UInt16.self)) }
    case .q4_0:
        for b in 0..<count / 32 {
            let block = src + b * 18
            let d = floatFromHalfReference(block.load(as: UInt16.self))
            for j in 0..<16 {
                let byte = block.load(fromByteOffset: 2 + j, as: UInt8.self)
                dst[b * 32 + j] = Float(Int(byte & 0xF) - 8) * d
                dst[b * 32 + j + 16] = Float(Int(byte >> 4) - 8) * d
            }
        }
    case .q4_1:
        for b in 0..<count / 32 {
            let block = src + b * 20
            let d = floatFromHalfReference(block.load(as: UInt16.self))
            let m = floatFromHalfReference(block.load(fromByteOffset: 2, as: UInt16.self))
            for j in 0..<16 {
                let byte = block.load(fromByteOffset: 4 + j, as: UInt8.self)
                dst[b * 32 + j] = Float(byte & 0xF) * d + m
                dst[b * 32 + j + 16] = Float(byte >> 4) * d + m
            }
        }
    case .q8_0:
        for b in 0..<count / 32 {
            let block = src + b * 34
            let d = floatFromHalfReference(block.load(as: UInt16.self))
            for j in 0..<32 {
                dst[b * 32 + j] = Float(block.load(fromByteOffset: 2 + j, as: Int8.self)) * d
            }
        }
    case .q5_0: dequantizeRowQ5_0Reference(src, dst, blocks: count / 32)
    case .q5_1: dequantizeRowQ5_1Reference(src, dst, blocks: count / 32)
    case .q4_K: dequantizeRowQ4_KReference(src, dst, blocks: count / 256)
    case .q5_K: dequantizeRowQ5_KReference(src, dst, blocks: count / 256)
    case .q6_K: dequantizeRowQ6_KReference(src, dst, blocks: count / 256)
    default:
        preconditionFailure()
    }
}

@inline(__always)
func loadBytes16(_ p: UnsafeRawPointer, _ offset: Int) -> __m128i {
    p.loadUnaligned(fromByteOffset: offset, as: __m128i.self)
}

@inline(__always)
func storeFloats16(_ v: __m512, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: __m512.self)
}

@inline(__always)
func loadFloats16(_ p: UnsafePointer<Float>) -> __m512 {
    UnsafeRawPointer(p).loadUnaligned(as: __m512.self)
}

func dequantizeRowF16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 16 <= count {
        let h = src.loadUnaligned(fromByteOffset: 2 * i, as: __m256i.self)
        UnsafeMutableRawPointer(dst + i).storeBytes(of: _mm512_cvtph_ps(h), as: __m512.self)
        i += 16
    }
    while i < count {
        dst[i] = floatFromHalf(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
        i += 1
    }
}

func dequantizeRowBF16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 16 <= count {
        let h = src.loadUnaligned(fromByteOffset: 2 * i, as: __m256i.self)
        let v = _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)
        UnsafeMutableRawPointer(dst + i).storeBytes(of: v, as: __m512i.self)
        i += 16
    }
    while i < count {
        dst[i] = floatFromBFloat16(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
        i += 1
    }
}

func dequantizeRowQ4_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int) {
    let low = _mm512_set1_epi32(0xF)
    let eight = _mm512_set1_epi32(8)
    for b in 0..<blocks {
        let block = src + b * 18
        let d = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(as: UInt16.self)))
        let q = _mm512_cvtepu8_epi32(loadBytes16(block, 2))
        let lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(q, low), eight))
        let hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight))
        storeFloats16(_mm512_mul_ps(lo, d), dst + b * 32)
        storeFloats16(_mm512_mul_ps(hi, d), dst + b * 32 + 16)
    }
}

func dequantizeRowQ4_1(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int) {
    let low = _mm512_set1_epi32(0xF)
    for b in 0..<blocks {
        let block = src + b * 20
        let d = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(as: UInt16.self)))
        let m = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        let q = _mm512_cvtepu8_epi32(loadBytes16(block, 4))
        let lo = _mm512_cvtepi32_ps(_mm512_and_si512(q, low))
        let hi = _mm512_cvtepi32_ps(_mm512_srli_epi32(q, 4))
        storeFloats16(_mm512_fmadd_ps(lo, d, m), dst + b * 32)
        storeFloats16(_mm512_fmadd_ps(hi, d, m), dst + b * 32 + 16)
    }
}

func dequantizeRowQ8_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int) {
    for b in 0..<blocks {
        let block = src + b * 34
        let d = _mm512_set1_ps(floatFromHalf(block.loadUnaligned(as: UInt16.self)))
        let q0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(block, 2)))
        let q1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(loadBytes16(block, 18)))
        storeFloats16(_mm512_mul_ps(q0, d), dst + b * 32)
        storeFloats16(_mm512_mul_ps(q1, d), dst + b * 32 + 16)
    }
}
