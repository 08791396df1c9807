import ShoalTestSupport
import ShoalGGUF
import Testing
import ShoalKernels

@Suite struct MatmulTests {
    static let pools = [ComputePool(threadCount: 1), ComputePool(threadCount: 2), ComputePool(threadCount: 3)]
    static let rowCounts = [1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 127, 129]
    static let tokenCounts = [1, 2, 3, 5, 17, 64]

    /// Compares `matmul` with `matmulReference`: |fast - reference| <= 1e-5 * sum_k |w_k x_k| (float reassociation).
    func check(_ type: GGMLType, rows: Int, columns: Int, tokens: Int, xStride: Int, yStride: Int,
               rowRange: Range<Int>?, pool: ComputePool, seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let weights = randomMatrix(type, rows: rows, columns: columns, using: &rng)
        let w = try MatrixView(base: weights.raw, type: type, rows: rows, columns: columns)
        let x = randomFloats(xStride * (tokens - 1) + columns, using: &rng)
        let fast = Buffer(bytes: (yStride * (tokens - 1) + rows) * 4)
        let reference = Buffer(bytes: (yStride * (tokens - 1) + rows) * 4)
        for i in 0..<(yStride * (tokens - 1) + rows) {
            fast.floats[i] = -7
            reference.floats[i] = -7
        }
        matmul(w, x.floats, xStride: xStride, tokens: tokens, fast.floats, yStride: yStride, rows: rowRange, pool: pool)
        matmulReference(w, x.floats, xStride: xStride, tokens: tokens, reference.floats, yStride: yStride, rows: rowRange)
        let row = Buffer(bytes: columns * 4)
        var failures = 0
        for r in rowRange ?? 0..<rows {
            dequantizeRowReference(type, w.row(r), row.floats, count: columns)
            for t in 0..<tokens {
                var magnitude: Float = 0
                for k in 0..<columns { magnitude += abs(row.floats[k] * x.floats[t * xStride + k]) }
                let difference = abs(fast.floats[t * yStride + r] - reference.floats[t * yStride + r])
                if !(difference <= 1e-5 * magnitude + 1e-30) { failures += 1 }
            }
        }
        // Everything outside the requested rows is untouched.
        for t in 0..<tokens {
            for r in 0..<rows where !(rowRange ?? 0..<rows).contains(r) && fast.floats[t * yStride + r] != -7 { failures += 1 }
        }
        #expect(failures == 0, "\(type) rows \(rows) columns \(columns) tokens \(tokens) threads \(pool.threadCount) seed \(seed)")
    }

    @Test(arguments: [GGMLType.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0], [32, 64, 96, 576, 1536])
    func matchesReference(type: GGMLType, columns: Int) throws {
        for (index, rows) in Self.rowCounts.enumerated() where columns < 1536 || rows <= 33 {
            let tokens = Self.tokenCounts[index % Self.tokenCounts.count]
            let pool = Self.pools[index % Self.pools.count]
            try check(type, rows: rows, columns: columns, tokens: tokens, xStride: columns, yStride: rows,
                      rowRange: nil, pool: pool, seed: UInt64(index * 1000 + columns) &+ UInt64(type.rawValue) << 32)
        }
    }

    @Test(arguments: kQuantTypes, [256, 512, 2048])
    func kQuantsMatchReference(type: GGMLType, columns: Int) throws {
        for (index, rows) in Self.rowCounts.enumerated() where columns < 2048 || rows <= 33 {
            let tokens = Self.tokenCounts[index % Self.tokenCounts.count]
            let pool = Self.pools[index % Self.pools.count]
            try check(type, rows: rows, columns: columns, tokens: tokens, xStride: columns, yStride: rows,
                      rowRange: nil, pool: pool, seed: UInt64(index * 1000 + columns) &+ UInt64(type.rawValue) << 32)
        }
    }

    @Test(arguments: [GGMLType.q5_0, .q4_K, .q6_K], [1, 2, 3, 4, 9])
    func gemmaShapesEveryTokenCount(type: GGMLType, tokens: Int) throws {
        // Gemma 3 270M: hidden 640 (Q5_0 only, not a multiple of 256), feed-forward 2048.
        let columns = type == .q5_0 ? 640 : 2048
        for pool in Self.pools {
            try check(type, rows: 41, columns: columns, tokens: tokens, xStride: columns + 16, yStride: 41 + 3,
                      rowRange: 2..<39, pool: pool, seed: UInt64(tokens) &* 131 &+ UInt64(type.rawValue))
        }
    }

    @Test(arguments: [GGMLType.q4_1, .q8_0, .f32, .q5_0], [1, 2, 3, 4, 5, 7, 8, 9, 17, 64])
    func everyTokenCountWithStridesAndRowRange(type: GGMLType, tokens: Int) throws {
        for pool in Self.pools {
            try check(type, rows: 67, columns: 96, tokens: tokens, xStride: 96 + 5, yStride: 67 + 3,
                      rowRange: 3..<61, pool: pool, seed: UInt64(tokens) &* 77 &+ UInt64(type.rawValue))
        }
    }

    @Test func largeMatrixSplitsAcrossThreads() throws {
        for tokens in [1, 7] {
            try check(.q4_1, rows: 1536, columns: 576, tokens: tokens, xStride: 576, yStride: 1536,
                      rowRange: nil, pool: Self.pools[1], seed: 99 &+ UInt64(tokens))
        }
    }

    @Test(arguments: [1, 2, 5, 17])
    func stridedFloatViewMatchesPackedCopy(tokens: Int) throws {
        // One head (16 columns) of a [position][4 heads][16] float cache: rows 64 floats apart.
        var rng = SeededGenerator(seed: UInt64(tokens))
        let cache = randomFloats(37 * 64, using: &rng)
        let packed = Buffer(bytes: 37 * 16 * 4)
        for r in 0..<37 { (packed.floats + r * 16).update(from: cache.floats + r * 64 + 32, count: 16) }
        let strided = try MatrixView(base: cache.floats + 32, type: .f32, rows: 37, columns: 16, rowBytes: 64 * 4)
        let dense = try MatrixView(base: packed.raw, type: .f32, rows: 37, columns: 16)
        let x = randomFloats(tokens * 16, using: &rng)
        let a = Buffer(bytes: tokens * 37 * 4)
        let b = Buffer(bytes: tokens * 37 * 4)
        matmul(strided, x.floats, xStride: 16, tokens: tokens, a.floats, yStride: 37, pool: Self.pools[1])
        matmul(dense, x.floats, xStride: 16, tokens: tokens, b.floats, yStride: 37, pool: Self.pools[1])
        var differences = 0
        for i in 0..<tokens * 37 where a.floats[i] != b.floats[i] { differences += 1 }
        #expect(differences == 0)
        #expect(throws: KernelError.self) { try MatrixView(base: cache.raw, type: .f32, rows: 2, columns: 16, rowBytes: 32) }
    }

    @Test func badShapesAndTypesThrow() {
        let bytes = Buffer(bytes: 1024)
        #expect(throws: KernelError.self) { try MatrixView(base: bytes.raw, type: .q4_1, rows: 2, columns: 33) }
        #expect(throws: KernelError.self) { try MatrixView(base: bytes.raw, type: .q3_K, rows: 2, columns: 256) }
        #expect(throws: KernelError.self) { try MatrixView(base: bytes.raw, type: .q6_K, rows: 2, columns: 320) }
        #expect(throws: KernelError.self) { try MatrixView(base: bytes.raw, type: .f32, rows: -1, columns: 4) }
        #expect(Kernels.supports(.q4_1) && Kernels.supports(.q6_K) && Kernels.supports(.q5_1) && !Kernels.supports(.q2_K) && !Kernels.supports(.iq4_nl))
        let view = try? MatrixView(base: bytes.raw, type: .q8_0, rows: 3, columns: 64)
        #expect(view?.rowBytes == 68)
    }
}
