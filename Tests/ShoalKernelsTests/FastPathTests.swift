import ShoalTestSupport
import ShoalGGUF
import Testing
import ShoalKernels

/// The fast (int8 activation) path: the interleaved Q4_1 kernel against its scalar twin, and the quantizer.
@Suite struct FastPathTests {
    static let pools = [ComputePool(threadCount: 1), ComputePool(threadCount: 2), ComputePool(threadCount: 3)]

    @Test func quantizerMatchesItsScalarTwin() {
        var rng = SeededGenerator(seed: 11)
        let columns = 576, tokens = 3
        let x = randomFloats(columns * tokens, scale: 3, using: &rng)
        // One block of zeros and one with a single large value exercise the edge cases.
        for i in 32..<64 { x.floats[i] = 0 }
        x.floats[70] = 1e4
        let memory = Buffer(bytes: Int8Activations.byteCount(tokens: tokens, columns: columns))
        let activations = Int8Activations(memory: memory.raw, tokens: tokens, columns: columns)
        quantizeActivations(x.floats, xStride: columns, tokens: tokens, into: activations)
        for t in 0..<tokens {
            for b in 0..<columns / 32 {
                let reference = quantizeBlockReference(x.floats + t * columns + 32 * b)
                #expect(activations.scales(token: t)[b] == reference.scale, "token \(t) block \(b)")
                #expect(abs(Double(activations.sums(token: t)[b]) - reference.sum) <= 1e-4 * max(1, abs(reference.sum)))
                for i in 0..<32 {
                    #expect(Int8(bitPattern: activations.values(token: t).load(fromByteOffset: 32 * b + i, as: UInt8.self))
                            == reference.values[i], "token \(t) block \(b) value \(i)")
                }
            }
        }
    }

    /// |fast - twin| <= 1e-5 * sum |w x| (float reassociation only: the integer sums are exact in both), and
    /// |fast - exact| <= 2% of sum |w x| (int8 rounding of x; about 0.3% measured on these random cases).
    @Test(arguments: [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0], [32, 64, 576, 1536])
    func interleavedMatchesTwin(type: GGMLType, columns: Int) throws {
        try checkInterleavedAgainstTwin(type: type, columns: columns)
    }

    /// The K-quants (blocks of 256 columns) under the same bounds.
    @Test(arguments: [GGMLType.q4_K, .q5_K, .q6_K], [256, 768, 1536])
    func interleavedKQuantsMatchTwin(type: GGMLType, columns: Int) throws {
        try checkInterleavedAgainstTwin(type: type, columns: columns)
    }

    func checkInterleavedAgainstTwin(type: GGMLType, columns: Int) throws {
        for (index, (rows, tokens)) in [(16, 1), (32, 2), (48, 3), (16, 4), (64, 5), (32, 8), (16, 9), (96, 17), (1536, 8)].enumerated()
        where columns < 1536 || rows <= 96 {
            let pool = Self.pools[index % Self.pools.count]
            var rng = SeededGenerator(seed: UInt64(columns * 100 + index) &+ UInt64(type.rawValue) << 32)
            let weights = randomMatrix(type, rows: rows, columns: columns, using: &rng)
            let matrix = try MatrixView(base: weights.raw, type: type, rows: rows, columns: columns)
            let weight = LinearWeight(matrix, precision: .fast)
            #expect(weight.isInterleaved)
            let xStride = columns + 32, yStride = rows + 16
            let x = randomFloats(xStride * tokens, scale: 2, using: &rng)
            let fast = Buffer(bytes: yStride * tokens * 4), twin = Buffer(bytes: yStride * tokens * 4)
            let exact = Buffer(bytes: yStride * tokens * 4)
            for i in 0..<yStride * tokens { fast.floats[i] = -7 }
            matmul(weight, x.floats, xStride: xStride, tokens: tokens, fast.floats, yStride: yStride, pool: pool)
            matmulInt8Reference(matrix, x.floats, xStride: xStride, tokens: tokens, twin.floats, yStride: yStride)
            matmulReference(matrix, x.floats, xStride: xStride, tokens: tokens, exact.floats, yStride: yStride)
            let row = Buffer(bytes: columns * 4)
            var failures = 0
            for r in 0..<rows {
                dequantizeRowReference(type, matrix.row(r), row.floats, count: columns)
                for t in 0..<tokens {
                    var magnitude: Float = 0
                    for k in 0..<columns { magnitude += abs(row.floats[k] * x.floats[t * xStride + k]) }
                    let value = fast.floats[t * yStride + r]
                    if !(abs(value - twin.floats[t * yStride + r]) <= 1e-5 * magnitude) { failures += 1 }
                    if !(abs(value - exact.floats[t * yStride + r]) <= 0.02 * magnitude) { failures += 1 }
                }
            }
            // Padding between rows of y is untouched.
            for t in 0..<tokens { for r in rows..<yStride where fast.floats[t * yStride + r] != -7 { failures += 1 } }
            #expect(failures == 0, "\(type) rows \(rows) columns \(columns) tokens \(tokens) threads \(pool.threadCount)")
        }
    }

    @Test func exactPrecisionAndUncoveredMatricesUseTheExactKernels() throws {
        var rng = SeededGenerator(seed: 5)
        let q4 = randomMatrix(.q4_1, rows: 24, columns: 64, using: &rng)
        let odd = try MatrixView(base: q4.raw, type: .q4_1, rows: 24, columns: 64)
        #expect(!LinearWeight(odd, precision: .fast).isInterleaved)
        let even = try MatrixView(base: q4.raw, type: .q4_1, rows: 16, columns: 64)
        #expect(!LinearWeight(even, precision: .exact).isInterleaved)
        let f16 = randomMatrix(.f16, rows: 32, columns: 256, using: &rng)
        #expect(!LinearWeight(try MatrixView(base: f16.raw, type: .f16, rows: 32, columns: 256), precision: .fast).isInterleaved)
        // An uncovered matrix in fast mode gives the exact kernel's results bit for bit.
        let x = randomFloats(64 * 3, using: &rng)
        let viaWeight = Buffer(bytes: 24 * 3 * 4), direct = Buffer(bytes: 24 * 3 * 4)
        let pool = Self.pools[1]
        matmul(LinearWeight(odd, precision: .fast), x.floats, xStride: 64, tokens: 3, viaWeight.floats, yStride: 24, pool: pool)
        matmul(odd, x.floats, xStride: 64, tokens: 3, direct.floats, yStride: 24, pool: pool)
        for i in 0..<24 * 3 { #expect(viaWeight.floats[i] == direct.floats[i]) }
    }
}
