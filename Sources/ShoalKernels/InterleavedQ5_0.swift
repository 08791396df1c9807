import ShoalGGUF
import _Builtin_intrinsics.intel

/// Q5_0 for the fast path (most of Gemma 3's projections in its Q4_K_M file): `Q5_1Block`'s five-bit layout
/// without `m` (352 bytes per 16 rows and 32 columns, the file's 5.5 bits per weight):
/// - 16 half-precision `d` (one per row);
/// - the file's 16 quant bytes of each row (low four bits of each value) spread as in `Q4_1Block`;
/// - one 64-byte vector of fifth bits, row r's in lane r (`KQuantSubBlock.fifthBitWord`).
///
/// A weight is `d * q - 16 d`: Q4_1's form with `m = -16 d`, which the kernel makes from `d`. (An earlier layout
/// widened every value to a byte, 9 bits per weight: decode streams 40% fewer bytes with this one, and the kernel
/// assembles the fifth bit once per block for up to four tokens.)
struct Q5_0Block: InterleavedFileBlock, OffsetWeightsBlock {
    static var weightType: GGMLType { .q5_0 }
    static var bytes: Int { 352 }
    static var readsOffsetActivations: Bool { false }

    static func pack(_ source: UnsafeRawPointer, row r: Int, into out: UnsafeMutableRawPointer) {
        packFiveBit(d: source.loadUnaligned(as: UInt16.self), m: nil, quants: source + 6,
                    fifthBits: source.loadUnaligned(fromByteOffset: 2, as: UInt32.self), row: r, into: out)
    }

    /// Writes row r's share of a five-bit block: half-precision bits `d` and (unless nil, when the kernel makes it
    /// from `d`) `m`, the 16 quant bytes at `quants` (Q4_1's nibble order) and the 32 fifth bits of the file's `qh`
    /// (bit e: value e's).
    static func packFiveBit(d: UInt16, m: UInt16?, quants: UnsafeRawPointer, fifthBits: UInt32, row r: Int,
                            into out: UnsafeMutableRawPointer) {
        out.storeBytes(of: d, toByteOffset: 2 * r, as: UInt16.self)
        if let m { out.storeBytes(of: m, toByteOffset: 32 + 2 * r, as: UInt16.self) }
        let nibbles = m == nil ? 32 : 64
        Q4_1Block.packNibbles(quants, row: r, into: out, at: nibbles)
        out.storeBytes(of: KQuantSubBlock.fifthBitWord(bits: fifthBits), toByteOffset: nibbles + 256 + 4 * r, as: UInt32.self)
    }

    let weights: OffsetBlockWeights

    @inline(__always)
    init(_ base: UnsafeRawPointer) {
        let d = _mm512_cvtph_ps(base.loadUnaligned(as: __m256i.self))
        weights = OffsetBlockWeights(nibbles: base + 32, fifthBits: base + 288, d: d, m: _mm512_mul_ps(d, _mm512_set1_ps(-16)))
    }
}

/// Q5_1 for the fast path (what llama-quantize's Q5_K_M gives rows that are not a multiple of 256 long, and the
/// drafted output head's format), 384 bytes per 16 rows and 32 columns (the file's 6 bits per weight): 16 half `d`,
/// 16 half `m`, the quant bytes as in `Q4_1Block`, and one 64-byte vector of fifth bits (`KQuantSubBlock.fifthBitWord`).
struct Q5_1Block: InterleavedFileBlock, OffsetWeightsBlock {
    static var weightType: GGMLType { .q5_1 }
    static var bytes: Int { 384 }
    static var readsOffsetActivations: Bool { false }

    static func pack(_ source: UnsafeRawPointer, row r: Int, into out: UnsafeMutableRawPointer) {
        Q5_0Block.packFiveBit(d: source.loadUnaligned(as: UInt16.self), m: source.loadUnaligned(fromByteOffset: 2, as: UInt16.self),
                              quants: source + 8, fifthBits: source.loadUnaligned(fromByteOffset: 4, as: UInt32.self),
                              row: r, into: out)
    }

    let weights: OffsetBlockWeights

    @inline(__always)
    init(_ base: UnsafeRawPointer) {
        weights = OffsetBlockWeights(nibbles: base + 64, fifthBits: base + 320,
                                     d: _mm512_cvtph_ps(base.loadUnaligned(as: __m256i.self)),
                                     m: _mm512_cvtph_ps(base.loadUnaligned(fromByteOffset: 32, as: __m256i.self)))
    }
}
