import _Builtin_intrinsics.intel

// Element-wise and reduction kernels on float vectors. Every one handles any count (a masked tail after the
// 16-lane main loop) and has a scalar `...Reference` twin that the tests compare against.

@inline(__always)
func tailMask(_ remaining: Int) -> __mmask16 {
    __mmask16(truncatingIfNeeded: (1 << remaining) &- 1)
}

/// Dot product of two float vectors.
public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    dotF32F32(a, b, count: count)
}

/// `y += alpha * x`.
public func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    let a = _mm512_set1_ps(alpha)
    var i = 0
    while i + 16 <= count {
        storeFloats16(_mm512_fmadd_ps(a, loadFloats16(x + i), loadFloats16(y + i)), y + i)
        i += 16
    }
    if i < count {
        let mask = tailMask(count - i)
        let v = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(mask, x + i), _mm512_maskz_loadu_ps(mask, y + i))
        _mm512_mask_storeu_ps(y + i, mask, v)
    }
}

/// `a += b`.
public func add(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 16 <= count {
        storeFloats16(_mm512_add_ps(loadFloats16(a + i), loadFloats16(b + i)), a + i)
        i += 16
    }
    if i < count {
        let mask = tailMask(count - i)
        _mm512_mask_storeu_ps(a + i, mask, _mm512_add_ps(_mm512_maskz_loadu_ps(mask, a + i), _mm512_maskz_loadu_ps(mask, b + i)))
    }
}

/// `x *= s`.
public func scale(_ x: UnsafeMutablePointer<Float>, by s: Float, count: Int) {
    let f = _mm512_set1_ps(s)
    var i = 0
    while i + 16 <= count {
        storeFloats16(_mm512_mul_ps(loadFloats16(x + i), f), x + i)
        i += 16
    }
    if i < count {
        let mask = tailMask(count - i)
        _mm512_mask_storeu_ps(x + i, mask, _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, x + i), f))
    }
}

/// RMS normalisation: `out[i] = x[i] / sqrt(mean(x²) + eps) * weight[i]` (the sum of squares in float lanes,
/// combined in Double). `out` may be `x`.
public func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, count: Int, eps: Float, _ out: UnsafeMutablePointer<Float>) {
    guard count > 0 else { return }
    var acc0 = _mm512_setzero_ps()
    var acc1 = _mm512_setzero_ps()
    var i = 0
    while i + 32 <= count {
        let v0 = loadFloats16(x + i)
        let v1 = loadFloats16(x + i + 16)
        acc0 = _mm512_fmadd_ps(v0, v0, acc0)
        acc1 = _mm512_fmadd_ps(v1, v1, acc1)
        i += 32
    }
    while i < count {
        let mask = tailMask(min(16, count - i))
        let v = _mm512_maskz_loadu_ps(mask, x + i)
        acc0 = _mm512_fmadd_ps(v, v, acc0)
        i += 16
    }
    let lanes = _mm512_add_ps(acc0, acc1)
    var sum = 0.0
    for lane in 0..<16 { sum += Double(lanes[lane]) }
    let meanSquare = Float(sum / Double(count))
    let s = _mm512_set1_ps(1 / (meanSquare + eps).squareRoot())
    i = 0
    while i + 16 <= count {
        storeFloats16(_mm512_mul_ps(_mm512_mul_ps(loadFloats16(x + i), s), loadFloats16(weight + i)), out + i)
        i += 16
    }
    if i < count {
        let mask = tailMask(count - i)
        let v = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(mask, x + i), s), _mm512_maskz_loadu_ps(mask, weight + i))
        _mm512_mask_storeu_ps(out + i, mask, v)
    }
}

/// `exp` of 16 lanes, within about 2 ulp; -inf gives 0, +inf gives inf, NaN stays NaN.
@inline(__always)
func exp16(_ input: __m512) -> __m512 {
    // Clamp with the constant first so that a NaN input survives (vmaxps returns its second operand on NaN).
    let x = _mm512_min_ps(_mm512_set1_ps(100), _mm512_max_ps(_mm512_set1_ps(-110), input))
    // Round to nearest by adding and subtracting 1.5 * 2^23.
    let magic = _mm512_set1_ps(12_582_912)
    let n = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341), magic), magic)
    var r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375), x)
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4), r)
    var p = _mm512_set1_ps(1.9875691500e-4)
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3))
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3))
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2))
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1))
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1))
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1)))
    // The clamp keeps n finite; scalef then overflows to inf (x >= 89) or underflows to 0 (x <= -104) as exp does.
    return _mm512_scalef_ps(p, n)
}

/// `exp` of each lane of a SIMD vector (the SIMD `exp` the kernels use), for tests and callers.
package func expLanes(_ x: SIMD16<Float>) -> SIMD16<Float> {
    exp16(x)
}

/// Softmax over `count` values in place (max subtracted first; an all -inf input gives NaN, like ggml).
public func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    guard count > 0 else { return }
    let (_, total) = exponentiateShifted(x, count: count)
    scale(x, by: Float(1 / total), count: count)
}

/// `x[i] = exp(x[i] - max)` in place: softmax without the division. Returns the maximum and the sum of the
/// exponentials (attention folds chunks of keys with them).
package func exponentiateShifted(_ x: UnsafeMutablePointer<Float>, count: Int) -> (max: Float, sum: Double) {
    guard count > 0 else { return (-.infinity, 0) }
    var maxv = _mm512_set1_ps(-.infinity)
    var i = 0
    while i + 16 <= count {
        maxv = _mm512_max_ps(maxv, loadFloats16(x + i))
        i += 16
    }
    if i < count {
        maxv = _mm512_mask_max_ps(maxv, tailMask(count - i), maxv, _mm512_maskz_loadu_ps(tailMask(count - i), x + i))
    }
    let top = _mm512_reduce_max_ps(maxv)
    let m = _mm512_set1_ps(top)
    var sum0 = _mm512_setzero_ps()
    i = 0
    while i + 16 <= count {
        let e = exp16(_mm512_sub_ps(loadFloats16(x + i), m))
        storeFloats16(e, x + i)
        sum0 = _mm512_add_ps(sum0, e)
        i += 16
    }
    if i < count {
        let mask = tailMask(count - i)
        let e = _mm512_maskz_mov_ps(mask, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, x + i), m)))
        _mm512_mask_storeu_ps(x + i, mask, e)
        sum0 = _mm512_add_ps(sum0, e)
    }
    var total = 0.0
    for lane in 0..<16 { total += Double(sum0[lane]) }
    return (top, total)
}

@inline(__always)
func silu16(_ g: __m512) -> __m512 {
    _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1), exp16(_mm512_sub_ps(_mm512_setzero_ps(), g))))
}

@inline(__always)
func geluTanh16(_ g: __m512) -> __m512 {
    // 0.5 x (1 + tanh(z)) with tanh(z) = 1 - 2 / (1 + exp(2z)), so 0.5 x (1 + tanh z) = x - x / (1 + exp(2z)).
    let cube = _mm512_mul_ps(_mm512_mul_ps(g, g), g)
    let z = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654), _mm512_fmadd_ps(_mm512_set1_ps(0.044715), cube, g))
    let e = exp16(_mm512_add_ps(z, z))
    return _mm512_sub_ps(g, _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1), e)))
}

/// `gate[i] = silu(gate[i]) * up[i]` with `silu(v) = v / (1 + exp(-v))` (SwiGLU).
public func siluMul(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 16 <= count {
        storeFloats16(_mm512_mul_ps(silu16(loadFloats16(gate + i)), loadFloats16(up + i)), gate + i)
        i += 16
    }
    if i < count {
        let mask = tailMask(count - i)
        let v = _mm512_mul_ps(silu16(_mm512_maskz_loadu_ps(mask, gate + i)), _mm512_maskz_loadu_ps(mask, up + i))
        _mm512_mask_storeu_ps(gate + i, mask, v)
    }
}

/// `gate[i] = gelu(gate[i]) * up[i]` with the tanh approximation of GELU (GeGLU, as in Gemma).
public func geluTanhMul(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 16 <= count {
        storeFloats16(_mm512_mul_ps(geluTanh16(loadFloats16(gate + i)), loadFloats16(up + i)), gate + i)
        i += 16
    }
    if i < count {
        let mask = tailMask(count - i)
        let v = _mm512_mul_ps(geluTanh16(_mm512_maskz_loadu_ps(mask, gate + i)), _mm512_maskz_loadu_ps(mask, up + i))
        _mm512_mask_storeu_ps(gate + i, mask, v)
    }
}

// MARK: - Scalar twins

/// Scalar twin of `dot` (Double sum).
package func dotReference(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var sum = 0.0
    for i in 0..<count { sum += Double(a[i]) * Double(b[i]) }
    return Float(sum)
}

/// Scalar twin of `rmsNorm`.
package func rmsNormReference(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, count: Int, eps: Float, _ out: UnsafeMutablePointer<Float>) {
    var sum = 0.0
    for i in 0..<count { sum += Double(x[i]) * Double(x[i]) }
    let s = 1 / (sum / Double(count) + Double(eps)).squareRoot()
    for i in 0..<count { out[i] = Float(Double(x[i]) * s * Double(weight[i])) }
}

/// Scalar twin of `softmaxInPlace`.
package func softmaxInPlaceReference(_ x: UnsafeMutablePointer<Float>, count: Int) {
    guard count > 0 else { return }
    var m = -Float.infinity
    for i in 0..<count { m = max(m, x[i]) }
    var sum = 0.0
    for i in 0..<count { sum += libmExp(Double(x[i] - m)) }
    for i in 0..<count { x[i] = Float(libmExp(Double(x[i] - m)) / sum) }
}

/// Scalar twin of `siluMul`.
package func siluMulReference(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    for i in 0..<count {
        let g = Double(gate[i])
        gate[i] = Float(g / (1 + libmExp(-g)) * Double(up[i]))
    }
}

/// Scalar twin of `geluTanhMul`.
package func geluTanhMulReference(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    for i in 0..<count {
        let g = Double(gate[i])
        let gelu = 0.5 * g * (1 + libmTanh(0.7978845608028654 * (g + 0.044715 * g * g * g)))
        gate[i] = Float(gelu * Double(up[i]))
    }
}

/// `x[i] = cap · tanh(x[i] / cap)` (logit soft-capping, as Gemma 2 does to attention scores and logits).
public func softcap(_ x: UnsafeMutablePointer<Float>, count: Int, cap: Float) {
    let c = Double(cap)
    for i in 0..<count { x[i] = Float(c * libmTanh(Double(x[i]) / c)) }
}
