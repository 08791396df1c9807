/// Cosines and sines of the rotary angles for a list of positions, computed once per step and
/// shared by every layer that uses the same base.
struct RotaryTable {
    private(set) var cosines: [Float] = []
    private(set) var sines: [Float] = []
    private(set) var pairs = 0

    /// Fills the table for `positions`: angle_i = position · scale · base^(-2i/dims) / factors[i], i in 0..<dims/2
    /// (float64, rounded once).
    /// - Parameters:
    ///   - scale: linear position scaling (1 / the scaling factor; 1: none).
    ///   - factors: per-frequency divisors (`rope_freqs.weight`), `dims / 2` of them; nil: all 1.
    ///   - magnitude: cosines and sines are multiplied by it (LongRoPE's attention factor).
    mutating func fill(positions: [Int32], dims: Int, base: Float, scale: Float = 1, factors: [Float]? = nil,
                       magnitude: Float = 1) {
        pairs = dims / 2
        let count = positions.count * pairs
        if cosines.count < count {
            cosines = [Float](repeating: 0, count: count)
            sines = [Float](repeating: 0, count: count)
        }
        var inverse = [Double](repeating: 0, count: pairs)
        for i in 0..<pairs {
            inverse[i] = Double(scale) / pow(Double(base), Double(2 * i) / Double(dims)) / Double(factors?[i] ?? 1)
        }
        for (t, position) in positions.enumerated() {
            for i in 0..<pairs {
                let angle = Double(position) * inverse[i]
                cosines[t * pairs + i] = Float(cos(angle) * Double(magnitude))
                sines[t * pairs + i] = Float(sin(angle) * Double(magnitude))
            }
        }
    }

    /// Rotates `heads` heads of `headDim` values at `x` for token `t` of the table.
    @inline(__always)
    func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, token t: Int, style: RoPEStyle) {
        cosines.withUnsafeBufferPointer { cosBuf in
            sines.withUnsafeBufferPointer { sinBuf in
                let c = cosBuf.baseAddress! + t * pairs
                let s = sinBuf.baseAddress! + t * pairs
                for h in 0..<heads {
                    let head = x + h * headDim
                    switch style {
                    case .norm:
                        for i in 0..<pairs {
                            let a = head[2 * i], b = head[2 * i + 1]
                            head[2 * i] = a * c[i] - b * s[i]
                            head[2 * i + 1] = a * s[i] + b * c[i]
                        }
                    case .neox:
                        for i in 0..<pairs {
                            let a = head[i], b = head[i + pairs]
                            head[i] = a * c[i] - b * s[i]
                            head[i + pairs] = a * s[i] + b * c[i]
                        }
                    }
                }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
