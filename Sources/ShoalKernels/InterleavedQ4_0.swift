import ShoalGGUF
import _Builtin_intrinsics.intel

/// Q4_0 for the fast path: Q4_1's layout (`Q4_1Block`) with the offset `m = -8 d` (exact in half precision), since
/// a Q4_0 weight is `d * (q - 8)`. Per group of 16 rows and block of 32 columns (320 bytes): 16 half `d`, 16 half
/// `-8 d`, then the file's 16 quant bytes of each row spread over four 64-byte vectors as in `Q4_1Block`.
struct Q4_0Block: InterleavedFileBlock, OffsetWeightsBlock {
    static var weightType: GGMLType { .q4_0 }
    static var bytes: Int { 320 }
    static var readsOffsetActivations: Bool { false }

    static func pack(_ source: UnsafeRawPointer, row r: Int, into out: UnsafeMutableRawPointer) {
        let dBits = source.loadUnaligned(as: UInt16.self)
        out.storeBytes(of: dBits, toByteOffset: 2 * r, as: UInt16.self)
        out.storeBytes(of: Float16(-8 * Float(Float16(bitPattern: dBits))).bitPattern, toByteOffset: 32 + 2 * r, as: UInt16.self)
        Q4_1Block.packNibbles(source + 2, row: r, into: out)
    }

    let weights: OffsetBlockWeights

    @inline(__always)
    init(_ base: UnsafeRawPointer) {
        weights = Q4_1Block(base).weights
    }
}
