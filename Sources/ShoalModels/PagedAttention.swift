import ShoalKernels

/// Causal grouped-query attention that reads keys and values through block tables.
///
/// Work is split into (token, KV head) units across the pool; each unit handles the query heads
/// that share that KV head, so every cached key and value row is loaded once per unit.
struct PagedAttention {
    let headCount: Int
    let kvHeadCount: Int
    let headDim: Int
    let scale: Float

    /// Per-token facts the attention needs: where the token's sequence keeps its blocks and how far it may look.
    struct TokenView {
        var position: Int
        /// First position it may attend to (0 for full attention; later for a sliding window).
        var firstVisible: Int
        var sequence: Int
    }

    /// - Parameters:
    ///   - queries: `tokens.count` rows of `headCount * headDim` floats (already rotated).
    ///   - output: same shape as `queries`.
    ///   - scores: per-thread scratch, `threadCount * scoreStride` floats, `scoreStride` >= the longest context.
    func run(
        layer: Int, tokens: [TokenView], blockTables: [[Int32]], cache: PagedKVCache,
        queries: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
        scores: UnsafeMutablePointer<Float>, scoreStride: Int, pool: ComputePool
    ) {
        let group = headCount / kvHeadCount
        let units = tokens.count * kvHeadCount
        let rowWidth = headCount * headDim
        tokens.withUnsafeBufferPointer { tokenViews in
            pool.run { thread, threadCount in
                let s = scores + thread * scoreStride * group
                var unit = thread
                while unit < units {
                    let t = unit / kvHeadCount
                    let g = unit % kvHeadCount
                    let view = tokenViews[t]
                    let table = blockTables[view.sequence]
                    attendUnit(
                        layer: layer, view: view, table: table, kvHead: g, group: group, cache: cache,
                        queries: queries + t * rowWidth + g * group * headDim,
                        output: output + t * rowWidth + g * group * headDim,
                        scores: s, scoreStride: scoreStride)
                    unit += threadCount
                }
            }
        }
    }

    @inline(__always)
    private func attendUnit(
        layer: Int, view: TokenView, table: [Int32], kvHead: Int, group: Int, cache: PagedKVCache,
        queries: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
        scores: UnsafeMutablePointer<Float>, scoreStride: Int
    ) {
        let blockSize = cache.blockSize
        let first = view.firstVisible
        let count = view.position - first + 1
        let kvOffset = kvHead * headDim
        // Scores for each query head of the group, a key tile (one block of positions) at a time.
        var blockIndex = first / blockSize
        while blockIndex * blockSize <= view.position {
            let tile = UnsafePointer(cache.keyTile(layer: layer, block: Int(table[blockIndex])) + kvOffset * blockSize)
            let lo = max(first, blockIndex * blockSize)
            let hi = min(view.position, blockIndex * blockSize + blockSize - 1)
            for h in 0..<group {
                let q = queries + h * headDim
                let out = scores + h * scoreStride
                if blockSize == 16 {
                    let lanes = tileScores16(q, tile, headDim) * scale
                    for p in lo...hi { out[p - first] = lanes[p - blockIndex * 16] }
                } else {
                    for p in lo...hi {
                        let slot = p - blockIndex * blockSize
                        var sum: Float = 0
                        for d in 0..<headDim { sum += q[d] * tile[d * blockSize + slot] }
                        out[p - first] = sum * scale
                    }
                }
            }
            blockIndex += 1
        }
        for h in 0..<group {
            softmaxInPlace(scores + h * scoreStride, count: count)
            (output + h * headDim).update(repeating: 0, count: headDim)
        }
        var p = first
        while p <= view.position {
            let block = Int(table[p / blockSize])
            let slot = p % blockSize
            let value = UnsafePointer(cache.values(layer: layer, block: block, slot: slot) + kvOffset)
            for h in 0..<group {
                axpyInline(scores[h * scoreStride + (p - first)], value, output + h * headDim, headDim)
            }
            p += 1
        }
    }
}

/// Scores of one query against the 16 positions of a transposed key tile: lane s = Σ_d q[d] · tile[d·16 + s].
@inline(__always)
private func tileScores16(_ q: UnsafePointer<Float>, _ tile: UnsafePointer<Float>, _ headDim: Int) -> SIMD16<Float> {
    let raw = UnsafeRawPointer(tile)
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
    var d = 0
    while d + 4 <= headDim {
        a0.addProduct(SIMD16(repeating: q[d]), raw.loadUnaligned(fromByteOffset: d * 64, as: SIMD16<Float>.self))
        a1.addProduct(SIMD16(repeating: q[d + 1]), raw.loadUnaligned(fromByteOffset: (d + 1) * 64, as: SIMD16<Float>.self))
        a2.addProduct(SIMD16(repeating: q[d + 2]), raw.loadUnaligned(fromByteOffset: (d + 2) * 64, as: SIMD16<Float>.self))
        a3.addProduct(SIMD16(repeating: q[d + 3]), raw.loadUnaligned(fromByteOffset: (d + 3) * 64, as: SIMD16<Float>.self))
        d += 4
    }
    while d < headDim {
        a0.addProduct(SIMD16(repeating: q[d]), raw.loadUnaligned(fromByteOffset: d * 64, as: SIMD16<Float>.self))
        d += 1
    }
    return (a0 + a1) + (a2 + a3)
}

@inline(__always)
private func axpyInline(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
    let a = SIMD16<Float>(repeating: alpha)
    while i + 16 <= n {
        var acc = ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        acc.addProduct(a, rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self))
        ry.storeBytes(of: acc, toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n {
        y[i] += alpha * x[i]
        i += 1
    }
}
