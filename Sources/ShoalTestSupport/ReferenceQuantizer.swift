public import ShoalGGUF

/// Plain, obviously-correct quantizers that write GGUF block bytes, so tests can make quantized tensors.
public enum ReferenceQuantizer {
    /// The bytes of `values` (a multiple of the block size) stored as `type`.
    /// Supports F32, F16, Q8_0, Q4_0 and Q4_1.
    public static func quantize(_ values: [Float], as type: GGMLType) -> [UInt8] {
        var out: [UInt8] = []
        switch type {
        case .f32:
            for v in values { appendLE(&out, v.bitPattern) }
        case .f16:
            for v in values { appendLE(&out, Float16(v).bitPattern) }
        case .q8_0:
            for block in stride(from: 0, to: values.count, by: 32) {
                let xs = values[block..<block + 32]
                let amax = xs.map(abs).max() ?? 0
                let d = amax / 127
                let inv: Float = d == 0 ? 0 : 1 / d
                appendLE(&out, Float16(d).bitPattern)
                for x in xs { out.append(UInt8(bitPattern: Int8((x * inv).rounded()))) }
            }
        case .q4_0:
            for block in stride(from: 0, to: values.count, by: 32) {
                let xs = Array(values[block..<block + 32])
                var maxValue: Float = 0
                for x in xs where abs(x) > abs(maxValue) { maxValue = x }
                let d = maxValue / -8
                let inv: Float = d == 0 ? 0 : 1 / d
                appendLE(&out, Float16(d).bitPattern)
                for j in 0..<16 {
                    let lo = UInt8(min(15, max(0, (xs[j] * inv + 8.5).rounded(.down))))
                    let hi = UInt8(min(15, max(0, (xs[j + 16] * inv + 8.5).rounded(.down))))
                    out.append(lo | hi << 4)
                }
            }
        case .q4_1:
            for block in stride(from: 0, to: values.count, by: 32) {
                let xs = Array(values[block..<block + 32])
                let lo = xs.min() ?? 0, hi = xs.max() ?? 0
                let d = (hi - lo) / 15
                let inv: Float = d == 0 ? 0 : 1 / d
                appendLE(&out, Float16(d).bitPattern)
                appendLE(&out, Float16(lo).bitPattern)
                for j in 0..<16 {
                    let a = UInt8(min(15, max(0, ((xs[j] - lo) * inv + 0.5).rounded(.down))))
                    let b = UInt8(min(15, max(0, ((xs[j + 16] - lo) * inv + 0.5).rounded(.down))))
                    out.append(a | b << 4)
                }
            }
        default:
            preconditionFailure("ReferenceQuantizer does not write \(type)")
        }
        return out
    }

    private static func appendLE<T: FixedWidthInteger>(_ out: inout [UInt8], _ value: T) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }
}
