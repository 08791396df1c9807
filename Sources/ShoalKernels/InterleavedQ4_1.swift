import ShoalGGUF
import _Builtin_intrinsics.intel

/// Q4_1 for the fast path. Per group of 16 rows and block of 32 columns (320 bytes):
/// - 16 half-precision `d` (one per row), then 16 half-precision `m`;
/// - four 64-byte vectors; vector j holds, in 32-bit lane r, bytes `4j ..< 4j+4` of row r's 16 quant bytes.
///   Q4_1 keeps element i in the low nibble of byte i and element i+16 in its high nibble, so the low nibbles of
///   vector j are elements `4j ..< 4j+4` and the high nibbles elements `16+4j ..< 16+4j+4`.
/// The bytes are the file's own (only moved), so results are as exact as the weights.
struct Q4_1Block: InterleavedFileBlock, OffsetWeightsBlock {
    static var weightType: GGMLType { .q4_1 }
    static var bytes: Int { 320 }
    static var readsOffsetActivations: Bool { false }

    static func pack(_ source: UnsafeRawPointer, row r: Int, into out: UnsafeMutableRawPointer) {
        out.storeBytes(of: source.loadUnaligned(as: UInt16.self), toByteOffset: 2 * r, as: UInt16.self)
        out.storeBytes(of: source.loadUnaligned(fromByteOffset: 2, as: UInt16.self), toByteOffset: 32 + 2 * r, as: UInt16.self)
        packNibbles(source + 4, row: r, into: out)
    }

    /// Spreads row r's 16 quant bytes over the four 64-byte vectors at `offset` (after the 64 bytes of `d` and `m`,
    /// or the 32 of `d` alone in layouts whose `m` follows from `d`).
    static func packNibbles(_ quants: UnsafeRawPointer, row r: Int, into out: UnsafeMutableRawPointer, at offset: Int = 64) {
        for j in 0..<4 {
            out.storeBytes(of: quants.loadUnaligned(fromByteOffset: 4 * j, as: UInt32.self),
                           toByteOffset: offset + 64 * j + 4 * r, as: UInt32.self)
        }
    }

    let weights: OffsetBlockWeights

    @inline(__always)
    init(_ base: UnsafeRawPointer) {
        weights = OffsetBlockWeights(nibbles: base + 64, d: _mm512_cvtph_ps(base.loadUnaligned(as: __m256i.self)),
                                     m: _mm512_cvtph_ps(base.loadUnaligned(fromByteOffset: 32, as: __m256i.self)))
    }
}

extension OffsetBlockWeights {
    /// Loads the four 64-byte nibble vectors at `nibbles` (`Q4_1Block`'s order), with factors `d` and `m`.
    @inline(__always)
    init(nibbles: UnsafeRawPointer, d: __m512, m: __m512) {
        let nibble = _mm512_set1_epi8(0x0F)
        let v0 = nibbles.loadUnaligned(as: __m512i.self)
        let v1 = nibbles.loadUnaligned(fromByteOffset: 64, as: __m512i.self)
        let v2 = nibbles.loadUnaligned(fromByteOffset: 128, as: __m512i.self)
        let v3 = nibbles.loadUnaligned(fromByteOffset: 192, as: __m512i.self)
        self.init(
            l0: _mm512_and_si512(v0, nibble), l1: _mm512_and_si512(v1, nibble),
            l2: _mm512_and_si512(v2, nibble), l3: _mm512_and_si512(v3, nibble),
            h0: _mm512_and_si512(_mm512_srli_epi16(v0, 4), nibble), h1: _mm512_and_si512(_mm512_srli_epi16(v1, 4), nibble),
            h2: _mm512_and_si512(_mm512_srli_epi16(v2, 4), nibble), h3: _mm512_and_si512(_mm512_srli_epi16(v3, 4), nibble),
            d: d, m: m)
    }
}

/// A layout whose product is `OffsetBlockWeights`' (the 4- and 5-bit types).
protocol OffsetWeightsBlock: InterleavedBlock {
    var weights: OffsetBlockWeights { get }
}

extension OffsetWeightsBlock {
    @inline(__always)
    func product(_ a: Int8Activations, token t: Int, block b: Int, _ acc: __m512) -> __m512 {
        weights.product(a, token: t, block: b, acc)
    }
}

/// One block of 16 rows whose weights are `d * q + m` with unsigned byte values q (Q4_1, and Q5_0 with
/// `m = -16 d`): `l0...l3` hold elements 0..<16 (4 per lane, vector j elements 4j..<4j+4), `h0...h3` elements 16..<32.
struct OffsetBlockWeights {
    let l0, l1, l2, l3, h0, h1, h2, h3: __m512i
    let d, m: __m512

    /// `acc + d * scale * (q . x) + m * sum` for token t's block b (values up to 31, see `dotBytes4`).
    @inline(__always)
    func product(_ a: Int8Activations, token t: Int, block b: Int, _ acc: __m512) -> __m512 {
        let x = a.values(token: t) + 32 * b
        let low = dotBytes4(l0, broadcast4(x, 0), l1, broadcast4(x, 4), l2, broadcast4(x, 8), l3, broadcast4(x, 12))
        let high = dotBytes4(h0, broadcast4(x, 16), h1, broadcast4(x, 20), h2, broadcast4(x, 24), h3, broadcast4(x, 28))
        let products = _mm512_cvtepi32_ps(_mm512_add_epi32(low, high))
        let scaled = _mm512_fmadd_ps(products, _mm512_mul_ps(d, _mm512_set1_ps(a.scales(token: t)[b])), acc)
        return _mm512_fmadd_ps(m, _mm512_set1_ps(a.sums(token: t)[b]), scaled)
    }
}
