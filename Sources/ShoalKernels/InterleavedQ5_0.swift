import ShoalGGUF
import _Builtin_intrinsics.intel

/// Q5_0 for the fast path (most of Gemma 3's projections in its Q4_K_M file), each weight widened to a byte
/// (0...31). Per group of 16 rows and block of 32 columns (576 bytes):
/// - 16 half-precision `d` (one per row), then 16 half-precision `-16 d` (the block's offset, exact in half);
/// - eight 64-byte vectors; vector j holds, in 32-bit lane r, row r's values `4j ..< 4j+4` (vectors 0...3) or
///   `16+4(j-4) ..< 16+4(j-4)+4` (vectors 4...7).
///
/// A weight is `d * q - 16 d`: Q4_1's form with `m = -16 d`. The copy is 36% larger than the file's blocks (a byte
/// per weight instead of 5/8), which saves assembling the fifth bit for every token.
struct Q5_0Block: InterleavedFileBlock {
    static var weightType: GGMLType { .q5_0 }
    static var bytes: Int { 576 }
    static var readsOffsetActivations: Bool { false }

    static func pack(_ source: UnsafeRawPointer, row r: Int, into out: UnsafeMutableRawPointer) {
        let dBits = source.loadUnaligned(as: UInt16.self)
        out.storeBytes(of: dBits, toByteOffset: 2 * r, as: UInt16.self)
        out.storeBytes(of: Float16(-16 * Float(Float16(bitPattern: dBits))).bitPattern, toByteOffset: 32 + 2 * r, as: UInt16.self)
        let highBits = source.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
        for i in 0..<16 {
            let byte = source.load(fromByteOffset: 6 + i, as: UInt8.self)
            let low = (byte & 0xF) | UInt8((highBits >> UInt32(i)) & 1) << 4
            let high = (byte >> 4) | UInt8((highBits >> UInt32(i + 16)) & 1) << 4
            // Element i goes to vector i / 4, element 16 + i to vector 4 + i / 4; lane r, byte i % 4.
            out.storeBytes(of: low, toByteOffset: 64 + 64 * (i / 4) + 4 * r + i % 4, as: UInt8.self)
            out.storeBytes(of: high, toByteOffset: 64 + 64 * (4 + i / 4) + 4 * r + i % 4, as: UInt8.self)
        }
    }

    let weights: OffsetBlockWeights

    @inline(__always)
    init(_ base: UnsafeRawPointer) {
        weights = OffsetBlockWeights(
            l0: base.loadUnaligned(fromByteOffset: 64, as: __m512i.self), l1: base.loadUnaligned(fromByteOffset: 128, as: __m512i.self),
            l2: base.loadUnaligned(fromByteOffset: 192, as: __m512i.self), l3: base.loadUnaligned(fromByteOffset: 256, as: __m512i.self),
            h0: base.loadUnaligned(fromByteOffset: 320, as: __m512i.self), h1: base.loadUnaligned(fromByteOffset: 384, as: __m512i.self),
            h2: base.loadUnaligned(fromByteOffset: 448, as: __m512i.self), h3: base.loadUnaligned(fromByteOffset: 512, as: __m512i.self),
            d: _mm512_cvtph_ps(base.loadUnaligned(as: __m256i.self)),
            m: _mm512_cvtph_ps(base.loadUnaligned(fromByteOffset: 32, as: __m256i.self)))
    }

    @inline(__always)
    func product(_ a: Int8Activations, token t: Int, block b: Int, _ acc: __m512) -> __m512 {
        weights.product(a, token: t, block: b, acc)
    }
}
