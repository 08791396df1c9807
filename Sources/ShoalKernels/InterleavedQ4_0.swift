import ShoalGGUF
import _Builtin_intrinsics.intel

/// Q4_0 for the fast path: Q4_1's form with the offset `m = -8 d`, since a Q4_0 weight is `d * (q - 8)`; the kernel
/// makes `m` from `d`, so the copy has the file's 4.5 bits per weight. Per group of 16 rows and block of 32 columns
/// (288 bytes): 16 half `d`, then the file's 16 quant bytes of each row spread over four 64-byte vectors as in
/// `Q4_1Block`.
struct Q4_0Block: InterleavedFileBlock, OffsetWeightsBlock {
    static var weightType: GGMLType { .q4_0 }
    static var bytes: Int { 288 }
    static var readsOffsetActivations: Bool { false }

    static func pack(_ source: UnsafeRawPointer, row r: Int, into out: UnsafeMutableRawPointer) {
        out.storeBytes(of: source.loadUnaligned(as: UInt16.self), toByteOffset: 2 * r, as: UInt16.self)
        Q4_1Block.packNibbles(source + 2, row: r, into: out, at: 32)
    }

    let weights: OffsetBlockWeights

    @inline(__always)
    init(_ base: UnsafeRawPointer) {
        let d = _mm512_cvtph_ps(base.loadUnaligned(as: __m256i.self))
        weights = OffsetBlockWeights(nibbles: base + 32, d: d, m: _mm512_mul_ps(d, _mm512_set1_ps(-8)))
    }
}
