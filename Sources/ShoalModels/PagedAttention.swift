package import ShoalKernels
internal import Foundation

/// Causal grouped-query attention that reads keys and values through block tables.
///
/// Work is split into (token, KV head) units across the pool; each unit handles the query heads
/// that share that KV head, so every cached key and value row is loaded once per unit.
package struct PagedAttention {
    let headCount: Int
    let kvHeadCount: Int
    let headDim: Int
    let scale: Float
    /// Scores become `softcap · tanh(score / softcap)` before the softmax (Gemma 2); nil: none.
    var softcap: Float?
    /// The query heads computed here (all of them, or one tensor-parallel rank's share).
    var queryHeads: Range<Int>
    /// The KV heads those query heads read; the cache holds exactly these, in order.
    var kvHeads: Range<Int>

    package init(headCount: Int, kvHeadCount: Int, headDim: Int, scale: Float,
         queryHeads: Range<Int>? = nil, kvHeads: Range<Int>? = nil) {
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.scale = scale
        self.queryHeads = queryHeads ?? 0..<headCount
        self.kvHeads = kvHeads ?? 0..<kvHeadCount
    }

    /// Per-token facts the attention needs: where the token's sequence keeps its blocks and how far it may look.
    package struct TokenView {
        package var position: Int
        /// First position it may attend to (0 for full attention; later for a sliding window).
        package var firstVisible: Int
        package var sequence: Int

        package init(position: Int, firstVisible: Int, sequence: Int) {
            self.position = position
            self.firstVisible = firstVisible
            self.sequence = sequence
        }
    }

    /// Positions of keys scored together: a unit (one token, one KV head) walks its keys a chunk at a time and
    /// folds each chunk's softmax into its output in order, so a unit can also be split across threads (a chunk
    /// each, folded in the same order) with bit-identical results. 256 keeps a chunk's scores in L1.
    package var chunkPositions = PagedAttention.defaultChunkPositions
    package static let defaultChunkPositions = 256

    /// Whether runs of consecutive tokens of one sequence (a prefill) are attended together as tiles, the query
    /// heads of all of a tile's tokens sharing each load of a key or value (`attendTile`). Tiles give the bits
    /// that token-at-a-time attention gives for f16 and bf16 caches (and for q8_0 where four or more query heads
    /// share a KV head); tests turn tiling off to compare the two.
    package var tilesTokens = true

    /// Floats of per-thread scratch each query head of a group needs (`scoreStride` must be at least this):
    /// a chunk's scores, its partial output, and its maximum and sum.
    package func scratchStride() -> Int { Self.scratchStride(headDim: headDim, chunkPositions: chunkPositions) }

    package static func scratchStride(headDim: Int, chunkPositions: Int = defaultChunkPositions) -> Int {
        chunkPositions + headDim + 2
    }

    /// - Parameters:
    ///   - queries: `tokens.count` rows of `queryHeads.count * headDim` floats (already rotated).
    ///   - output: same shape as `queries`.
    ///   - scores: per-thread scratch, `threadCount * scoreStride * (headCount / kvHeadCount)` floats,
    ///     `scoreStride` >= `scratchStride()`.
    package func run(
        layer: Int, tokens: [TokenView], blockTables: [[Int32]], cache: PagedKVCache,
        queries: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
        scores: UnsafeMutablePointer<Float>, scoreStride: Int, pool: ComputePool
    ) {
        precondition(scoreStride >= scratchStride(), "attention scratch stride \(scoreStride) < \(scratchStride())")
        let group = headCount / kvHeadCount
        let localKV = kvHeads.count
        let units = tokens.count * localKV
        let rowWidth = queryHeads.count * headDim
        let queryHeads = queryHeads, firstKV = kvHeads.lowerBound
        let chunk = chunkPositions
        /// The query heads of unit `unit` that this shard computes, and where its rows start.
        func place(_ unit: Int) -> (lo: Int, hi: Int, offset: Int) {
            let t = unit / localKV, g = unit % localKV
            let lo = max(queryHeads.lowerBound, (firstKV + g) * group)
            let hi = min(queryHeads.upperBound, (firstKV + g + 1) * group)
            return (lo, hi, t * rowWidth + (lo - queryHeads.lowerBound) * headDim)
        }
        // Fewer units than twice the threads (decoding a few sequences): split units into chunks across threads,
        // else a thread takes whole units.
        let chunksPerUnit = tokens.map { ($0.position / chunk) - ($0.firstVisible / chunk) + 1 }
        let splitting = units < 2 * pool.threadCount && chunksPerUnit.contains { $0 > 1 }
        tokens.withUnsafeBufferPointer { tokenViews in
            let tileLimit = kvTileMaxRows / group
            if !splitting, tilesTokens, tileLimit > 1, cache.type != .f32, cache.blockSize == 16, headDim % 16 == 0,
               chunk <= kvTileWeightStride {
                let tiles = Self.tiles(tokenViews, limit: tileLimit)
                let tileUnits = tiles.count * localKV
                if tiles.count < tokens.count, tileUnits >= 2 * pool.threadCount {
                    let scratchFloats = tileScratchFloats()
                    pool.run { thread, threadCount in
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: scratchFloats) { scratch in
                            var unit = thread
                            while unit < tileUnits {
                                let tile = tiles[unit / localKV]
                                let (lo, hi, offset) = place(tile.lowerBound * localKV + unit % localKV)
                                attendTile(layer: layer, views: tokenViews[tile],
                                           table: blockTables[tokenViews[tile.lowerBound].sequence], kvHead: unit % localKV,
                                           heads: hi - lo, cache: cache, queries: queries + offset, output: output + offset,
                                           tokenStride: rowWidth, scratch: scratch.baseAddress!)
                                unit += threadCount
                            }
                        }
                    }
                    return
                }
            }
            guard splitting else {
                pool.run { thread, threadCount in
                    let scratch = scores + thread * scoreStride * group
                    var unit = thread
                    while unit < units {
                        let (lo, hi, offset) = place(unit)
                        let view = tokenViews[unit / localKV]
                        attendUnit(layer: layer, view: view, table: blockTables[view.sequence], kvHead: unit % localKV,
                                   group: hi - lo, cache: cache, queries: queries + offset, output: output + offset,
                                   scratch: scratch)
                        unit += threadCount
                    }
                }
                return
            }
            // One item per (unit, chunk); each writes its partial output, maximum and sum to its own slot.
            var firstItem = [Int](repeating: 0, count: units + 1)
            for unit in 0..<units { firstItem[unit + 1] = firstItem[unit] + chunksPerUnit[unit / localKV] }
            let items = firstItem[units]
            let slotFloats = group * (headDim + 2)
            let slots = UnsafeMutablePointer<Float>.allocate(capacity: items * slotFloats)
            defer { slots.deallocate() }
            firstItem.withUnsafeBufferPointer { firstItem in
                pool.run { thread, threadCount in
                    let scratch = scores + thread * scoreStride * group
                    var item = thread
                    var unit = 0
                    while item < items {
                        while firstItem[unit + 1] <= item { unit += 1 }
                        let (lo, hi, offset) = place(unit)
                        let view = tokenViews[unit / localKV]
                        let index = view.firstVisible / chunk + item - firstItem[unit]
                        let from = max(view.firstVisible, index * chunk), to = min(view.position, index * chunk + chunk - 1)
                        let slot = slots + item * slotFloats
                        attendChunk(layer: layer, view: view, from: from, to: to, table: blockTables[view.sequence],
                                    kvHead: unit % localKV, group: hi - lo, cache: cache, queries: queries + offset,
                                    partial: slot, maxima: slot + group * headDim, sums: slot + group * headDim + group,
                                    scores: scratch)
                        item += threadCount
                    }
                }
            }
            for unit in 0..<units {
                let (lo, hi, offset) = place(unit)
                let heads = hi - lo
                let out = output + offset
                var maxima = [Float](repeating: 0, count: heads), sums = [Double](repeating: 0, count: heads)
                for item in firstItem[unit]..<firstItem[unit + 1] {
                    let slot = slots + item * slotFloats
                    for h in 0..<heads {
                        let partial = slot + h * headDim
                        let m = slot[group * headDim + h], l = Double(slot[group * headDim + group + h])
                        if item == firstItem[unit] {
                            (out + h * headDim).update(from: partial, count: headDim)
                            maxima[h] = m
                            sums[h] = l
                        } else {
                            fold(out + h * headDim, &maxima[h], &sums[h], partial, m, l)
                        }
                    }
                }
                for h in 0..<heads { ShoalKernels.scale(out + h * headDim, by: Float(1 / sums[h]), count: headDim) }
            }
        }
    }

    /// Runs of `tokens` attended together as tiles: consecutive positions of one sequence, each window starting no
    /// earlier than the one before (so every position in a tile's span is visible to one of its tokens and stored),
    /// at most `limit` tokens.
    static func tiles(_ tokens: UnsafeBufferPointer<TokenView>, limit: Int) -> [Range<Int>] {
        var tiles: [Range<Int>] = []
        var start = 0
        for t in tokens.indices.dropFirst() {
            let previous = tokens[t - 1], token = tokens[t]
            if t - start == limit || token.sequence != previous.sequence || token.position != previous.position + 1
                || token.firstVisible < previous.firstVisible {
                tiles.append(start..<t)
                start = t
            }
        }
        if !tokens.isEmpty { tiles.append(start..<tokens.count) }
        return tiles
    }

    /// Floats of per-thread scratch `attendTile` needs (its layout is spelled out there).
    func tileScratchFloats() -> Int {
        let rows = kvTileMaxRows
        return headDim * rows + rows * kvTileWeightStride + 16 * rows + rows * headDim
    }

    /// One row of a tile: the current chunk's softmax maximum and sum, and the running ones folded so far.
    private struct TileRow {
        /// Whether the current chunk holds a position this row's token sees.
        var active = false
        /// Whether a chunk has been folded into the row's output yet.
        var started = false
        var chunkMax: Float = 0, chunkSum: Float = 0
        var runningMax: Float = 0, runningSum: Double = 0
    }

    /// One tile (`views`, consecutive tokens of one sequence) and one KV head on one thread: the `heads` query heads
    /// of each token (`tokenStride` floats between tokens' rows of `queries` and `output`) are the tile's rows, all
    /// scored against each key tile and weighted into each value row as it is loaded. The keys of the tile's span
    /// are walked a chunk at a time as `attendUnit` walks a token's; a row's scores outside its own token's window
    /// and causal limit are left out of its softmax and weigh 0, and a chunk with none of them is skipped for that
    /// row, so each row folds the same chunks, with the same sums, as its token alone would.
    private func attendTile(
        layer: Int, views: Slice<UnsafeBufferPointer<TokenView>>, table: [Int32], kvHead: Int, heads: Int,
        cache: PagedKVCache, queries: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, tokenStride: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let tokens = views.count, rows = tokens * heads
        let stride = kvTileRowStride(rows)
        let chunk = chunkPositions
        let maxRows = kvTileMaxRows
        let transposedQueries = scratch                          // headDim x maxRows: element d of row r at d * stride + r
        let scores = transposedQueries + headDim * maxRows       // maxRows x kvTileWeightStride: a chunk's scores, then
                                                                 // its weights, row by row
        let tileScores = scores + maxRows * kvTileWeightStride   // maxRows x 16: one key tile's scores
        let partial = tileScores + 16 * maxRows                  // maxRows x headDim: a chunk's weighted values
        @inline(__always) func queryRow(_ r: Int) -> UnsafePointer<Float> { queries + (r / heads) * tokenStride + (r % heads) * headDim }
        @inline(__always) func outputRow(_ r: Int) -> UnsafeMutablePointer<Float> { output + (r / heads) * tokenStride + (r % heads) * headDim }
        for r in 0..<stride {
            if r < rows {
                let q = queryRow(r)
                for d in 0..<headDim { transposedQueries[d * stride + r] = q[d] }
            } else {
                // Padding rows: read by the kernels, results dropped (zeros, so nothing costs a denormal's time).
                for d in 0..<headDim { transposedQueries[d * stride + r] = 0 }
                (scores + r * kvTileWeightStride).update(repeating: 0, count: chunk)
            }
        }
        let type = cache.type
        let kvOffset = kvHead * headDim
        let quantized = type.isQuantized
        let tileOffset = kvOffset * 16 * type.elementBytes
        let scaleOffset = cache.keyScaleOffset + kvOffset / KVCacheType.quantBlock * 16 * 2
        let layerBase = UnsafeRawPointer(cache.layerBase(layer))
        let firstVisible = views.first!.firstVisible, last = views.last!.position
        withUnsafeTemporaryAllocation(of: TileRow.self, capacity: maxRows) { state in
        let state = state.baseAddress!
        state.initialize(repeating: TileRow(), count: rows)
        table.withUnsafeBufferPointer { tablePointer in
        var index = firstVisible / chunk
        while index * chunk <= last {
            let from = max(firstVisible, index * chunk), to = min(last, index * chunk + chunk - 1)
            let count = to - from + 1
            var blockIndex = from / 16
            while blockIndex * 16 <= to {
                let base = UnsafeRawPointer(cache.block(layer: layer, block: Int(table[blockIndex])))
                kvKeyScoresRows(type, queries: transposedQueries, rows: rows, tile: base + tileOffset,
                                scales: quantized ? base + scaleOffset : nil, headDim: headDim, scores: tileScores)
                let start = blockIndex * 16
                let lo = max(from, start), hi = min(to, start + 15)
                for r in 0..<rows {
                    let lanes = UnsafeRawPointer(tileScores + r * 16).loadUnaligned(as: SIMD16<Float>.self) * scale
                    let out = scores + r * kvTileWeightStride + (start - from)
                    if lo == start && hi == start + 15 {
                        UnsafeMutableRawPointer(out).storeBytes(of: lanes, as: SIMD16<Float>.self)
                    } else {
                        for p in lo...hi { out[p - start] = lanes[p - start] }
                    }
                }
                blockIndex += 1
            }
            for r in 0..<rows {
                let view = views[views.startIndex + r / heads]
                let lo = max(from, view.firstVisible) - from, hi = min(to, view.position) - from
                state[r].active = lo <= hi
                let row = scores + r * kvTileWeightStride
                guard lo <= hi else {
                    row.update(repeating: 0, count: count)
                    continue
                }
                if let cap = softcap { ShoalKernels.softcap(row + lo, count: hi - lo + 1, cap: cap) }
                let (maximum, sum) = exponentiateShifted(row + lo, count: hi - lo + 1)
                state[r].chunkMax = maximum
                state[r].chunkSum = Float(sum)
                // Positions outside the row's window weigh nothing.
                row.update(repeating: 0, count: lo)
                (row + hi + 1).update(repeating: 0, count: count - hi - 1)
            }
            var d0 = 0
            while d0 < headDim {
                kvAccumulateValuesRows(
                    type, table: tablePointer.baseAddress!, first: from, last: to, blockSize: 16,
                    base: layerBase, blockStride: cache.blockStride, valueOffset: cache.valueOffset,
                    rowBytes: cache.valueRowBytes, scaleOffset: cache.valueScaleOffset,
                    scaleRowBytes: cache.valueScaleRowBytes, column: kvOffset + d0, weights: scores, rows: rows,
                    output: partial + d0, outputStride: headDim)
                d0 += 16
            }
            for r in 0..<rows where state[r].active {
                let out = outputRow(r)
                if !state[r].started {
                    out.update(from: partial + r * headDim, count: headDim)
                    state[r].runningMax = state[r].chunkMax
                    state[r].runningSum = Double(state[r].chunkSum)
                    state[r].started = true
                } else {
                    fold(out, &state[r].runningMax, &state[r].runningSum, partial + r * headDim, state[r].chunkMax,
                         Double(state[r].chunkSum))
                }
            }
            index += 1
        }
        }
        for r in 0..<rows { ShoalKernels.scale(outputRow(r), by: Float(1 / state[r].runningSum), count: headDim) }
        }
    }

    /// `output = output · e^(max - newMax) + partial · e^(m - newMax)`, and the same for the sums: one chunk folded
    /// into the running softmax (the same operations whether the chunks ran on one thread or several).
    @inline(__always)
    private func fold(_ output: UnsafeMutablePointer<Float>, _ maximum: inout Float, _ sum: inout Double,
                      _ partial: UnsafePointer<Float>, _ m: Float, _ l: Double) {
        let newMax = Swift.max(maximum, m)
        let a = Float(exp(Double(maximum - newMax))), b = Float(exp(Double(m - newMax)))
        for d in 0..<headDim { output[d] = output[d] * a + partial[d] * b }
        sum = sum * Double(a) + l * Double(b)
        maximum = newMax
    }

    /// One (token, KV head) unit on one thread: its chunks in order, each folded into `output`.
    @inline(__always)
    private func attendUnit(
        layer: Int, view: TokenView, table: [Int32], kvHead: Int, group: Int, cache: PagedKVCache,
        queries: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) {
        let chunk = chunkPositions
        let partial = scratch + group * chunk
        let maxima = partial + group * headDim, sums = maxima + group
        withUnsafeTemporaryAllocation(of: Float.self, capacity: group) { runningMax in
        withUnsafeTemporaryAllocation(of: Double.self, capacity: group) { runningSum in
        var index = view.firstVisible / chunk
        while index * chunk <= view.position {
            let from = max(view.firstVisible, index * chunk), to = min(view.position, index * chunk + chunk - 1)
            let first = from == view.firstVisible
            attendChunk(layer: layer, view: view, from: from, to: to, table: table, kvHead: kvHead, group: group,
                        cache: cache, queries: queries, partial: first ? output : partial, maxima: maxima, sums: sums,
                        scores: scratch)
            for h in 0..<group {
                if first {
                    runningMax[h] = maxima[h]
                    runningSum[h] = Double(sums[h])
                } else {
                    fold(output + h * headDim, &runningMax[h], &runningSum[h], partial + h * headDim, maxima[h], Double(sums[h]))
                }
            }
            index += 1
        }
        for h in 0..<group { ShoalKernels.scale(output + h * headDim, by: Float(1 / runningSum[h]), count: headDim) }
        }
        }
    }

    /// Keys `from...to` of one (token, KV head) unit: scores of the group's query heads, `exp(score - max)`, and
    /// the values weighted by those (not yet divided by their sum) into `partial` (`group` rows of `headDim`),
    /// with each head's maximum and sum in `maxima` and `sums`. A float32 cache runs the float kernels below;
    /// f16, bf16 and q8_0 run the ShoalKernels ones that convert each key tile row and value row as they load it
    /// (no float copy is made).
    @inline(__always)
    private func attendChunk(
        layer: Int, view: TokenView, from first: Int, to last: Int, table: [Int32], kvHead: Int, group: Int,
        cache: PagedKVCache, queries: UnsafePointer<Float>, partial output: UnsafeMutablePointer<Float>,
        maxima: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>
    ) {
        let scoreStride = chunkPositions
        let type = cache.type
        let blockSize = cache.blockSize
        let count = last - first + 1
        let kvOffset = kvHead * headDim
        let quantized = type.isQuantized
        let tileOffset = kvOffset * blockSize * type.elementBytes
        let scaleOffset = cache.keyScaleOffset + kvOffset / KVCacheType.quantBlock * blockSize * 2
        // Scores for the query heads of the group, a key tile (one block of positions) at a time. Up to four heads
        // share each load of the tile; for float32, one or two left are scored alone, so a group of one
        // (multi-head attention) does no spare work.
        var blockIndex = first / blockSize
        while blockIndex * blockSize <= last {
            let base = UnsafeRawPointer(cache.block(layer: layer, block: Int(table[blockIndex])))
            let lo = max(first, blockIndex * blockSize)
            let hi = min(last, blockIndex * blockSize + blockSize - 1)
            if blockSize == 16 {
                var h0 = 0
                while h0 < group {
                    let heads: Int
                    let lanes: (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)
                    if type != .f32 {
                        heads = min(4, group - h0)
                        lanes = kvKeyScores16x4(type, queries + h0 * headDim, heads: heads, tile: base + tileOffset,
                                                scales: quantized ? base + scaleOffset : nil, headDim: headDim)
                    } else if group - h0 >= 3 {
                        heads = min(4, group - h0)
                        lanes = tileScores16x4(queries + h0 * headDim, heads: heads,
                                               (base + tileOffset).assumingMemoryBound(to: Float.self), headDim)
                    } else {
                        heads = 1
                        let one = tileScores16(queries + h0 * headDim, (base + tileOffset).assumingMemoryBound(to: Float.self), headDim)
                        lanes = (one, one, one, one)
                    }
                    for h in 0..<heads {
                        let out = scores + (h0 + h) * scoreStride
                        let scaled = (h == 0 ? lanes.0 : h == 1 ? lanes.1 : h == 2 ? lanes.2 : lanes.3) * scale
                        for p in lo...hi { out[p - first] = scaled[p - blockIndex * 16] }
                    }
                    h0 += heads
                }
            } else {
                let scales = quantized ? base + cache.keyScaleOffset : nil
                for h in 0..<group {
                    let q = queries + h * headDim
                    let out = scores + h * scoreStride
                    for p in lo...hi {
                        let slot = p - blockIndex * blockSize
                        var sum: Float = 0
                        for d in 0..<headDim {
                            sum += q[d] * kvKey(type, tile: base, scales: scales, d: kvOffset + d, slot: slot, blockSize: blockSize)
                        }
                        out[p - first] = sum * scale
                    }
                }
            }
            blockIndex += 1
        }
        if let cap = softcap {
            for h in 0..<group { ShoalKernels.softcap(scores + h * scoreStride, count: count, cap: cap) }
        }
        for h in 0..<group {
            let (maximum, sum) = exponentiateShifted(scores + h * scoreStride, count: count)
            maxima[h] = maximum
            sums[h] = Float(sum)
        }
        if type == .f32, headDim % 64 == 0 {
            // Weighted sum of values with the output of up to four heads x 64 dimensions held in registers
            // across all positions (each value row chunk is loaded once for the four heads).
            var h0 = 0
            while h0 < group {
                let heads = min(4, group - h0)
                var d0 = 0
                while d0 < headDim {
                    accumulateValues4x64(
                        layer: layer, table: table, first: first, last: last, cache: cache,
                        column: kvOffset + d0, weights: scores + h0 * scoreStride, weightStride: scoreStride,
                        heads: heads, output: output + h0 * headDim + d0, outputStride: headDim)
                    d0 += 64
                }
                h0 += 4
            }
            return
        }
        if headDim % 32 == 0 {
            // Four heads x 16 dimensions at a time where a KV head serves four or more (each value row chunk is
            // converted once for the four), else two heads x 32; either converts each chunk as it loads it.
            let (headsPerPass, width, kernel) = group >= 4 ? (4, 16, kvAccumulateValues4x16) : (2, 32, kvAccumulateValues2x32)
            table.withUnsafeBufferPointer { tablePointer in
                let layerBase = UnsafeRawPointer(cache.layerBase(layer))
                var h0 = 0
                while h0 < group {
                    let heads = min(headsPerPass, group - h0)
                    var d0 = 0
                    while d0 < headDim {
                        kernel(
                            type, tablePointer.baseAddress!, first, last, blockSize,
                            layerBase, cache.blockStride, cache.valueOffset, cache.valueRowBytes, cache.valueScaleOffset,
                            cache.valueScaleRowBytes, kvOffset + d0, scores + h0 * scoreStride, scoreStride, heads,
                            output + h0 * headDim + d0, headDim)
                        d0 += width
                    }
                    h0 += headsPerPass
                }
            }
            return
        }
        for h in 0..<group {
            (output + h * headDim).update(repeating: 0, count: headDim)
        }
        var p = first
        while p <= last {
            let block = Int(table[p / blockSize])
            let slot = p % blockSize
            let base = UnsafeRawPointer(cache.block(layer: layer, block: block))
            let row = base + cache.valueOffset + slot * cache.valueRowBytes
            let rowScales = quantized ? base + cache.valueScaleOffset + slot * cache.valueScaleRowBytes : nil
            for d in 0..<headDim {
                let value = kvValue(type, row: row, scales: rowScales, d: kvOffset + d)
                for h in 0..<group { output[h * headDim + d] += scores[h * scoreStride + (p - first)] * value }
            }
            p += 1
        }
    }
}

/// `output[h][0..<64] = Σ_p weights[h][p - first] · value(p)[column ..< column + 64]` for `heads` (1...4) heads,
/// positions `first...last`, with the 16 accumulators in registers. Missing heads repeat the last one's
/// weights and are not stored.
@inline(__always)
private func accumulateValues4x64(
    layer: Int, table: [Int32], first: Int, last: Int, cache: PagedKVCache, column: Int,
    weights: UnsafePointer<Float>, weightStride: Int, heads: Int,
    output: UnsafeMutablePointer<Float>, outputStride: Int
) {
    let w0 = weights, w1 = weights + min(1, heads - 1) * weightStride
    let w2 = weights + min(2, heads - 1) * weightStride, w3 = weights + min(3, heads - 1) * weightStride
    var a00 = SIMD16<Float>(), a01 = SIMD16<Float>(), a02 = SIMD16<Float>(), a03 = SIMD16<Float>()
    var a10 = SIMD16<Float>(), a11 = SIMD16<Float>(), a12 = SIMD16<Float>(), a13 = SIMD16<Float>()
    var a20 = SIMD16<Float>(), a21 = SIMD16<Float>(), a22 = SIMD16<Float>(), a23 = SIMD16<Float>()
    var a30 = SIMD16<Float>(), a31 = SIMD16<Float>(), a32 = SIMD16<Float>(), a33 = SIMD16<Float>()
    let blockSize = cache.blockSize
    var p = first
    while p <= last {
        let blockIndex = p / blockSize
        let end = min(last, blockIndex * blockSize + blockSize - 1)
        let block = Int(table[blockIndex])
        var row = UnsafeRawPointer(cache.values(layer: layer, block: block, slot: p - blockIndex * blockSize) + column)
        let rowBytes = cache.kvWidth * 4
        while p <= end {
            let v0 = row.loadUnaligned(as: SIMD16<Float>.self)
            let v1 = row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
            let v2 = row.loadUnaligned(fromByteOffset: 128, as: SIMD16<Float>.self)
            let v3 = row.loadUnaligned(fromByteOffset: 192, as: SIMD16<Float>.self)
            let i = p - first
            let s0 = SIMD16(repeating: w0[i]), s1 = SIMD16(repeating: w1[i])
            let s2 = SIMD16(repeating: w2[i]), s3 = SIMD16(repeating: w3[i])
            a00.addProduct(s0, v0); a01.addProduct(s0, v1); a02.addProduct(s0, v2); a03.addProduct(s0, v3)
            a10.addProduct(s1, v0); a11.addProduct(s1, v1); a12.addProduct(s1, v2); a13.addProduct(s1, v3)
            a20.addProduct(s2, v0); a21.addProduct(s2, v1); a22.addProduct(s2, v2); a23.addProduct(s2, v3)
            a30.addProduct(s3, v0); a31.addProduct(s3, v1); a32.addProduct(s3, v2); a33.addProduct(s3, v3)
            row += rowBytes
            p += 1
        }
    }
    @inline(__always)
    func store(_ h: Int, _ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>, _ d: SIMD16<Float>) {
        let out = UnsafeMutableRawPointer(output + h * outputStride)
        out.storeBytes(of: a, as: SIMD16<Float>.self)
        out.storeBytes(of: b, toByteOffset: 64, as: SIMD16<Float>.self)
        out.storeBytes(of: c, toByteOffset: 128, as: SIMD16<Float>.self)
        out.storeBytes(of: d, toByteOffset: 192, as: SIMD16<Float>.self)
    }
    store(0, a00, a01, a02, a03)
    if heads > 1 { store(1, a10, a11, a12, a13) }
    if heads > 2 { store(2, a20, a21, a22, a23) }
    if heads > 3 { store(3, a30, a31, a32, a33) }
}

/// Scores of one query against the 16 positions of a transposed key tile: lane s = Σ_d q[d] · tile[d·16 + s].
@inline(__always)
private func tileScores16(_ q: UnsafePointer<Float>, _ tile: UnsafePointer<Float>, _ headDim: Int) -> SIMD16<Float> {
    let raw = UnsafeRawPointer(tile)
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
    var d = 0
    while d + 2 <= headDim {
        a0.addProduct(SIMD16(repeating: q[d]), raw.loadUnaligned(fromByteOffset: d * 64, as: SIMD16<Float>.self))
        a1.addProduct(SIMD16(repeating: q[d + 1]), raw.loadUnaligned(fromByteOffset: (d + 1) * 64, as: SIMD16<Float>.self))
        d += 2
    }
    if d < headDim {
        a0.addProduct(SIMD16(repeating: q[d]), raw.loadUnaligned(fromByteOffset: d * 64, as: SIMD16<Float>.self))
    }
    return a0 + a1
}

/// Scores of up to four queries (`heads`, `headDim` floats apart) against the 16 positions of a transposed key
/// tile: element h, lane s = Σ_d q_h[d] · tile[d·16 + s]. Each tile row is loaded once for all heads; missing
/// heads repeat the last query.
@inline(__always)
private func tileScores16x4(_ q: UnsafePointer<Float>, heads: Int, _ tile: UnsafePointer<Float>, _ headDim: Int)
    -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)
{
    let q0 = q, q1 = q + min(1, heads - 1) * headDim, q2 = q + min(2, heads - 1) * headDim, q3 = q + min(3, heads - 1) * headDim
    let raw = UnsafeRawPointer(tile)
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
    var b0 = SIMD16<Float>(), b1 = SIMD16<Float>(), b2 = SIMD16<Float>(), b3 = SIMD16<Float>()
    var d = 0
    while d + 2 <= headDim {
        let k0 = raw.loadUnaligned(fromByteOffset: d * 64, as: SIMD16<Float>.self)
        let k1 = raw.loadUnaligned(fromByteOffset: (d + 1) * 64, as: SIMD16<Float>.self)
        a0.addProduct(SIMD16(repeating: q0[d]), k0); b0.addProduct(SIMD16(repeating: q0[d + 1]), k1)
        a1.addProduct(SIMD16(repeating: q1[d]), k0); b1.addProduct(SIMD16(repeating: q1[d + 1]), k1)
        a2.addProduct(SIMD16(repeating: q2[d]), k0); b2.addProduct(SIMD16(repeating: q2[d + 1]), k1)
        a3.addProduct(SIMD16(repeating: q3[d]), k0); b3.addProduct(SIMD16(repeating: q3[d + 1]), k1)
        d += 2
    }
    if d < headDim {
        let k0 = raw.loadUnaligned(fromByteOffset: d * 64, as: SIMD16<Float>.self)
        a0.addProduct(SIMD16(repeating: q0[d]), k0)
        a1.addProduct(SIMD16(repeating: q1[d]), k0)
        a2.addProduct(SIMD16(repeating: q2[d]), k0)
        a3.addProduct(SIMD16(repeating: q3[d]), k0)
    }
    return (a0 + b0, a1 + b1, a2 + b2, a3 + b3)
}
