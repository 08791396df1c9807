/// IEEE half (F16) bits to Float; compiles to `vcvtph2ps` on CPUs with F16C.
@inline(__always)
package func floatFromHalf(_ bits: UInt16) -> Float {
    Float(Float16(bitPattern: bits))
}

/// Scalar twin of `floatFromHalf`, written out bit by bit (subnormals, infinities and NaN included).
package func floatFromHalfReference(_ bits: UInt16) -> Float {
    let sign = UInt32(bits >> 15) << 31
    let exponent = Int((bits >> 10) & 0x1F)
    let mantissa = UInt32(bits & 0x3FF)
    if exponent == 0x1F {
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    if exponent == 0 {
        // zero or subnormal: mantissa * 2^-24
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    }
    return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
}

/// Brain float (BF16) bits to Float: the top half of a Float.
@inline(__always)
package func floatFromBFloat16(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}
