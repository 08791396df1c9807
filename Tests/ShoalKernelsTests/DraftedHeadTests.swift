import ShoalTestSupport
import ShoalGGUF
import Testing
import ShoalKernels

/// The fast path's drafted output head: a 5-bit draft ranks the rows, each token's best rows are exact.
@Suite struct DraftedHeadTests {
    @Test func topRowsFindsTheLargestAndSkipsNaN() {
        let values: [Float] = [3, .nan, 7, -1, 7, 0.5, 9, .nan, 2]
        var best = [Int](repeating: -1, count: 3)
        let found = values.withUnsafeBufferPointer { DraftedHead.topRows($0.baseAddress!, count: values.count, into: &best) }
        #expect(found == 3)
        #expect(Set(best) == [2, 4, 6])
        var many = [Int](repeating: -1, count: 20)
        let all = values.withUnsafeBufferPointer { DraftedHead.topRows($0.baseAddress!, count: values.count, into: &many) }
        #expect(all == 7)
        #expect(Set(many[..<all]) == [0, 2, 3, 4, 5, 6, 8])
    }

    @Test(arguments: [(GGMLType.q8_0, DraftedHead.Draft.requantizedQ5_1), (.q6_K, .requantizedQ5_1), (.f16, .requantizedQ5_1),
                      (.q8_0, .fileType), (.q6_K, .fileType), (.q4_K, .fileType), (.q4_0, .fileType)])
    func candidatesAreExactAndTheRestAreDrafted(type: GGMLType, draft: DraftedHead.Draft) throws {
        var rng = SeededGenerator(seed: 41 &+ UInt64(type.rawValue))
        let rows = 512, columns = 256, tokens = 3, candidates = 16
        let weights = randomMatrix(type, rows: rows, columns: columns, using: &rng)
        let matrix = try MatrixView(base: weights.raw, type: type, rows: rows, columns: columns)
        let head = try #require(DraftedHead(matrix, draft: draft, candidates: candidates))
        let x = randomFloats(columns * tokens, scale: 2, using: &rng)
        let fast = Buffer(bytes: rows * tokens * 4), exact = Buffer(bytes: rows * tokens * 4)
        let pool = ComputePool(threadCount: 2)
        head.apply(x.floats, xStride: columns, tokens: tokens, fast.floats, yStride: rows, pool: pool)
        matmul(matrix, x.floats, xStride: columns, tokens: tokens, exact.floats, yStride: rows, pool: pool)
        let row = Buffer(bytes: columns * 4)
        for t in 0..<tokens {
            var same = 0, bestFast = 0, bestExact = 0, outside = 0, bestIsExact = false
            for r in 0..<rows {
                let f = fast.floats[t * rows + r], e = exact.floats[t * rows + r]
                if f > fast.floats[t * rows + bestFast] { bestFast = r }
                if e > exact.floats[t * rows + bestExact] { bestExact = r }
                dequantizeRow(type, matrix.row(r), row.floats, count: columns)
                var magnitude: Float = 0
                for k in 0..<columns { magnitude += abs(row.floats[k] * x.floats[t * columns + k]) }
                // A candidate is the exact kernel's product for one token (the batched kernel may add in another
                // order); the others are the 5-bit draft's, off by a few percent of sum |w x| at most.
                let isExact = abs(f - e) <= 1e-6 * magnitude
                if isExact { same += 1 }
                if r == bestExact { bestIsExact = isExact }
                if !(abs(f - e) <= 0.05 * magnitude) { outside += 1 }
            }
            #expect(same >= candidates, "token \(t): \(same) exact rows")
            #expect(outside == 0, "token \(t)")
            #expect(bestFast == bestExact, "token \(t)")
            #expect(bestIsExact, "token \(t)")
            // The draft is not the exact product: most rows differ.
            #expect(same < rows / 2)
        }
    }

    @Test func shapesItCannotDraftAreRefused() throws {
        var rng = SeededGenerator(seed: 3)
        let weights = randomMatrix(.q8_0, rows: 24, columns: 64, using: &rng)
        #expect(DraftedHead(try MatrixView(base: weights.raw, type: .q8_0, rows: 24, columns: 64)) == nil)
        // The int8 kernels do not cover F16 rows, so they have no draft of their own type.
        let half = randomMatrix(.f16, rows: 32, columns: 64, using: &rng)
        #expect(DraftedHead(try MatrixView(base: half.raw, type: .f16, rows: 32, columns: 64), draft: .fileType) == nil)
    }

    /// Large vocabularies of wide types get the 6-bit draft; everything else the file's own rows; F16 below
    /// `minimumVocabulary` none.
    @Test func fastPathPicksTheDraftByVocabularyAndType() throws {
        var rng = SeededGenerator(seed: 5)
        func head(_ type: GGMLType, vocabulary: Int) throws -> DraftedHead? {
            let weights = randomMatrix(type, rows: 32, columns: 256, using: &rng)
            return DraftedHead.forFastPath(try MatrixView(base: weights.raw, type: type, rows: 32, columns: 256), vocabulary: vocabulary)
        }
        let big = DraftedHead.minimumVocabulary
        #expect(try head(.q8_0, vocabulary: big)?.kind == .requantizedQ5_1)
        #expect(try head(.q6_K, vocabulary: big)?.kind == .requantizedQ5_1)
        #expect(try head(.f16, vocabulary: big)?.kind == .requantizedQ5_1)
        #expect(try head(.q4_K, vocabulary: big)?.kind == .fileType)
        #expect(try head(.q8_0, vocabulary: big - 1)?.kind == .fileType)
        #expect(try head(.q6_K, vocabulary: 49_152)?.kind == .fileType)
        #expect(try head(.f16, vocabulary: 49_152) == nil)
    }
}
