import ShoalGGUF
import _Builtin_intrinsics.intel

// The fast path's matmul: activations quantized to int8 once per call, weights repacked 16 rows at a time so that
// one `vpdpbusd` adds 4 byte products to each of 16 row sums (layouts: `Q4_0Block`, `Q4_1Block`, `Q5_0Block`,
// `Q8_0Block`).

/// Rows per interleaved group: one 512-bit register holds 4 bytes of each.
let interleavedGroupRows = 16

/// Tokens whose activations one pass over a thread's groups of rows reuses (`matmulInt8`).
let int8TokenTile = 64

/// How one weight type is laid out and multiplied on the fast path: the bytes of one block (32 columns) of a
/// group of 16 rows, interleaved so that one 512-bit register holds the same 4 weights of all 16 rows, and the
/// product of such a block with one token's int8 block.
protocol InterleavedBlock {
    /// The file's block type this layout is made from.
    static var weightType: GGMLType { get }
    /// Bytes per interleaved block of 16 rows (of `subBlocks` blocks of 32 columns).
    static var bytes: Int { get }
    /// Blocks of 32 columns one stored block holds (1; 8 for a layout that keeps a K-quant's 256-column super-block
    /// factors once, as the file does).
    static var subBlocks: Int { get }
    /// Whether `product` reads the activations' unsigned (plus 128) copy.
    static var readsOffsetActivations: Bool { get }
    /// Writes row r's share of stored block b (columns `32 subBlocks b ..< 32 subBlocks (b + 1)`) of a file row
    /// that starts at `row`.
    static func pack(row: UnsafeRawPointer, block b: Int, lane r: Int, into out: UnsafeMutableRawPointer)
    /// Loads 32-column block `sub` of the stored block at `base` and prepares it for products with any number of
    /// tokens.
    init(_ base: UnsafeRawPointer, sub: Int)
    /// `acc` plus the 16 rows' dot products with token t's block b.
    func product(_ a: Int8Activations, token t: Int, block b: Int, _ acc: __m512) -> __m512
}

/// A layout made from the file's blocks of 32 columns one to one (Q4_0, Q4_1, Q5_0, Q8_0).
protocol InterleavedFileBlock: InterleavedBlock {
    /// Writes row r's share of an interleaved block (`source`: that row's block in the file's format).
    static func pack(_ source: UnsafeRawPointer, row r: Int, into out: UnsafeMutableRawPointer)
    /// Loads an interleaved block and prepares it for products with any number of tokens.
    init(_ base: UnsafeRawPointer)
}

extension InterleavedFileBlock {
    static var subBlocks: Int { 1 }
    @inline(__always)
    init(_ base: UnsafeRawPointer, sub: Int) { self.init(base) }

    static func pack(row: UnsafeRawPointer, block b: Int, lane r: Int, into out: UnsafeMutableRawPointer) {
        pack(row + b * weightType.blockBytes, row: r, into: out)
    }
}

/// A weight matrix repacked for the int8 fast path: rows in groups of 16, each group's blocks consecutive, each
/// block laid out by `Block`. Made once at model load; it owns its memory.
final class InterleavedMatrix<Block: InterleavedBlock>: @unchecked Sendable {
    let rows: Int
    let columns: Int
    /// Blocks of 32 columns per row (what the activations are quantized in).
    let blocks: Int
    /// Stored blocks per group of 16 rows (`blocks / Block.subBlocks`).
    let storedBlocks: Int
    let storage: UnsafeMutableRawPointer
    private let memory: WeightMemory

    /// Repacks `w`; nil unless it is of `Block.weightType` with a row count that is a multiple of 16 and whole stored
    /// blocks of columns.
    init?(_ w: MatrixView) {
        guard w.type == Block.weightType, w.rows > 0, w.rows % interleavedGroupRows == 0,
              w.columns % (32 * Block.subBlocks) == 0 else { return nil }
        rows = w.rows
        columns = w.columns
        blocks = w.columns / 32
        storedBlocks = blocks / Block.subBlocks
        let groups = rows / interleavedGroupRows
        memory = WeightMemory(byteCount: groups * storedBlocks * Block.bytes)
        storage = memory.base
        for g in 0..<groups {
            for b in 0..<storedBlocks {
                let out = storage + (g * storedBlocks + b) * Block.bytes
                for r in 0..<interleavedGroupRows {
                    Block.pack(row: w.row(g * interleavedGroupRows + r), block: b, lane: r, into: out)
                }
            }
        }
    }

    /// Takes ownership of `memory`, already laid out by `Block` for `rows` x `columns` weights.
    init(adopting memory: WeightMemory, rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        blocks = columns / 32
        storedBlocks = blocks / Block.subBlocks
        self.memory = memory
        storage = memory.base
    }

    /// Bytes of the repacked copy (what one token's product streams).
    var byteCount: Int { rows / interleavedGroupRows * storedBlocks * Block.bytes }

    /// Rows `16g ..< 16g + 16` times tokens `firstToken ..< firstToken + tokens` (1...4 or 8): token t's 16 results go
    /// to `y[t * yStride ..< t * yStride + 16]`. Up to eight tokens share each loaded (and unpacked) block.
    @inline(__always)
    func multiply(group g: Int, _ a: Int8Activations, firstToken: Int, tokens: Int,
                  _ y: UnsafeMutablePointer<Float>, yStride: Int) {
        let group = UnsafeRawPointer(storage + g * storedBlocks * Block.bytes)
        let zero = _mm512_setzero_ps()
        if tokens == 8 {
            var first = (zero, zero, zero, zero), second = (zero, zero, zero, zero)
            for s in 0..<storedBlocks {
                for j in 0..<Block.subBlocks {
                    let block = Block(group + s * Block.bytes, sub: j), b = s * Block.subBlocks + j
                    Self.accumulate(block, a, firstToken: firstToken, block: b, &first)
                    Self.accumulate(block, a, firstToken: firstToken + 4, block: b, &second)
                }
            }
            Self.store(first, y, yStride: yStride)
            Self.store(second, y + 4 * yStride, yStride: yStride)
        } else if tokens == 4 {
            var sums = (zero, zero, zero, zero)
            for s in 0..<storedBlocks {
                for j in 0..<Block.subBlocks {
                    Self.accumulate(Block(group + s * Block.bytes, sub: j), a, firstToken: firstToken,
                                    block: s * Block.subBlocks + j, &sums)
                }
            }
            Self.store(sums, y, yStride: yStride)
        } else {
            for t in 0..<tokens {
                var f = _mm512_setzero_ps()
                for s in 0..<storedBlocks {
                    for j in 0..<Block.subBlocks {
                        f = Block(group + s * Block.bytes, sub: j).product(a, token: firstToken + t, block: s * Block.subBlocks + j, f)
                    }
                }
                storeFloats16Unaligned(f, y + t * yStride)
            }
        }
    }

    /// Adds four consecutive tokens' products with `block` to `sums`.
    @inline(__always)
    static func accumulate(_ block: Block, _ a: Int8Activations, firstToken t: Int, block b: Int,
                           _ sums: inout (__m512, __m512, __m512, __m512)) {
        sums.0 = block.product(a, token: t, block: b, sums.0)
        sums.1 = block.product(a, token: t + 1, block: b, sums.1)
        sums.2 = block.product(a, token: t + 2, block: b, sums.2)
        sums.3 = block.product(a, token: t + 3, block: b, sums.3)
    }

    /// Stores four consecutive tokens' 16 results.
    @inline(__always)
    static func store(_ sums: (__m512, __m512, __m512, __m512), _ y: UnsafeMutablePointer<Float>, yStride: Int) {
        storeFloats16Unaligned(sums.0, y)
        storeFloats16Unaligned(sums.1, y + yStride)
        storeFloats16Unaligned(sums.2, y + 2 * yStride)
        storeFloats16Unaligned(sums.3, y + 3 * yStride)
    }
}

/// `y[t*yStride + r] = dot(row r of w, x_t)` for all rows and `tokens` tokens, each x_t first quantized to int8
/// per block of 32 (`quantizeActivations`), as llama.cpp's CPU path does. Integer products are summed exactly and
/// scaled per block in float, so each token's results depend on that token alone, not on the batch.
func matmulInt8<Block: InterleavedBlock>(
    _ w: InterleavedMatrix<Block>, _ x: UnsafePointer<Float>, xStride: Int, tokens: Int,
    _ y: UnsafeMutablePointer<Float>, yStride: Int, pool: ComputePool
) {
    guard tokens > 0 else { return }
    let groups = w.rows / interleavedGroupRows
    let columns = w.columns
    let activationBytes = Int8Activations.byteCount(tokens: tokens, columns: columns)
    let threads = w.rows * columns * tokens < 65_536 ? 1 : pool.threadCount
    let chunks = threads == 1 ? 1 : min(groups, 4 * threads)
    // Thread 0 (the caller) quantizes x into its scratch before the other threads start; all only read it then.
    var quantized: Int8Activations?
    pool.runChunked(chunks: chunks, prologue: {
        let activations = Int8Activations(memory: pool.scratch(thread: 0, bytes: activationBytes), tokens: tokens, columns: columns)
        quantizeActivations(x, xStride: xStride, tokens: tokens, into: activations, offset: Block.readsOffsetActivations)
        quantized = activations
    }) { chunk, _ in
        let activations = quantized!
        // Tokens in tiles of `int8TokenTile`, each tile's activations reused by every group while still in cache
        // (a group-outer loop reread all tokens' activations from L2 for each group of 16 rows).
        let myGroups = partition(0..<groups, part: chunk, of: chunks, granule: 1)
        var tile = 0
        while tile < tokens {
            let tileEnd = min(tokens, tile + int8TokenTile)
            for g in myGroups {
                let out = y + g * interleavedGroupRows
                var t = tile
                while t < tileEnd {
                    let count = tileEnd - t >= 8 ? 8 : min(4, tileEnd - t)
                    w.multiply(group: g, activations, firstToken: t, tokens: count, out + t * yStride, yStride: yStride)
                    t += count
                }
            }
            tile = tileEnd
        }
    }
}

/// `acc + the 16 lanes' sums of 4 products` of unsigned bytes `a` with signed bytes `b` (`vpdpbusd`, or where the
/// build target lacks VNNI an AVX-512BW sequence; that one saturates 16-bit pair sums, so callers keep
/// `|a0 b0 + a1 b1| < 32768`).
@inline(__always)
func dotBytes(_ acc: __m512i, _ a: __m512i, _ b: __m512i) -> __m512i {
    #if SHOAL_VNNI
    return _mm512_dpbusd_epi32(acc, a, b)
    #else
    return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(a, b), _mm512_set1_epi16(1)))
    #endif
}

/// The 16 lanes' sums of 16 products: four `dotBytes` in one. Without VNNI the four `maddubs` add in 16 bits before
/// one widening `madd` (10 instructions instead of 12 per 256-bit half, and one dependency chain less), so callers
/// keep every sum of 8 byte products below 32768: unsigned weights up to 31 (`8 * 31 * 127 < 32768`).
@inline(__always)
func dotBytes4(_ a0: __m512i, _ b0: __m512i, _ a1: __m512i, _ b1: __m512i,
               _ a2: __m512i, _ b2: __m512i, _ a3: __m512i, _ b3: __m512i) -> __m512i {
    #if SHOAL_VNNI
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_dpbusd_epi32(
        _mm512_setzero_si512(), a0, b0), a1, b1), a2, b2), a3, b3)
    #else
    let pairs = _mm512_add_epi16(_mm512_add_epi16(_mm512_maddubs_epi16(a0, b0), _mm512_maddubs_epi16(a1, b1)),
                                 _mm512_add_epi16(_mm512_maddubs_epi16(a2, b2), _mm512_maddubs_epi16(a3, b3)))
    return _mm512_madd_epi16(pairs, _mm512_set1_epi16(1))
    #endif
}

/// The 16 lanes' sums of 8 products: two `dotBytes` in one, adding in 16 bits without VNNI, so callers keep every
/// sum of 4 byte products below 32768: unsigned weights up to 63 (`4 * 63 * 127 < 32768`).
@inline(__always)
func dotBytes2(_ a0: __m512i, _ b0: __m512i, _ a1: __m512i, _ b1: __m512i) -> __m512i {
    #if SHOAL_VNNI
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), a0, b0), a1, b1)
    #else
    return _mm512_madd_epi16(_mm512_add_epi16(_mm512_maddubs_epi16(a0, b0), _mm512_maddubs_epi16(a1, b1)),
                             _mm512_set1_epi16(1))
    #endif
}

/// Four bytes at `p + offset` broadcast to all 16 lanes.
@inline(__always)
func broadcast4(_ p: UnsafeRawPointer, _ offset: Int) -> __m512i {
    _mm512_set1_epi32(p.loadUnaligned(fromByteOffset: offset, as: Int32.self))
}

@inline(__always)
func storeFloats16Unaligned(_ v: __m512, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: __m512.self)
}

/// Scalar twin of the fast path on the original (not interleaved) Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K or Q6_K matrix: the
/// same int8 quantization of x (`quantizeBlockReference`), exact integer block products, the scaling in Double (for
/// the K-quants with the half-precision sub-block factors of `KQuantSubBlock`, which the fast path defines).
package func matmulInt8Reference(
    _ w: MatrixView, _ x: UnsafePointer<Float>, xStride: Int, tokens: Int,
    _ y: UnsafeMutablePointer<Float>, yStride: Int
) {
    precondition([.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K].contains(w.type))
    let blocks = w.columns / 32
    for t in 0..<tokens {
        let quantized = (0..<blocks).map { quantizeBlockReference(x + t * xStride + 32 * $0) }
        for r in 0..<w.rows {
            var total = 0.0
            for b in 0..<blocks {
                let q = quantized[b]
                if w.type == .q4_K || w.type == .q5_K || w.type == .q6_K {
                    let s = KQuantSubBlock(w.type, row: w.row(r), block: b)
                    let bias = w.type == .q6_K ? 32 : 0
                    let (scaleLow, scaleHigh, offset) = KQuantSubBlock.productFactors(w.type, row: w.row(r), block: b)
                    var low = 0, high = 0
                    for i in 0..<16 {
                        low += (Int(s.values[i]) - bias) * Int(q.values[i])
                        high += (Int(s.values[16 + i]) - bias) * Int(q.values[16 + i])
                    }
                    total += Double(q.scale) * (scaleLow * Double(low) + scaleHigh * Double(high)) + offset * q.sum
                } else if w.type == .q4_0 {
                    let block = w.row(r) + b * 18
                    let d = Double(floatFromHalfReference(block.loadUnaligned(as: UInt16.self)))
                    var products = 0
                    for i in 0..<16 {
                        let byte = Int(block.load(fromByteOffset: 2 + i, as: UInt8.self))
                        products += ((byte & 0xF) - 8) * Int(q.values[i]) + ((byte >> 4) - 8) * Int(q.values[16 + i])
                    }
                    total += d * Double(q.scale) * Double(products)
                } else if w.type == .q4_1 {
                    let block = w.row(r) + b * 20
                    let d = Double(floatFromHalfReference(block.loadUnaligned(as: UInt16.self)))
                    let m = Double(floatFromHalfReference(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
                    var products = 0
                    for i in 0..<16 {
                        let byte = Int(block.load(fromByteOffset: 4 + i, as: UInt8.self))
                        products += (byte & 0xF) * Int(q.values[i]) + (byte >> 4) * Int(q.values[16 + i])
                    }
                    total += d * Double(q.scale) * Double(products) + m * q.sum
                } else if w.type == .q5_1 {
                    let block = w.row(r) + b * 24
                    let d = Double(floatFromHalfReference(block.loadUnaligned(as: UInt16.self)))
                    let m = Double(floatFromHalfReference(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
                    let highBits = Int(block.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                    var products = 0
                    for i in 0..<16 {
                        let byte = Int(block.load(fromByteOffset: 8 + i, as: UInt8.self))
                        let low = (byte & 0xF) | ((highBits >> i) & 1) << 4
                        let high = (byte >> 4) | ((highBits >> (i + 16)) & 1) << 4
                        products += low * Int(q.values[i]) + high * Int(q.values[16 + i])
                    }
                    total += d * Double(q.scale) * Double(products) + m * q.sum
                } else if w.type == .q5_0 {
                    let block = w.row(r) + b * 22
                    let d = Double(floatFromHalfReference(block.loadUnaligned(as: UInt16.self)))
                    let highBits = Int(block.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
                    var products = 0
                    for i in 0..<16 {
                        let byte = Int(block.load(fromByteOffset: 6 + i, as: UInt8.self))
                        let low = (byte & 0xF) | ((highBits >> i) & 1) << 4 - 16
                        let high = (byte >> 4) | ((highBits >> (i + 16)) & 1) << 4 - 16
                        products += low * Int(q.values[i]) + high * Int(q.values[16 + i])
                    }
                    total += d * Double(q.scale) * Double(products)
                } else {
                    let block = w.row(r) + b * 34
                    let d = Double(floatFromHalfReference(block.loadUnaligned(as: UInt16.self)))
                    var products = 0
                    for i in 0..<32 { products += Int(block.load(fromByteOffset: 2 + i, as: Int8.self)) * Int(q.values[i]) }
                    total += d * Double(q.scale) * Double(products)
                }
            }
            y[t * yStride + r] = Float(total)
        }
    }
}
