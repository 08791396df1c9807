import CShoalKernels
import ShoalGGUF

/// Matrix times a batch of float vectors: `y[t*yStride + r] = dot(row r of w, x[t*xStride ..< t*xStride + w.columns])`
/// for `r` in `rows` (all rows when nil) and `t` in `0..<tokens`, in float32 (exact mode: activations are not quantized).
///
/// Rows are split into chunks that the pool's threads claim, so each thread reads disjoint weights. With one token the weights are
/// streamed once (matrix x vector); with more, each weight is dequantized once per tile and reused across tokens.
/// - Parameters:
///   - w: the weights; `rows` must lie inside `0..<w.rows`.
///   - x: `tokens` input vectors of `w.columns` floats, `xStride` floats apart.
///   - y: outputs; row `r` of token `t` goes to `y[t*yStride + r]`.
///   - pool: threads to split the work over.
public func matmul(
    _ w: MatrixView, _ x: UnsafePointer<Float>, xStride: Int, tokens: Int,
    _ y: UnsafeMutablePointer<Float>, yStride: Int, rows: Range<Int>? = nil, pool: ComputePool
) {
    let rowRange = rows ?? 0..<w.rows
    precondition(rowRange.lowerBound >= 0 && rowRange.upperBound <= w.rows, "matmul: rows \(rowRange) outside 0..<\(w.rows)")
    guard tokens > 0, !rowRange.isEmpty else { return }
    let work = rowRange.count * w.columns * tokens
    let threads = work < 32_768 ? 1 : pool.threadCount
    if threads == 1 {
        pool.runOnCaller {
            matmulRows(w, x, xStride: xStride, tokens: tokens, y, yStride: yStride, rows: rowRange, pool: pool, thread: 0)
        }
        return
    }
    // About four chunks per thread, claimed dynamically: on a quiet machine as fast as a static split, and when
    // another process takes a core for a while the other thread does the rest instead of waiting for it.
    let chunks = min((rowRange.count + 15) / 16, 4 * threads)
    pool.runChunked(chunks: chunks) { chunk, thread in
        let part = partition(rowRange, part: chunk, of: chunks, granule: 16)
        if !part.isEmpty {
            matmulRows(w, x, xStride: xStride, tokens: tokens, y, yStride: yStride, rows: part, pool: pool, thread: thread)
        }
    }
}

/// How far ahead (bytes) the decode kernels prefetch weights: about a DRAM latency's worth of streaming. (Gemma 3
/// decode, 1 thread: 49.0 tok/s at 1400 bytes, 49.4 at 4096; without prefetching the K-quant rows ran from DRAM
/// at a third of their in-cache speed.)
let prefetchDistance = 4096

/// Asks the CPU to start loading rows `first ..< first + count` (those inside `rows`) into cache.
///
/// The decode kernels call it for a row pair `prefetchDistance` bytes ahead before working on the current one:
/// the K-quant kernels do so much work per byte that the out-of-order window covers only a few cache lines
/// ahead, and from DRAM they ran at a third of their in-cache speed without it (Q6_K 640x2048, 1 thread:
/// 3.3 against 9.8 GB/s; 8.8 with it).
@inline(__always)
func prefetchRows(_ w: MatrixView, _ first: Int, count: Int, within rows: Range<Int>) {
    let end = min(first + count, rows.upperBound)
    guard first < end else { return }
    let start = w.row(first)
    let bytes = w.row(end - 1) - start + w.rowBytes
    var offset = 0
    while offset < bytes {
        shoal_prefetch(start + offset)
        offset += 64
    }
}

/// The `part`-th of `count` nearly equal slices of `range`, with slice boundaries on multiples of `granule`
/// (relative to the range start) where the range is large enough.
@inline(__always)
func partition(_ range: Range<Int>, part: Int, of count: Int, granule: Int) -> Range<Int> {
    let n = range.count
    let units = (n + granule - 1) / granule
    let start = min(n, (units * part / count) * granule)
    let end = min(n, (units * (part + 1) / count) * granule)
    return (range.lowerBound + start)..<(range.lowerBound + end)
}

/// One thread's share of `matmul`.
func matmulRows(
    _ w: MatrixView, _ x: UnsafePointer<Float>, xStride: Int, tokens: Int,
    _ y: UnsafeMutablePointer<Float>, yStride: Int, rows: Range<Int>, pool: ComputePool, thread: Int
) {
    // From 3 tokens on, decoding each weight once per panel beats decoding it once per token (measured on
    // Q4_1 1536x576, 1 thread: 2 tokens 36 vs 30 GFLOP/s for the row-dot path, 3 tokens 36 vs 43, 8 tokens 35 vs 70).
    if tokens >= 3 && w.columns % 16 == 0 {
        matmulTiled(w, x, xStride: xStride, tokens: tokens, y, yStride: yStride, rows: rows, pool: pool, thread: thread)
        return
    }
    let columns = w.columns
    let blocks = columns / w.type.blockSize
    // Rows to prefetch ahead: the pair about `prefetchDistance` bytes on, so loads are issued a DRAM latency early.
    let ahead = max(2, (prefetchDistance / w.rowBytes + 1) & ~1)
    switch w.type {
    case .q4_1:
        let scales = pool.scratch(thread: thread, bytes: blocks * 16 * (tokens + 1)).bindMemory(to: Float.self, capacity: 4 * blocks * (tokens + 1))
        let mSums = scales + 4 * blocks
        for t in 0..<tokens { fillQ4_1MinimumSums(x + t * xStride, blocks: blocks, mSums + t * 4 * blocks) }
        var r = rows.lowerBound
        while r < rows.upperBound {
            // Rows go in pairs; a last odd row is paired with itself and the duplicate result dropped.
            let second = r + 1 < rows.upperBound ? r + 1 : r
            prefetchRows(w, r + ahead, count: 2, within: rows)
            for t in 0..<tokens {
                let (a, b) = dotQ4_1F32Pair(w.row(r), w.row(second), x + t * xStride, mSums: mSums + t * 4 * blocks,
                                            blocks: blocks, scales: scales)
                y[t * yStride + r] = a
                if second != r { y[t * yStride + second] = b }
            }
            r += 2
        }
    case .q4_0:
        for r in rows {
            let row = w.row(r)
            for t in 0..<tokens { y[t * yStride + r] = dotQ4_0F32(row, x + t * xStride, blocks: blocks) }
        }
    case .q8_0:
        let scales = pool.scratch(thread: thread, bytes: blocks * 8).bindMemory(to: Float.self, capacity: 2 * blocks)
        var r = rows.lowerBound
        while r < rows.upperBound {
            // Rows go in pairs (measured 23.4 vs 19.1 GB/s from L2 for single rows); a last odd row pairs with itself.
            let second = r + 1 < rows.upperBound ? r + 1 : r
            prefetchRows(w, r + ahead, count: 2, within: rows)
            for t in 0..<tokens {
                let (a, b) = dotQ8_0F32Pair(w.row(r), w.row(second), x + t * xStride, blocks: blocks, scales: scales)
                y[t * yStride + r] = a
                if second != r { y[t * yStride + second] = b }
            }
            r += 2
        }
    case .q5_0:
        let scales = pool.scratch(thread: thread, bytes: blocks * 8).bindMemory(to: Float.self, capacity: 2 * blocks)
        var r = rows.lowerBound
        while r < rows.upperBound {
            let second = r + 1 < rows.upperBound ? r + 1 : r
            prefetchRows(w, r + ahead, count: 2, within: rows)
            for t in 0..<tokens {
                let (a, b) = dotQ5_0F32Pair(w.row(r), w.row(second), x + t * xStride, blocks: blocks, scales: scales)
                y[t * yStride + r] = a
                if second != r { y[t * yStride + second] = b }
            }
            r += 2
        }
    case .q4_K, .q5_K:
        // 32 floats of per-block factors, then 16 floats per block and token of sub-block sums of x.
        let floats = 32 + 16 * blocks * tokens
        let factors = pool.scratch(thread: thread, bytes: floats * 4).bindMemory(to: Float.self, capacity: floats)
        let xSums = factors + 32
        for t in 0..<tokens { fillKQuantMinimumSums(x + t * xStride, superBlocks: blocks, xSums + t * 16 * blocks) }
        if w.type == .q5_K {
            for r in rows {
                let row = w.row(r)
                for t in 0..<tokens {
                    y[t * yStride + r] = dotQ4_KF32(row, x + t * xStride, xSums: xSums + t * 16 * blocks, superBlocks: blocks,
                                                    factors: factors, highBits: true)
                }
            }
        } else {
            var r = rows.lowerBound
            while r < rows.upperBound {
                // Rows go in pairs, sharing the loads of x; a last odd row pairs with itself.
                let second = r + 1 < rows.upperBound ? r + 1 : r
                prefetchRows(w, r + ahead, count: 2, within: rows)
                for t in 0..<tokens {
                    let (a, b) = dotQ4_KF32Pair(w.row(r), w.row(second), x + t * xStride, xSums: xSums + t * 16 * blocks,
                                                superBlocks: blocks, factors: factors)
                    y[t * yStride + r] = a
                    if second != r { y[t * yStride + second] = b }
                }
                r += 2
            }
        }
    case .q6_K:
        let factors = pool.scratch(thread: thread, bytes: 128).bindMemory(to: Float.self, capacity: 32)
        var r = rows.lowerBound
        while r < rows.upperBound {
            let second = r + 1 < rows.upperBound ? r + 1 : r
            prefetchRows(w, r + ahead, count: 2, within: rows)
            for t in 0..<tokens {
                let (a, b) = dotQ6_KF32Pair(w.row(r), w.row(second), x + t * xStride, superBlocks: blocks, factors: factors)
                y[t * yStride + r] = a
                if second != r { y[t * yStride + second] = b }
            }
            r += 2
        }
    case .f16:
        for r in rows {
            let row = w.row(r)
            for t in 0..<tokens { y[t * yStride + r] = dotF16F32(row, x + t * xStride, count: columns) }
        }
    case .q5_1:
        // The rare type (llama-quantize's fallback for Q5_K rows that are not a multiple of 256 long): each row
        // dequantized once, then float dot products.
        let row = pool.scratch(thread: thread, bytes: columns * 4).bindMemory(to: Float.self, capacity: columns)
        for r in rows {
            dequantizeRowQ5_1(w.row(r), row, blocks: blocks)
            for t in 0..<tokens { y[t * yStride + r] = dotF32F32(row, x + t * xStride, count: columns) }
        }
    case .bf16:
        for r in rows {
            let row = w.row(r)
            for t in 0..<tokens { y[t * yStride + r] = dotBF16F32(row, x + t * xStride, count: columns) }
        }
    case .f32:
        for r in rows {
            let row = w.row(r).assumingMemoryBound(to: Float.self)
            for t in 0..<tokens { y[t * yStride + r] = dotF32F32(row, x + t * xStride, count: columns) }
        }
    default:
        preconditionFailure("matmul: unsupported type \(w.type)")
    }
}

/// Scalar twin of `matmul`: dequantizes each row with `dequantizeRowReference` and sums in Double.
package func matmulReference(
    _ w: MatrixView, _ x: UnsafePointer<Float>, xStride: Int, tokens: Int,
    _ y: UnsafeMutablePointer<Float>, yStride: Int, rows: Range<Int>? = nil
) {
    let rowRange = rows ?? 0..<w.rows
    let row = UnsafeMutablePointer<Float>.allocate(capacity: w.columns)
    defer { row.deallocate() }
    for r in rowRange {
        dequantizeRowReference(w.type, w.row(r), row, count: w.columns)
        for t in 0..<tokens {
            var sum = 0.0
            for k in 0..<w.columns { sum += Double(row[k]) * Double(x[t * xStride + k]) }
            y[t * yStride + r] = Float(sum)
        }
    }
}
