package import ShoalGGUF
import _Builtin_intrinsics.intel

// The K-quants (Q4_K, Q5_K, Q6_K) on the fast path. Their file blocks span 256 columns with a scale (and for Q4_K /
// Q5_K a minimum) per sub-block of 32 (Q6_K: of 16), each a small integer times a half-precision super-block
// factor. The fast path computes in the int8 kernels' 32-column blocks, but its layouts keep the super-block's
// factors and the sub-blocks' integer scales as the file does (a stored block spans the 256 columns) and multiply
// them in float32 as a block loads, exactly: the products are the file's weights times the int8 activations, and
// the copies are the file's size (Q6_K) or 2-3% over it (Q4_K, Q5_K: a byte per sub-block scale and minimum).

/// One 32-column block of a K-quant row as the fast path computes with it: its unsigned integer values `q`
/// (`productFactors` gives the factors that make them weights).
package struct KQuantSubBlock {
    package var values: SIMD32<UInt8>

    /// Block b (columns `32b ..< 32b + 32`) of the K-quant row at `row`.
    package init(_ type: GGMLType, row: UnsafeRawPointer, block b: Int) {
        let j = b % 8
        values = SIMD32<UInt8>()
        switch type {
        case .q4_K, .q5_K:
            let five = type == .q5_K
            let source = row + (b / 8) * (five ? 176 : 144)
            // Sub-block j: the low (j even) or high (j odd) nibbles of quant bytes 32(j/2) ..< 32(j/2) + 32.
            let quants = source + (five ? 48 : 16) + 32 * (j / 2)
            for i in 0..<32 {
                let byte = quants.load(fromByteOffset: i, as: UInt8.self)
                var q = j % 2 == 0 ? byte & 0xF : byte >> 4
                if five { q |= ((source.load(fromByteOffset: 16 + i, as: UInt8.self) >> UInt8(j)) & 1) << 4 }
                values[i] = q
            }
        case .q6_K:
            let source = row + (b / 8) * 210
            // Element e = 128n + 32k + l (l < 32) of the super-block: low bits from ql[64n + l + 32(k % 2)]
            // (nibble k / 2), high two bits from qh[32n + l] at bit 2k.
            let n = j / 4, k = j % 4
            for l in 0..<32 {
                let low = source.load(fromByteOffset: 64 * n + l + 32 * (k % 2), as: UInt8.self)
                let high = source.load(fromByteOffset: 128 + 32 * n + l, as: UInt8.self)
                values[l] = (k < 2 ? low & 0xF : low >> 4) | ((high >> UInt8(2 * k)) & 3) << 4
            }
        default:
            preconditionFailure("\(type) is not a K-quant")
        }
    }

    /// Block b's factors, exact products of the file's: weight i is `low * q[i] + offset` for i < 16 and `high * q[i]
    /// + offset` for i >= 16, with `low = high = d * sc` and `offset = -dmin * m` (Q4_K, Q5_K), or `low`, `high` the
    /// two halves' `d * sc` and the weight `scale * (q[i] - 32)` (Q6_K, offset 0). The fast path's layouts keep `d`,
    /// `dmin` and the integer scales and multiply them in float32, exactly (an 11-bit significand times an integer
    /// of at most 8 bits).
    package static func productFactors(_ type: GGMLType, row: UnsafeRawPointer, block b: Int) -> (Double, Double, Double) {
        precondition(type == .q4_K || type == .q5_K || type == .q6_K)
        if type == .q6_K {
            let source = row + (b / 8) * 210, j = b % 8
            let d = Double(Float16(bitPattern: source.loadUnaligned(fromByteOffset: 208, as: UInt16.self)))
            return (d * Double(source.load(fromByteOffset: 192 + 2 * j, as: Int8.self)),
                    d * Double(source.load(fromByteOffset: 193 + 2 * j, as: Int8.self)), 0)
        }
        let source = row + (b / 8) * (type == .q5_K ? 176 : 144)
        let d = Double(Float16(bitPattern: source.loadUnaligned(as: UInt16.self)))
        let dmin = Double(Float16(bitPattern: source.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        let (sc, m) = scaleMinK4Reference(b % 8, source + 4)
        return (d * Double(sc), d * Double(sc), -(dmin * Double(m)))
    }

    /// The 16 bytes of Q4_1's nibble order for `values` (low nibble of byte i: element i, high: element i + 16),
    /// each value's bits 0-3.
    var nibbleBytes: SIMD16<UInt8> {
        var out = SIMD16<UInt8>()
        for i in 0..<16 { out[i] = (values[i] & 0xF) | (values[i + 16] & 0xF) << 4 }
        return out
    }

    /// The fifth bits (bit 4) of 32 five-bit values, gathered into one 32-bit word as `Q5_KBlock` and `Q5_0Block`
    /// read it: value `4j + k` at bit `j` of byte k, value `16 + 4j + k` at bit `4 + j` of byte k.
    static func fifthBitWord(_ values: SIMD32<UInt8>) -> UInt32 {
        var bits: UInt32 = 0
        for e in 0..<32 { bits |= UInt32((values[e] >> 4) & 1) << UInt32(e) }
        return fifthBitWord(bits: bits)
    }

    /// `fifthBitWord` from the 32 fifth bits as a file's `qh` holds them (bit e: value e's).
    static func fifthBitWord(bits: UInt32) -> UInt32 {
        var word: UInt32 = 0
        for i in 0..<16 {
            let shift = UInt32(8 * (i % 4) + i / 4)
            word |= ((bits >> UInt32(i)) & 1) << shift | ((bits >> UInt32(i + 16)) & 1) << (shift + 4)
        }
        return word
    }

    /// The top two bits (4 and 5) of values `16 half ..< 16 half + 16`, gathered into one 32-bit word as
    /// `Q6_KBlock` reads it: value `16 half + 4j + k` at bits `2j, 2j + 1` of byte k.
    func topTwoBitsWord(half: Int) -> UInt32 {
        var word: UInt32 = 0
        for i in 0..<16 { word |= UInt32((values[16 * half + i] >> 4) & 3) << UInt32(8 * (i % 4) + 2 * (i / 4)) }
        return word
    }
}

/// Q4_K for the fast path, 2368 bytes per 16 rows and 256 columns (4.625 bits per weight against the file's 4.5):
/// the super-block's 16 half `d`, then its 16 half `dmin`, then the 8 sub-blocks' 6-bit scales `sc` (one byte per row,
/// 16 per sub-block), their minimums `m` likewise, then each sub-block's nibbles as in `Q4_1Block`. A block's factors
/// `d * sc` and `-dmin * m` are multiplied in float32 when it is loaded, exactly (an 11-bit significand times a 6-bit
/// integer), so the products are the file's weights times the int8 activations.
struct Q4_KBlock: OffsetWeightsBlock {
    static var weightType: GGMLType { .q4_K }
    static var bytes: Int { 2368 }
    static var subBlocks: Int { 8 }
    static var readsOffsetActivations: Bool { false }

    static func pack(row: UnsafeRawPointer, block s: Int, lane r: Int, into out: UnsafeMutableRawPointer) {
        packFactors(row + s * 144, lane: r, into: out)
        for j in 0..<8 {
            let values = KQuantSubBlock(.q4_K, row: row, block: 8 * s + j)
            withUnsafeBytes(of: values.nibbleBytes) { Q4_1Block.packNibbles($0.baseAddress!, row: r, into: out, at: 320 + 256 * j) }
        }
    }

    /// Writes lane r's super-block factors (the first 320 bytes, shared with `Q5_KBlock`): half `d` and `dmin` at
    /// `2r` and `32 + 2r`, sub-block j's `sc` and `m` at `64 + 16j + r` and `192 + 16j + r`.
    static func packFactors(_ source: UnsafeRawPointer, lane r: Int, into out: UnsafeMutableRawPointer) {
        out.storeBytes(of: source.loadUnaligned(as: UInt16.self), toByteOffset: 2 * r, as: UInt16.self)
        out.storeBytes(of: source.loadUnaligned(fromByteOffset: 2, as: UInt16.self), toByteOffset: 32 + 2 * r, as: UInt16.self)
        for j in 0..<8 {
            let (sc, m) = scaleMinK4Reference(j, source + 4)
            out.storeBytes(of: sc, toByteOffset: 64 + 16 * j + r, as: UInt8.self)
            out.storeBytes(of: m, toByteOffset: 192 + 16 * j + r, as: UInt8.self)
        }
    }

    /// Sub-block j's factors `d * sc` and `-dmin * m` from `packFactors`' header at `base`, multiplied exactly.
    @inline(__always)
    static func factors(_ base: UnsafeRawPointer, sub j: Int) -> (d: __m512, m: __m512) {
        let d = _mm512_cvtph_ps(base.loadUnaligned(as: __m256i.self))
        let dmin = _mm512_cvtph_ps(base.loadUnaligned(fromByteOffset: 32, as: __m256i.self))
        let sc = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(base.loadUnaligned(fromByteOffset: 64 + 16 * j, as: __m128i.self)))
        let m = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(base.loadUnaligned(fromByteOffset: 192 + 16 * j, as: __m128i.self)))
        return (_mm512_mul_ps(d, sc), _mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(dmin, m)))
    }

    let weights: OffsetBlockWeights

    @inline(__always)
    init(_ base: UnsafeRawPointer, sub j: Int) {
        let (d, m) = Self.factors(base, sub: j)
        weights = OffsetBlockWeights(nibbles: base + 320 + 256 * j, d: d, m: m)
    }
}

/// Q5_K for the fast path, 2880 bytes per 16 rows and 256 columns (5.625 bits per weight against the file's 5.5):
/// `Q4_KBlock`'s 320 bytes of super-block factors, then per sub-block 320 bytes: the low four bits of each value as
/// in `Q4_1Block`, then one 64-byte vector of fifth bits, row r's 32 in lane r (`KQuantSubBlock.fifthBitWord`), so
/// that for nibble vector j, shifting the word by `4 - j` (low nibbles) or `-j` (high nibbles) puts each byte's fifth
/// bit at bit 4.
struct Q5_KBlock: OffsetWeightsBlock {
    static var weightType: GGMLType { .q5_K }
    static var bytes: Int { 2880 }
    static var subBlocks: Int { 8 }
    static var readsOffsetActivations: Bool { false }

    static func pack(row: UnsafeRawPointer, block s: Int, lane r: Int, into out: UnsafeMutableRawPointer) {
        Q4_KBlock.packFactors(row + s * 176, lane: r, into: out)
        for j in 0..<8 {
            let values = KQuantSubBlock(.q5_K, row: row, block: 8 * s + j)
            let sub = 320 + 320 * j
            withUnsafeBytes(of: values.nibbleBytes) { Q4_1Block.packNibbles($0.baseAddress!, row: r, into: out, at: sub) }
            out.storeBytes(of: KQuantSubBlock.fifthBitWord(values.values), toByteOffset: sub + 256 + 4 * r, as: UInt32.self)
        }
    }

    let weights: OffsetBlockWeights

    @inline(__always)
    init(_ base: UnsafeRawPointer, sub j: Int) {
        let (d, m) = Q4_KBlock.factors(base, sub: j)
        weights = OffsetBlockWeights(nibbles: base + 320 + 320 * j, fifthBits: base + 576 + 320 * j, d: d, m: m)
    }
}

extension OffsetBlockWeights {
    /// Loads a five-bit block (`Q5_KBlock`, `Q5_1Block`, `Q5_0Block`): the low four bits of the values at `nibbles`
    /// (four vectors, as in `Q4_1Block`), their fifth bits at `fifthBits` (`KQuantSubBlock.fifthBitWord`).
    @inline(__always)
    init(nibbles: UnsafeRawPointer, fifthBits: UnsafeRawPointer, d: __m512, m: __m512) {
        let nibble = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10)
        let v0 = nibbles.loadUnaligned(as: __m512i.self)
        let v1 = nibbles.loadUnaligned(fromByteOffset: 64, as: __m512i.self)
        let v2 = nibbles.loadUnaligned(fromByteOffset: 128, as: __m512i.self)
        let v3 = nibbles.loadUnaligned(fromByteOffset: 192, as: __m512i.self)
        let h = fifthBits.loadUnaligned(as: __m512i.self)
        @inline(__always) func low(_ v: __m512i, _ fifth: __m512i) -> __m512i {
            _mm512_or_si512(_mm512_and_si512(v, nibble), _mm512_and_si512(fifth, bit4))
        }
        @inline(__always) func high(_ v: __m512i, _ fifth: __m512i) -> __m512i {
            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v, 4), nibble), _mm512_and_si512(fifth, bit4))
        }
        self.init(
            l0: low(v0, _mm512_slli_epi32(h, 4)), l1: low(v1, _mm512_slli_epi32(h, 3)),
            l2: low(v2, _mm512_slli_epi32(h, 2)), l3: low(v3, _mm512_slli_epi32(h, 1)),
            h0: high(v0, h), h1: high(v1, _mm512_srli_epi32(h, 1)),
            h2: high(v2, _mm512_srli_epi32(h, 2)), h3: high(v3, _mm512_srli_epi32(h, 3)),
            d: d, m: m)
    }
}

/// Q6_K for the fast path, 3360 bytes per 16 rows and 256 columns (the file's 6.5625 bits per weight): the
/// super-block's 16 half `d`; then per sub-block of 32 columns the 16 rows' signed byte scales of its first 16
/// values and then of its last 16 (256 bytes in all); then per sub-block 384 bytes: the low four bits of each value
/// as in `Q4_1Block`, then two 64-byte vectors of the top two bits (values 0..<16, then 16..<32; row r's 32 bits in
/// lane r, `KQuantSubBlock.topTwoBitsWord`). A weight is `d * sc * (q - 32)`: `d * sc` is multiplied exactly in
/// float32 as a block loads, and the kernel multiplies the unsigned q and subtracts 32 times each half's activation
/// sum.
struct Q6_KBlock: InterleavedBlock {
    static var weightType: GGMLType { .q6_K }
    static var bytes: Int { 3360 }
    static var subBlocks: Int { 8 }
    static var readsOffsetActivations: Bool { false }

    static func pack(row: UnsafeRawPointer, block s: Int, lane r: Int, into out: UnsafeMutableRawPointer) {
        let source = row + s * 210
        out.storeBytes(of: source.loadUnaligned(fromByteOffset: 208, as: UInt16.self), toByteOffset: 2 * r, as: UInt16.self)
        for j in 0..<8 {
            out.storeBytes(of: source.load(fromByteOffset: 192 + 2 * j, as: UInt8.self), toByteOffset: 32 + 32 * j + r, as: UInt8.self)
            out.storeBytes(of: source.load(fromByteOffset: 193 + 2 * j, as: UInt8.self), toByteOffset: 48 + 32 * j + r, as: UInt8.self)
            let values = KQuantSubBlock(.q6_K, row: row, block: 8 * s + j)
            let sub = 288 + 384 * j
            withUnsafeBytes(of: values.nibbleBytes) { Q4_1Block.packNibbles($0.baseAddress!, row: r, into: out, at: sub) }
            out.storeBytes(of: values.topTwoBitsWord(half: 0), toByteOffset: sub + 256 + 4 * r, as: UInt32.self)
            out.storeBytes(of: values.topTwoBitsWord(half: 1), toByteOffset: sub + 320 + 4 * r, as: UInt32.self)
        }
    }

    let l0, l1, l2, l3, h0, h1, h2, h3: __m512i
    let scaleLow, scaleHigh: __m512

    @inline(__always)
    init(_ base: UnsafeRawPointer, sub j: Int) {
        let nibble = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30)
        let values = base + 288 + 384 * j
        let v0 = values.loadUnaligned(as: __m512i.self)
        let v1 = values.loadUnaligned(fromByteOffset: 64, as: __m512i.self)
        let v2 = values.loadUnaligned(fromByteOffset: 128, as: __m512i.self)
        let v3 = values.loadUnaligned(fromByteOffset: 192, as: __m512i.self)
        let hl = values.loadUnaligned(fromByteOffset: 256, as: __m512i.self)
        let hh = values.loadUnaligned(fromByteOffset: 320, as: __m512i.self)
        @inline(__always) func low(_ v: __m512i, _ top: __m512i) -> __m512i {
            _mm512_or_si512(_mm512_and_si512(v, nibble), _mm512_and_si512(top, bits45))
        }
        @inline(__always) func high(_ v: __m512i, _ top: __m512i) -> __m512i {
            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v, 4), nibble), _mm512_and_si512(top, bits45))
        }
        l0 = low(v0, _mm512_slli_epi32(hl, 4)); l1 = low(v1, _mm512_slli_epi32(hl, 2))
        l2 = low(v2, hl); l3 = low(v3, _mm512_srli_epi32(hl, 2))
        h0 = high(v0, _mm512_slli_epi32(hh, 4)); h1 = high(v1, _mm512_slli_epi32(hh, 2))
        h2 = high(v2, hh); h3 = high(v3, _mm512_srli_epi32(hh, 2))
        let d = _mm512_cvtph_ps(base.loadUnaligned(as: __m256i.self))
        let scales = base + 32 + 32 * j
        scaleLow = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(scales.loadUnaligned(as: __m128i.self))))
        scaleHigh = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(scales.loadUnaligned(fromByteOffset: 16, as: __m128i.self))))
    }

    /// `acc + x_scale * (scaleLow * (q - 32) . x[0..<16] + scaleHigh * (q - 32) . x[16..<32])`.
    @inline(__always)
    func product(_ a: Int8Activations, token t: Int, block b: Int, _ acc: __m512) -> __m512 {
        let x = a.values(token: t) + 32 * b
        var low = _mm512_add_epi32(dotBytes2(l0, broadcast4(x, 0), l1, broadcast4(x, 4)),
                                   dotBytes2(l2, broadcast4(x, 8), l3, broadcast4(x, 12)))
        var high = _mm512_add_epi32(dotBytes2(h0, broadcast4(x, 16), h1, broadcast4(x, 20)),
                                    dotBytes2(h2, broadcast4(x, 24), h3, broadcast4(x, 28)))
        let sums = a.halfSums(token: t) + 2 * b
        low = _mm512_sub_epi32(low, _mm512_set1_epi32(32 &* sums[0]))
        high = _mm512_sub_epi32(high, _mm512_set1_epi32(32 &* sums[1]))
        let xScale = _mm512_set1_ps(a.scales(token: t)[b])
        let scaled = _mm512_fmadd_ps(_mm512_cvtepi32_ps(low), _mm512_mul_ps(scaleLow, xScale), acc)
        return _mm512_fmadd_ps(_mm512_cvtepi32_ps(high), _mm512_mul_ps(scaleHigh, xScale), scaled)
    }
}
