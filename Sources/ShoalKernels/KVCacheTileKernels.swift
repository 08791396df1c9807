import _Builtin_intrinsics.intel

// Kernels for attention over query tiles: the query heads of several consecutive tokens that share a KV head
// (a prefill) are scored and weighted together, so each key tile row and value row is loaded and converted once
// for up to `kvTileMaxRows` queries instead of once per token. Queries come transposed (element d of every row
// side by side, `kvTileRowStride(rows)` floats apart) and weights in rows a fixed `kvTileWeightStride` apart, so
// each kernel reads them through one pointer at constant offsets. Per row the arithmetic is the one-token kernels'
// (`kvKeyScores16x4`, `kvAccumulateValues4x16`), in the same order, so a tile gives the bits those give.

/// The most query rows the tile kernels take at once (their accumulators fill the vector registers).
public let kvTileMaxRows = 12

/// Floats between consecutive elements in the transposed queries of a tile of `rows` rows: `rows` rounded up to
/// 4, 8 or 12. The padding rows' values are read (they must be finite) and their results dropped.
public func kvTileRowStride(_ rows: Int) -> Int { rows <= 4 ? 4 : rows <= 8 ? 8 : 12 }

/// Floats between rows of weights for ``kvAccumulateValuesRows``: a tile weighs at most this many positions at once.
public let kvTileWeightStride = 256

/// Scores of `rows` (1...12) queries against the 16 positions of a transposed key tile of a 2-byte or 8-bit type
/// (for `q8_0` with its scale rows at `scales`): lane s of `scores + 16 r` is Σ_d q_r[d] · key(d, s), where
/// q_r[d] is `queries[d * kvTileRowStride(rows) + r]`. Each tile row is loaded and converted once for all rows.
public func kvKeyScoresRows(
    _ type: KVCacheType, queries: UnsafePointer<Float>, rows: Int, tile: UnsafeRawPointer, scales: UnsafeRawPointer?,
    headDim: Int, scores: UnsafeMutablePointer<Float>
) {
    precondition(rows >= 1 && rows <= kvTileMaxRows, "tile rows \(rows) outside 1...\(kvTileMaxRows)")
    dispatchTile(type, rows: rows, KeyScores(queries: queries, rows: rows, headDim: headDim, tile: tile, scales: scales,
                                             scores: scores))
}

/// `output[r][0..<16] = Σ_p w_r(p) · value(p)[column ..< column + 16]` for `rows` (1...12) rows, where w_r(p) is
/// `weights[r * kvTileWeightStride + p - first]` (rows up to `kvTileRowStride(rows)` are read: they must be
/// finite), over positions `first...last` (at most `kvTileWeightStride`) of a sequence whose value
/// rows are found through `table` (the geometry of ``kvAccumulateValues4x16``). Each value row chunk is loaded and
/// converted once for all rows. `output` rows are `outputStride` floats apart; `column` must be a multiple of 16.
public func kvAccumulateValuesRows(
    _ type: KVCacheType, table: UnsafePointer<Int32>, first: Int, last: Int, blockSize: Int,
    base: UnsafeRawPointer, blockStride: Int, valueOffset: Int, rowBytes: Int, scaleOffset: Int, scaleRowBytes: Int,
    column: Int, weights: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>, outputStride: Int
) {
    precondition(rows >= 1 && rows <= kvTileMaxRows, "tile rows \(rows) outside 1...\(kvTileMaxRows)")
    precondition(last - first < kvTileWeightStride, "tile of \(last - first + 1) positions")
    let g = ValueGeometry(
        table: table, first: first, last: last, blockSize: blockSize, base: base, blockStride: blockStride,
        valueOffset: valueOffset, rowBytes: rowBytes, scaleOffset: scaleOffset, scaleRowBytes: scaleRowBytes, column: column)
    dispatchTile(type, rows: rows, Values(geometry: g, weights: weights, rows: rows, output: output, outputStride: outputStride))
}

// MARK: Internals

/// How many accumulators a kernel instance keeps: `kvTileRowStride` of the rows it serves.
private protocol RowCount { static var count: Int { get } }
private enum Rows4: RowCount { static var count: Int { 4 } }
private enum Rows8: RowCount { static var count: Int { 8 } }
private enum Rows12: RowCount { static var count: Int { 12 } }

/// Up to twelve vectors, one per row; `R.count` of them are live (the rest fold away when specialised).
private struct RowVectors {
    var v0 = SIMD16<Float>(), v1 = SIMD16<Float>(), v2 = SIMD16<Float>(), v3 = SIMD16<Float>()
    var v4 = SIMD16<Float>(), v5 = SIMD16<Float>(), v6 = SIMD16<Float>(), v7 = SIMD16<Float>()
    var v8 = SIMD16<Float>(), v9 = SIMD16<Float>(), v10 = SIMD16<Float>(), v11 = SIMD16<Float>()

    /// `v_r += s[r · stride] · x` for the live rows.
    @inline(__always)
    mutating func addProducts<R: RowCount>(_: R.Type, _ s: UnsafePointer<Float>, stride n: Int, _ x: SIMD16<Float>) {
        v0.addProduct(SIMD16(repeating: s[0]), x)
        v1.addProduct(SIMD16(repeating: s[n]), x)
        v2.addProduct(SIMD16(repeating: s[2 * n]), x)
        v3.addProduct(SIMD16(repeating: s[3 * n]), x)
        if R.count > 4 {
            v4.addProduct(SIMD16(repeating: s[4 * n]), x)
            v5.addProduct(SIMD16(repeating: s[5 * n]), x)
            v6.addProduct(SIMD16(repeating: s[6 * n]), x)
            v7.addProduct(SIMD16(repeating: s[7 * n]), x)
        }
        if R.count > 8 {
            v8.addProduct(SIMD16(repeating: s[8 * n]), x)
            v9.addProduct(SIMD16(repeating: s[9 * n]), x)
            v10.addProduct(SIMD16(repeating: s[10 * n]), x)
            v11.addProduct(SIMD16(repeating: s[11 * n]), x)
        }
    }

    /// `v_r += x · c_r` for the live rows (a scale vector times each row's chunk sums).
    @inline(__always)
    mutating func addProducts<R: RowCount>(_: R.Type, _ x: SIMD16<Float>, _ c: RowVectors) {
        v0.addProduct(x, c.v0); v1.addProduct(x, c.v1); v2.addProduct(x, c.v2); v3.addProduct(x, c.v3)
        if R.count > 4 { v4.addProduct(x, c.v4); v5.addProduct(x, c.v5); v6.addProduct(x, c.v6); v7.addProduct(x, c.v7) }
        if R.count > 8 { v8.addProduct(x, c.v8); v9.addProduct(x, c.v9); v10.addProduct(x, c.v10); v11.addProduct(x, c.v11) }
    }

    /// Stores the first `rows` vectors, `stride` floats apart.
    @inline(__always)
    func store(rows: Int, _ output: UnsafeMutablePointer<Float>, stride: Int) {
        let raw = UnsafeMutableRawPointer(output)
        let bytes = stride * 4
        raw.storeBytes(of: v0, as: SIMD16<Float>.self)
        if rows > 1 { raw.storeBytes(of: v1, toByteOffset: bytes, as: SIMD16<Float>.self) }
        if rows > 2 { raw.storeBytes(of: v2, toByteOffset: 2 * bytes, as: SIMD16<Float>.self) }
        if rows > 3 { raw.storeBytes(of: v3, toByteOffset: 3 * bytes, as: SIMD16<Float>.self) }
        if rows > 4 { raw.storeBytes(of: v4, toByteOffset: 4 * bytes, as: SIMD16<Float>.self) }
        if rows > 5 { raw.storeBytes(of: v5, toByteOffset: 5 * bytes, as: SIMD16<Float>.self) }
        if rows > 6 { raw.storeBytes(of: v6, toByteOffset: 6 * bytes, as: SIMD16<Float>.self) }
        if rows > 7 { raw.storeBytes(of: v7, toByteOffset: 7 * bytes, as: SIMD16<Float>.self) }
        if rows > 8 { raw.storeBytes(of: v8, toByteOffset: 8 * bytes, as: SIMD16<Float>.self) }
        if rows > 9 { raw.storeBytes(of: v9, toByteOffset: 9 * bytes, as: SIMD16<Float>.self) }
        if rows > 10 { raw.storeBytes(of: v10, toByteOffset: 10 * bytes, as: SIMD16<Float>.self) }
        if rows > 11 { raw.storeBytes(of: v11, toByteOffset: 11 * bytes, as: SIMD16<Float>.self) }
    }
}

/// A tile kernel's body for one cache type's lanes and one accumulator count.
private protocol TileKernel {
    func run<L: KVLanes, R: RowCount>(_: L.Type, _: R.Type)
}

/// Runs `kernel` specialised for `type` and `kvTileRowStride(rows)` accumulators.
@inline(__always)
private func dispatchTile(_ type: KVCacheType, rows: Int, _ kernel: some TileKernel) {
    switch type {
    case .f32: dispatchTile(F32Lanes.self, rows: rows, kernel)
    case .f16: dispatchTile(F16Lanes.self, rows: rows, kernel)
    case .bf16: dispatchTile(BF16Lanes.self, rows: rows, kernel)
    case .q8_0: dispatchTile(Q8Lanes.self, rows: rows, kernel)
    }
}

@inline(__always)
private func dispatchTile<L: KVLanes>(_: L.Type, rows: Int, _ kernel: some TileKernel) {
    switch kvTileRowStride(rows) {
    case 4: kernel.run(L.self, Rows4.self)
    case 8: kernel.run(L.self, Rows8.self)
    default: kernel.run(L.self, Rows12.self)
    }
}

/// `kvKeyScoresRows`' body.
private struct KeyScores: TileKernel {
    let queries: UnsafePointer<Float>, rows: Int, headDim: Int
    let tile: UnsafeRawPointer, scales: UnsafeRawPointer?
    let scores: UnsafeMutablePointer<Float>

    @inline(__always)
    func run<L: KVLanes, R: RowCount>(_: L.Type, _: R.Type) {
        let rowBytes = 16 * L.elementBytes
        var sums = RowVectors()
        var row = tile
        var query = queries
        if L.hasScales {
            // Each 32-row chunk's integer-valued sums, times the chunk's 16 slot scales (as `kvKeyScores16x4` does).
            var chunk = 0
            while chunk * KVCacheType.quantBlock < headDim {
                var partial = RowVectors()
                for _ in 0..<KVCacheType.quantBlock {
                    partial.addProducts(R.self, query, stride: 1, L.load16(row))
                    query += R.count
                    row += rowBytes
                }
                sums.addProducts(R.self, F16Lanes.load16(scales! + chunk * 32), partial)
                chunk += 1
            }
        } else {
            for _ in 0..<headDim {
                sums.addProducts(R.self, query, stride: 1, L.load16(row))
                query += R.count
                row += rowBytes
            }
        }
        sums.store(rows: rows, scores, stride: 16)
    }
}

/// `kvAccumulateValuesRows`' body.
private struct Values: TileKernel {
    let geometry: ValueGeometry
    let weights: UnsafePointer<Float>, rows: Int
    let output: UnsafeMutablePointer<Float>, outputStride: Int

    @inline(__always)
    func run<L: KVLanes, R: RowCount>(_: L.Type, _: R.Type) {
        var sums = RowVectors()
        forEachValueChunk(L.self, geometry) { v, i in sums.addProducts(R.self, weights + i, stride: kvTileWeightStride, v) }
        sums.store(rows: rows, output, stride: outputStride)
    }
}
