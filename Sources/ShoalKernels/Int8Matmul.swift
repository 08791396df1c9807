import ShoalGGUF
import _Builtin_intrinsics.intel

// The fast path's matmul: activations quantized to int8 once per call, weights repacked 16 rows at a time so that
// one `vpdpbusd` adds 4 byte products to each of 16 row sums (see `InterleavedQ4_1`, `InterleavedQ8_0`).

/// Rows per interleaved group: one 512-bit register holds 4 bytes of each.
let interleavedGroupRows = 16

/// A weight matrix repacked for the int8 fast path, in groups of 16 rows.
package protocol InterleavedMatrix: AnyObject, Sendable {
    var rows: Int { get }
    var columns: Int { get }
    /// Whether `multiply` reads the activations' unsigned (plus 128) copy.
    static var readsOffsetActivations: Bool { get }
    /// Rows `16g ..< 16g + 16` times tokens `firstToken ..< firstToken + tokens` (1...4): token t's 16 results go to
    /// `y[t * yStride ..< t * yStride + 16]`.
    func multiply(group g: Int, _ a: Int8Activations, firstToken: Int, tokens: Int,
                  _ y: UnsafeMutablePointer<Float>, yStride: Int)
}

/// `y[t*yStride + r] = dot(row r of w, x_t)` for all rows and `tokens` tokens, each x_t first quantized to int8
/// per block of 32 (`quantizeActivations`), as llama.cpp's CPU path does. Integer products are summed exactly and
/// scaled per block in float, so each token's results depend on that token alone, not on the batch.
func matmulInt8<Matrix: InterleavedMatrix>(
    _ w: Matrix, _ x: UnsafePointer<Float>, xStride: Int, tokens: Int,
    _ y: UnsafeMutablePointer<Float>, yStride: Int, pool: ComputePool
) {
    guard tokens > 0 else { return }
    let groups = w.rows / interleavedGroupRows
    let columns = w.columns
    let activationBytes = Int8Activations.byteCount(tokens: tokens, columns: columns)
    let threads = w.rows * columns * tokens < 65_536 ? 1 : pool.threadCount
    let chunks = threads == 1 ? 1 : min(groups, 4 * threads)
    // Thread 0 (the caller) quantizes x into its scratch before the other threads start; all only read it then.
    pool.runChunked(chunks: chunks, prologue: {
        let activations = Int8Activations(memory: pool.scratch(thread: 0, bytes: activationBytes), tokens: tokens, columns: columns)
        quantizeActivations(x, xStride: xStride, tokens: tokens, into: activations, offset: Matrix.readsOffsetActivations)
    }) { chunk, _ in
        let activations = Int8Activations(memory: pool.scratch(thread: 0, bytes: activationBytes), tokens: tokens, columns: columns)
        for g in partition(0..<groups, part: chunk, of: chunks, granule: 1) {
            let out = y + g * interleavedGroupRows
            var t = 0
            while t < tokens {
                let count = min(4, tokens - t)
                w.multiply(group: g, activations, firstToken: t, tokens: count, out + t * yStride, yStride: yStride)
                t += count
            }
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

/// Four bytes at `p + offset` broadcast to all 16 lanes.
@inline(__always)
func broadcast4(_ p: UnsafeRawPointer, _ offset: Int) -> __m512i {
    _mm512_set1_epi32(p.loadUnaligned(fromByteOffset: offset, as: Int32.self))
}

@inline(__always)
func storeFloats16Unaligned(_ v: __m512, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: __m512.self)
}

/// Scalar twin of the fast path on the original (not interleaved) Q4_1, Q5_0 or Q8_0 matrix: the same int8 quantization
/// of x (`quantizeBlockReference`), exact integer block products, the scaling in Double.
package func matmulInt8Reference(
    _ w: MatrixView, _ x: UnsafePointer<Float>, xStride: Int, tokens: Int,
    _ y: UnsafeMutablePointer<Float>, yStride: Int
) {
    precondition(w.type == .q4_1 || w.type == .q5_0 || w.type == .q8_0)
    let blocks = w.columns / 32
    for t in 0..<tokens {
        let quantized = (0..<blocks).map { quantizeBlockReference(x + t * xStride + 32 * $0) }
        for r in 0..<w.rows {
            var total = 0.0
            for b in 0..<blocks {
                let q = quantized[b]
                if w.type == .q4_1 {
                    let block = w.row(r) + b * 20
                    let d = Double(floatFromHalfReference(block.loadUnaligned(as: UInt16.self)))
                    let m = Double(floatFromHalfReference(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
                    var products = 0
                    for i in 0..<16 {
                        let byte = Int(block.load(fromByteOffset: 4 + i, as: UInt8.self))
                        products += (byte & 0xF) * Int(q.values[i]) + (byte >> 4) * Int(q.values[16 + i])
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
