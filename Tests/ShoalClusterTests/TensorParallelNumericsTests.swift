import Dispatch
import Foundation
import ShoalCluster
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalTestSupport
import Testing

/// Tensor-parallel ranks in one process (a thread each, all-reducing through a shared segment) against the whole
/// model, on SmolLM2. Exact: the split changes only the order of additions, so logits agree to float rounding.
/// Fast: each matmul quantizes its input to int8 again, and a last-bit difference from the sums' order flips
/// the rounding of some of those bytes, so the split is another draw of quantization noise (logits move by up to
/// ~0.5, as fast moves from exact); what must hold is the fast path's accuracy bar (`FastPathAccuracyTests`:
/// llama.cpp's 8-bit path against the reference), split as well as whole.
struct TensorParallelNumericsTests {
    static let prompt: [Int32] = [504, 3458, 282, 4649, 314, 7042, 30, 198, 198, 504, 1616, 282, 253, 1789, 16733, 314]

    /// Logits of `ids` (one sequence from position 0) at `rows`: `rows.count x model.logitsWidth` floats.
    static func logits(_ model: DecoderModel, ids: [Int32], rows: [Int], reducer: (any PartialSumReducer)?) throws -> [Float] {
        let n = ids.count, blocks = (n + 15) / 16
        let cache = try PagedKVCache(layers: model.shard.layers, kvWidth: model.cacheKVWidth, blockCount: blocks)
        let batch = ForwardBatch(tokens: ids, positions: (0..<n).map(Int32.init),
                                 sequences: [.init(start: 0, count: n, blockTable: (0..<Int32(blocks)).map { $0 })], logitRows: rows)
        var hidden = [Float](repeating: 0, count: n * model.config.hiddenSize)
        var logits = [Float](repeating: .nan, count: rows.count * model.logitsWidth)
        try hidden.withUnsafeMutableBufferPointer { x in
            model.embed(batch, into: x.baseAddress!)
            try model.forward(batch, layers: model.shard.layers, hidden: x.baseAddress!, cache: cache, reducer: reducer)
            logits.withUnsafeMutableBufferPointer { model.head(batch, hidden: x.baseAddress!, logits: $0.baseAddress!) }
        }
        return logits
    }

    @Test(.enabled(if: RealModel.shouldTest(RealModel.smolLM2)), arguments: [MatmulPrecision.exact])
    func ranksAgreeWithTheWholeModel(precision: MatmulPrecision) async throws {
        let file = try GGUFFile(path: RealModel.path(RealModel.smolLM2), residency: .mapped)
        let worst = try await Self.largestSplitDifference(file, prompt: Self.prompt, precision: precision)
        #expect(worst < 2e-3, "\(precision): the largest logit difference is \(worst)")
    }

    /// The architecture fixtures that tensor-parallel ranks can split (fused projections and experts are refused):
    /// biases (Qwen2), q/k norms and a head dimension of its own (Qwen3), rope factors (Llama 3), soft-capping and
    /// windows (Gemma 2), split over two ranks, agree with the whole model.
    @Test(arguments: ["llama3", "qwen2", "qwen3", "mistral", "gemma2"])
    func ranksOfEachArchitectureAgreeWithTheWholeModel(family: String) async throws {
        let file = try GGUFFile(path: Fixtures.url("architectures/\(family)/model-Q8_0.gguf").path)
        let prompt: [Int32] = (0..<24).map { Int32(3 + ($0 * 37) % 300) }
        let worst = try await Self.largestSplitDifference(file, prompt: prompt, precision: .exact)
        #expect(worst < 1e-4, "\(family): the largest logit difference is \(worst)")
    }

    /// The largest difference between the whole model's last-position logits for `prompt` and those of two
    /// tensor-parallel ranks (a thread each, all-reducing through a shared segment).
    static func largestSplitDifference(_ file: GGUFFile, prompt: [Int32], precision: MatmulPrecision) async throws -> Float {
        let whole = try ModelRegistry.load(file, pool: ComputePool(threadCount: 1), precision: precision)
        let last = [prompt.count - 1]
        let expected = try Self.logits(whole, ids: prompt, rows: last, reducer: nil)
        let layers = whole.config.layerCount
        let ranks = try (0..<2).map {
            try ModelRegistry.load(file, pool: ComputePool(threadCount: 1), precision: precision,
                                   shard: ModelShard(layers: 0..<layers, holdsEmbedding: true, holdsHead: true, tensorRank: $0, tensorCount: 2))
        }
        let (segment0, nonce) = try SharedReduction.create(ranks: 2)
        let segment1 = try SharedReduction.attach(path: segment0.path, nonce: nonce, rank: 1, ranks: 2, slotFloats: segment0.slotFloats)
        segment0.unlinkName()
        let segments = [segment0, segment1]
        let shares = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for rank in 0..<2 {
                let model = ranks[rank], segment = segments[rank]
                group.addTask {
                    try await onOwnThread {
                        (rank, try Self.logits(model, ids: prompt, rows: last, reducer: Reducer(segment)))
                    }
                }
            }
            var shares = [[Float]](repeating: [], count: 2)
            for try await (rank, logits) in group { shares[rank] = logits }
            return shares
        }
        let split = shares[0] + shares[1]
        guard split.count == expected.count else { return .infinity }
        return zip(split, expected).map { abs($0 - $1) }.max() ?? .infinity
    }

    /// Mean KL(exact || split fast) and top-1 agreement over every position of the logits fixtures, and the largest
    /// KL(reference || split fast) at a prompt's last position, against the bars llama.cpp's 8-bit path sets.
    @Test(.enabled(if: RealModel.shouldTest(RealModel.smolLM2)))
    func fastRanksMeetTheFastPathAccuracyBar() async throws {
        let (positions, meanKL, topAgreement, lastKLMax) = try await onOwnThread { try Self.measureSplitFastPath() }
        #expect(positions > 600)
        #expect(meanKL <= 0.0033, "mean KL \(meanKL) over \(positions) positions")
        #expect(topAgreement >= 0.963, "top-1 agreement \(topAgreement) over \(positions) positions")
        #expect(lastKLMax <= 0.079, "largest last-position KL to the reference \(lastKLMax)")
    }

    struct LogitsFixture: Decodable { var prompt_ids: [Int32] }

    static func measureSplitFastPath() throws -> (Int, Double, Double, Double) {
        let file = try GGUFFile(path: RealModel.path(RealModel.smolLM2), residency: .mapped)
        let exact = try ModelRegistry.load(file, pool: ComputePool(threadCount: 1), precision: .exact)
        let layers = exact.config.layerCount, vocab = exact.config.vocabularySize
        let ranks = try (0..<2).map {
            try ModelRegistry.load(file, pool: ComputePool(threadCount: 1), precision: .fast,
                                   shard: ModelShard(layers: 0..<layers, holdsEmbedding: true, holdsHead: true, tensorRank: $0, tensorCount: 2))
        }
        struct Index: Decodable { var prompts: [String] }
        let names = try Fixtures.decode(Index.self, "smollm2/logits/index.json").prompts
        var klSum = 0.0, agree = 0, positions = 0, lastKLMax = 0.0
        for name in names {
            let ids = try Fixtures.decode(LogitsFixture.self, "smollm2/logits/\(name).json").prompt_ids
            let rows = Array(0..<ids.count)
            let exactLogits = try logits(exact, ids: ids, rows: rows, reducer: nil)
            // Both ranks at once, each on its own thread, all-reducing through a fresh segment.
            let (segment0, nonce) = try SharedReduction.create(ranks: 2)
            let segment1 = try SharedReduction.attach(path: segment0.path, nonce: nonce, rank: 1, ranks: 2, slotFloats: segment0.slotFloats)
            segment0.unlinkName()
            let shares = try inParallel([segment0, segment1].enumerated().map { rank, segment in
                { try logits(ranks[rank], ids: ids, rows: rows, reducer: Reducer(segment)) }
            })
            let w0 = ranks[0].logitsWidth, w1 = ranks[1].logitsWidth
            for row in rows {
                let split = shares[0][row * w0..<(row + 1) * w0] + shares[1][row * w1..<(row + 1) * w1]
                let (kl, sameTop) = LogitComparison.compare(exactLogits[row * vocab..<(row + 1) * vocab], split[...])
                klSum += kl
                agree += sameTop ? 1 : 0
                positions += 1
                if row == ids.count - 1 {
                    let reference = try Fixtures.floats("smollm2/logits/\(name).bin")
                    lastKLMax = max(lastKLMax, LogitComparison.compare(reference[...], split[...]).kl)
                }
            }
        }
        let result = (positions, klSum / Double(positions), Double(agree) / Double(positions), lastKLMax)
        print("fast path split over 2 ranks vs exact, smollm2, \(result.0) positions: mean KL \(result.1), top-1 agreement \(result.2);"
              + " largest KL to the reference at a last position \(result.3)")
        return result
    }

    /// Runs `bodies` on threads of their own at once; their results in order.
    static func inParallel<T>(_ bodies: [() throws -> T]) throws -> [T] {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var results = [Result<T, any Error>?](repeating: nil, count: bodies.count)
        for (index, body) in bodies.enumerated() {
            nonisolated(unsafe) let body = body
            let thread = Thread {
                let result = Result { try body() }
                results[index] = result
                done.signal()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        for _ in bodies { done.wait() }
        return try results.map { try $0!.get() }
    }


    final class Reducer: PartialSumReducer, @unchecked Sendable {
        let segment: SharedReduction
        init(_ segment: SharedReduction) { self.segment = segment }
        func allReduce(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
            try segment.allReduce(values, count: count) {}
        }
    }
}
