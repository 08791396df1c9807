import Glibc

// Rotary position embeddings. Angles follow Hugging Face transformers' float32 computation (the reference the
// fixtures come from): invFreq_i = 1 / base^(2i/ropeDims) rounded to Float, theta = Float(position) * invFreq_i
// rounded to Float, then cos/sin evaluated in Double and rounded once.

/// Fills `cos[i]`, `sin[i]` for the `ropeDims / 2` rotation angles at `position`.
@inline(__always)
func ropeAngles(ropeDims: Int, base: Float, freqScale: Float, position: Int,
                cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
    for i in 0..<ropeDims / 2 {
        let theta = Float(position) * ropeInverseFrequency(i, ropeDims: ropeDims, base: base, freqScale: freqScale)
        cos[i] = Float(Glibc.cos(Double(theta)))
        sin[i] = Float(Glibc.sin(Double(theta)))
    }
}

@inline(__always)
func ropeInverseFrequency(_ i: Int, ropeDims: Int, base: Float, freqScale: Float) -> Float {
    let exponent = Float(2 * i) / Float(ropeDims)
    return Float(1) / Float(Glibc.pow(Double(base), Double(exponent))) * freqScale
}

/// Precomputed cos/sin of the rotation angles for positions `0..<positions`, so a decode step computes no
/// trigonometry (the same table serves every layer).
public struct RoPETable: Sendable {
    /// Number of leading dimensions of each head that are rotated.
    public let ropeDims: Int
    /// The frequency base (`rope.freq_base`).
    public let base: Float
    /// Linear position scale (1 = none; `1 / rope.scaling.factor` for linear scaling).
    public let freqScale: Float
    /// Positions covered by the table; later positions are computed on the fly.
    public let positions: Int
    /// Per position: `ropeDims / 2` cosines then `ropeDims / 2` sines.
    let values: [Float]

    /// Computes the table for positions `0..<positions`.
    public init(ropeDims: Int, base: Float, positions: Int, freqScale: Float = 1) {
        precondition(ropeDims > 0 && ropeDims % 2 == 0, "RoPETable: ropeDims must be positive and even")
        self.ropeDims = ropeDims
        self.base = base
        self.freqScale = freqScale
        self.positions = max(0, positions)
        let half = ropeDims / 2
        values = [Float](unsafeUninitializedCapacity: self.positions * ropeDims) { buffer, count in
            for p in 0..<max(0, positions) {
                let start = buffer.baseAddress! + p * ropeDims
                ropeAngles(ropeDims: ropeDims, base: base, freqScale: freqScale, position: p, cos: start, sin: start + half)
            }
            count = max(0, positions) * ropeDims
        }
    }

    /// Calls `body(cos, sin)` with the angles at `position`.
    @inline(__always)
    func withAngles<R>(position: Int, _ body: (UnsafePointer<Float>, UnsafePointer<Float>) -> R) -> R {
        let half = ropeDims / 2
        if position >= 0 && position < positions {
            return values.withUnsafeBufferPointer { buffer in
                let start = buffer.baseAddress! + position * ropeDims
                return body(start, start + half)
            }
        }
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: ropeDims) { buffer in
            let start = buffer.baseAddress!
            ropeAngles(ropeDims: ropeDims, base: base, freqScale: freqScale, position: position, cos: start, sin: start + half)
            return body(start, start + half)
        }
    }
}

/// Rotates consecutive pairs `(x[2i], x[2i+1])` of the first `ropeDims` dimensions of each of `heads` heads
/// (`headDim` floats apart) by `theta_i = position * base^(-2i/ropeDims)` (llama.cpp's NORM mode).
public func ropeNorm(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, ropeDims: Int, position: Int, base: Float) {
    let half = ropeDims / 2
    withUnsafeTemporaryAllocation(of: Float.self, capacity: max(2, ropeDims)) { buffer in
        let cos = buffer.baseAddress!
        ropeAngles(ropeDims: ropeDims, base: base, freqScale: 1, position: position, cos: cos, sin: cos + half)
        applyRopeNorm(x, heads: heads, headDim: headDim, ropeDims: ropeDims, cos: cos, sin: cos + half)
    }
}

/// `ropeNorm` with angles from a precomputed table.
public func ropeNorm(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, table: RoPETable, position: Int) {
    table.withAngles(position: position) { cos, sin in
        applyRopeNorm(x, heads: heads, headDim: headDim, ropeDims: table.ropeDims, cos: cos, sin: sin)
    }
}

/// Rotates pairs `(x[i], x[i + ropeDims/2])` of the first `ropeDims` dimensions of each head by `theta_i`
/// (llama.cpp's NEOX mode, Hugging Face's `rotate_half`).
public func ropeNeox(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, ropeDims: Int, position: Int, base: Float) {
    let half = ropeDims / 2
    withUnsafeTemporaryAllocation(of: Float.self, capacity: max(2, ropeDims)) { buffer in
        let cos = buffer.baseAddress!
        ropeAngles(ropeDims: ropeDims, base: base, freqScale: 1, position: position, cos: cos, sin: cos + half)
        applyRopeNeox(x, heads: heads, headDim: headDim, ropeDims: ropeDims, cos: cos, sin: cos + half)
    }
}

/// `ropeNeox` with angles from a precomputed table.
public func ropeNeox(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, table: RoPETable, position: Int) {
    table.withAngles(position: position) { cos, sin in
        applyRopeNeox(x, heads: heads, headDim: headDim, ropeDims: table.ropeDims, cos: cos, sin: sin)
    }
}

@inline(__always)
func applyRopeNorm(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, ropeDims: Int,
                   cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
    for h in 0..<heads {
        let v = x + h * headDim
        for i in 0..<ropeDims / 2 {
            let a = v[2 * i], b = v[2 * i + 1]
            v[2 * i] = a * cos[i] - b * sin[i]
            v[2 * i + 1] = a * sin[i] + b * cos[i]
        }
    }
}

@inline(__always)
func applyRopeNeox(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, ropeDims: Int,
                   cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
    let half = ropeDims / 2
    for h in 0..<heads {
        let v = x + h * headDim
        for i in 0..<half {
            let a = v[i], b = v[i + half]
            v[i] = a * cos[i] - b * sin[i]
            v[i + half] = a * sin[i] + b * cos[i]
        }
    }
}

/// Scalar twin of `ropeNorm`: angles in Double straight from the formula.
package func ropeNormReference(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, ropeDims: Int, position: Int, base: Float) {
    for h in 0..<heads {
        let v = x + h * headDim
        for i in 0..<ropeDims / 2 {
            let theta = Double(position) * Glibc.pow(Double(base), -2 * Double(i) / Double(ropeDims))
            let a = Double(v[2 * i]), b = Double(v[2 * i + 1])
            v[2 * i] = Float(a * Glibc.cos(theta) - b * Glibc.sin(theta))
            v[2 * i + 1] = Float(a * Glibc.sin(theta) + b * Glibc.cos(theta))
        }
    }
}

/// Scalar twin of `ropeNeox`: angles in Double straight from the formula.
package func ropeNeoxReference(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, ropeDims: Int, position: Int, base: Float) {
    let half = ropeDims / 2
    for h in 0..<heads {
        let v = x + h * headDim
        for i in 0..<half {
            let theta = Double(position) * Glibc.pow(Double(base), -2 * Double(i) / Double(ropeDims))
            let a = Double(v[i]), b = Double(v[i + half])
            v[i] = Float(a * Glibc.cos(theta) - b * Glibc.sin(theta))
            v[i + half] = Float(a * Glibc.sin(theta) + b * Glibc.cos(theta))
        }
    }
}
