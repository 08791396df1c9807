import ShoalGGUF
import _Builtin_intrinsics.intel

// The batched (prefill) matmul: dequantize a panel of weight rows to float once, then run a register-blocked
// 4-row x 4-token dot-product micro-kernel over it for every token, so each weight is decoded once per panel
// instead of once per token.

/// Bytes of dequantized weights per panel (fits comfortably in the 1 MB L2 next to the activations).
let panelBytes = 96 * 1024

/// Rows per panel for rows of `columns` floats: a multiple of 4, at least 4.
@inline(__always)
func panelRows(columns: Int) -> Int {
    max(4, (panelBytes / (columns * 4)) & ~3)
}

/// One thread's share of a batched matmul (`tokens` >= 2), rows `rows`.
func matmulTiled(
    _ w: MatrixView, _ x: UnsafePointer<Float>, xStride: Int, tokens: Int,
    _ y: UnsafeMutablePointer<Float>, yStride: Int, rows: Range<Int>, pool: ComputePool, thread: Int
) {
    let columns = w.columns
    let panel = panelRows(columns: columns)
    // Scratch: the dequantized panel, then 4 padded token rows for the token tail.
    let panelFloats = panel * columns
    let scratch = pool.scratch(thread: thread, bytes: (panelFloats + 4 * columns) * 4 + 64)
        .bindMemory(to: Float.self, capacity: panelFloats + 4 * columns)
    let weights = scratch
    let tail = scratch + panelFloats
    let fullTokenTiles = tokens / 4
    let tailTokens = tokens - fullTokenTiles * 4
    if tailTokens > 0 {
        // Copy the last tokens once; missing ones are zero and their results are dropped.
        for t in 0..<4 {
            if t < tailTokens {
                (tail + t * columns).update(from: x + (fullTokenTiles * 4 + t) * xStride, count: columns)
            } else {
                (tail + t * columns).update(repeating: 0, count: columns)
            }
        }
    }
    var panelStart = rows.lowerBound
    while panelStart < rows.upperBound {
        let panelCount = min(panel, rows.upperBound - panelStart)
        let paddedCount = (panelCount + 3) & ~3
        for r in 0..<panelCount {
            prefetchRows(w, panelStart + r + 1, count: 1, within: rows)
            dequantizeRow(w.type, w.row(panelStart + r), weights + r * columns, count: columns)
        }
        for r in panelCount..<paddedCount {
            (weights + r * columns).update(repeating: 0, count: columns)
        }
        for tileT in 0..<(fullTokenTiles + (tailTokens > 0 ? 1 : 0)) {
            let isTail = tileT == fullTokenTiles
            let xTile = isTail ? UnsafePointer(tail) : x + tileT * 4 * xStride
            let xTileStride = isTail ? columns : xStride
            let tokenCount = isTail ? tailTokens : 4
            var r = 0
            while r < paddedCount {
                let sums = dotTile4x4(weights + r * columns, xTile, xStride: xTileStride, count: columns)
                let rowCount = min(4, panelCount - r)
                for i in 0..<rowCount {
                    for t in 0..<tokenCount {
                        y[(tileT * 4 + t) * yStride + panelStart + r + i] = sums[i * 4 + t]
                    }
                }
                r += 4
            }
        }
        panelStart += panelCount
    }
}

#if !SHOAL_AVX512
/// The 16 dot products of 4 consecutive weight rows (`count` floats each, contiguous) with 4 token rows
/// (`xStride` apart): lane `r * 4 + t` holds row r . token t. `count` must be a multiple of 16.
///
/// Without AVX-512 a 4 x 4 tile of 512-bit accumulators is 32 ymm registers, twice what AVX2 has: the spills
/// made this path 2-3x slower than the one-token row dot. Two 2-row x 4-token passes of 8 ymm accumulators each
/// fit in registers.
@inline(__always)
func dotTile4x4(_ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, xStride: Int, count: Int) -> SIMD16<Float> {
    SIMD16(lowHalf: dotTile2x4(w, w + count, x, xStride: xStride, count: count),
           highHalf: dotTile2x4(w + 2 * count, w + 3 * count, x, xStride: xStride, count: count))
}

/// Rows `a` and `b` dotted with 4 token rows: lanes 0-3 are a . t0...t3, lanes 4-7 b . t0...t3.
@inline(__always)
func dotTile2x4(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ x: UnsafePointer<Float>, xStride: Int, count: Int) -> SIMD8<Float> {
    var a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps()
    var b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps()
    let x0 = x, x1 = x + xStride, x2 = x + 2 * xStride, x3 = x + 3 * xStride
    var k = 0
    while k < count {
        let v0 = _mm256_loadu_ps(x0 + k), v1 = _mm256_loadu_ps(x1 + k)
        let v2 = _mm256_loadu_ps(x2 + k), v3 = _mm256_loadu_ps(x3 + k)
        let u = _mm256_loadu_ps(a + k)
        a0 = _mm256_fmadd_ps(u, v0, a0); a1 = _mm256_fmadd_ps(u, v1, a1)
        a2 = _mm256_fmadd_ps(u, v2, a2); a3 = _mm256_fmadd_ps(u, v3, a3)
        let s = _mm256_loadu_ps(b + k)
        b0 = _mm256_fmadd_ps(s, v0, b0); b1 = _mm256_fmadd_ps(s, v1, b1)
        b2 = _mm256_fmadd_ps(s, v2, b2); b3 = _mm256_fmadd_ps(s, v3, b3)
        k += 8
    }
    return SIMD8(lowHalf: horizontalSums(a0, a1, a2, a3), highHalf: horizontalSums(b0, b1, b2, b3))
}

/// The sums of the eight lanes of each of four vectors.
@inline(__always)
func horizontalSums(_ p: __m256, _ q: __m256, _ r: __m256, _ s: __m256) -> SIMD4<Float> {
    let pq = _mm256_hadd_ps(p, q), rs = _mm256_hadd_ps(r, s)
    let all = _mm256_hadd_ps(pq, rs)  // per 128-bit half: the partial sums of p, q, r, s
    let halves: SIMD8<Float> = all
    return halves.lowHalf + halves.highHalf
}
#else
/// The 16 dot products of 4 consecutive weight rows (`count` floats each, contiguous) with 4 token rows
/// (`xStride` apart): lane `r * 4 + t` holds row r . token t. `count` must be a multiple of 16.
@inline(__always)
func dotTile4x4(_ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, xStride: Int, count: Int) -> SIMD16<Float> {
    var a00 = _mm512_setzero_ps(), a01 = _mm512_setzero_ps(), a02 = _mm512_setzero_ps(), a03 = _mm512_setzero_ps()
    var a10 = _mm512_setzero_ps(), a11 = _mm512_setzero_ps(), a12 = _mm512_setzero_ps(), a13 = _mm512_setzero_ps()
    var a20 = _mm512_setzero_ps(), a21 = _mm512_setzero_ps(), a22 = _mm512_setzero_ps(), a23 = _mm512_setzero_ps()
    var a30 = _mm512_setzero_ps(), a31 = _mm512_setzero_ps(), a32 = _mm512_setzero_ps(), a33 = _mm512_setzero_ps()
    let w0 = w, w1 = w + count, w2 = w + 2 * count, w3 = w + 3 * count
    let x0 = x, x1 = x + xStride, x2 = x + 2 * xStride, x3 = x + 3 * xStride
    var k = 0
    while k < count {
        let v0 = loadFloats16(x0 + k), v1 = loadFloats16(x1 + k), v2 = loadFloats16(x2 + k), v3 = loadFloats16(x3 + k)
        let u0 = loadFloats16(w0 + k)
        a00 = _mm512_fmadd_ps(u0, v0, a00); a01 = _mm512_fmadd_ps(u0, v1, a01)
        a02 = _mm512_fmadd_ps(u0, v2, a02); a03 = _mm512_fmadd_ps(u0, v3, a03)
        let u1 = loadFloats16(w1 + k)
        a10 = _mm512_fmadd_ps(u1, v0, a10); a11 = _mm512_fmadd_ps(u1, v1, a11)
        a12 = _mm512_fmadd_ps(u1, v2, a12); a13 = _mm512_fmadd_ps(u1, v3, a13)
        let u2 = loadFloats16(w2 + k)
        a20 = _mm512_fmadd_ps(u2, v0, a20); a21 = _mm512_fmadd_ps(u2, v1, a21)
        a22 = _mm512_fmadd_ps(u2, v2, a22); a23 = _mm512_fmadd_ps(u2, v3, a23)
        let u3 = loadFloats16(w3 + k)
        a30 = _mm512_fmadd_ps(u3, v0, a30); a31 = _mm512_fmadd_ps(u3, v1, a31)
        a32 = _mm512_fmadd_ps(u3, v2, a32); a33 = _mm512_fmadd_ps(u3, v3, a33)
        k += 16
    }
    return reduce4x4(
        reduceRow4(a00, a01, a02, a03), reduceRow4(a10, a11, a12, a13),
        reduceRow4(a20, a21, a22, a23), reduceRow4(a30, a31, a32, a33))
}

#endif

/// Four accumulators to one vector whose 128-bit lane L holds, in element t, lane L's partial sum of accumulator t.
@inline(__always)
func reduceRow4(_ a0: __m512, _ a1: __m512, _ a2: __m512, _ a3: __m512) -> __m512 {
    // Per 128-bit lane: [a0_0+a0_2, a1_0+a1_2, a0_1+a0_3, a1_1+a1_3]
    let p01 = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1))
    let p23 = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3))
    // Per 128-bit lane: [t0, t1, t2, t3] partial sums.
    let lo = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(p01), _mm512_castps_pd(p23)))
    let hi = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(p01), _mm512_castps_pd(p23)))
    return _mm512_add_ps(lo, hi)
}

/// Sums the four 128-bit lanes of each of four `reduceRow4` results: lane `r * 4 + t` of the result.
@inline(__always)
func reduce4x4(_ q0: __m512, _ q1: __m512, _ q2: __m512, _ q3: __m512) -> SIMD16<Float> {
    let evenLanes = unsafeBitCast(SIMD16<Int32>(0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27), to: __m512i.self)
    let oddLanes = unsafeBitCast(SIMD16<Int32>(4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31), to: __m512i.self)
    let u01 = _mm512_add_ps(_mm512_permutex2var_ps(q0, evenLanes, q1), _mm512_permutex2var_ps(q0, oddLanes, q1))
    let u23 = _mm512_add_ps(_mm512_permutex2var_ps(q2, evenLanes, q3), _mm512_permutex2var_ps(q2, oddLanes, q3))
    return _mm512_add_ps(_mm512_permutex2var_ps(u01, evenLanes, u23), _mm512_permutex2var_ps(u01, oddLanes, u23))
}
