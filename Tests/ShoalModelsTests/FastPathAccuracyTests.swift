import Foundation
import Testing
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalTestSupport

/// The fast path (int8 activations) against the exact one on the real SmolLM2 model, at every prompt position of
/// the logits fixtures, held to the bar of `fixtures/ACCURACY.md`: llama.cpp's 8-bit path reaches mean
/// KL(reference || llama.cpp) 0.0033 nats and top-1 agreement 96.3% over these positions (and the held-out ones).
/// The exact path stands in for the reference at positions the fixtures give only top-20 for; it agrees with the
/// reference to 1e-3 (SmolLM2LogitsTests), and the last positions are also compared with the reference itself.
@Suite(.enabled(if: RealModel.shouldTest(RealModel.smolLM2)), .serialized)
struct FastPathAccuracyTests {
    struct LogitsFixture: Decodable {
        var prompt_ids: [Int32]
    }

    /// All-position logits of `ids` (one sequence from position 0).
    static func logits(_ model: any LanguageModel, _ ids: [Int32]) throws -> [Float] {
        let n = ids.count
        let blocks = (n + 15) / 16
        let cache = try PagedKVCache(config: model.config, blockCount: blocks)
        let batch = ForwardBatch(tokens: ids, positions: (0..<n).map(Int32.init),
                                 sequences: [.init(start: 0, count: n, blockTable: (0..<Int32(blocks)).map { $0 })],
                                 logitRows: Array(0..<n))
        var logits = [Float](repeating: .nan, count: n * model.config.vocabularySize)
        try logits.withUnsafeMutableBufferPointer { try model.forward(batch, cache: cache, logits: $0.baseAddress!) }
        return logits
    }

    /// KL(p || q) in nats for the softmaxes of two logit rows, and whether their argmaxes agree.
    static func compare(_ p: ArraySlice<Float>, _ q: ArraySlice<Float>) -> (kl: Double, sameTop: Bool) {
        func logSoftmax(_ row: ArraySlice<Float>) -> [Double] {
            let maximum = Double(row.max()!)
            let logSum = log(row.reduce(0.0) { $0 + exp(Double($1) - maximum) }) + maximum
            return row.map { Double($0) - logSum }
        }
        let lp = logSoftmax(p), lq = logSoftmax(q)
        var kl = 0.0
        for i in lp.indices { kl += exp(lp[i]) * (lp[i] - lq[i]) }
        let topP = p.indices.max { p[$0] < p[$1] }!, topQ = q.indices.max { q[$0] < q[$1] }!
        return (max(0, kl), topP - p.startIndex == topQ - q.startIndex)
    }

    @Test func fastPathIsAsCloseAsLlamaCpp() throws {
        let file = try GGUFFile(path: RealModel.path(RealModel.smolLM2))
        let pool = ComputePool(threadCount: 2)
        let exact = try ModelRegistry.load(file, pool: pool, precision: .exact)
        let fast = try ModelRegistry.load(file, pool: pool, precision: .fast)
        struct Index: Decodable { var prompts: [String] }
        let names = try Fixtures.decode(Index.self, "smollm2/logits/index.json").prompts
        let vocab = exact.config.vocabularySize
        var klSum = 0.0, agree = 0, positions = 0, lastKLSum = 0.0, lastKLMax = 0.0
        for name in names {
            let ids = try Fixtures.decode(LogitsFixture.self, "smollm2/logits/\(name).json").prompt_ids
            let exactLogits = try Self.logits(exact, ids), fastLogits = try Self.logits(fast, ids)
            for position in ids.indices {
                let range = position * vocab..<(position + 1) * vocab
                let (kl, sameTop) = Self.compare(exactLogits[range], fastLogits[range])
                klSum += kl
                agree += sameTop ? 1 : 0
                positions += 1
            }
            let reference = try Fixtures.floats("smollm2/logits/\(name).bin")
            let lastKL = Self.compare(reference[...], fastLogits[(ids.count - 1) * vocab..<ids.count * vocab]).kl
            lastKLSum += lastKL
            lastKLMax = max(lastKLMax, lastKL)
        }
        let meanKL = klSum / Double(positions), topAgreement = Double(agree) / Double(positions)
        print("fast path vs exact, SmolLM2, \(positions) positions: mean KL \(meanKL), top-1 agreement \(topAgreement);"
              + " mean KL vs the reference at the \(names.count) last positions \(lastKLSum / Double(names.count))")
        #expect(positions > 600)
        #expect(meanKL <= 0.0033, "mean KL \(meanKL) over \(positions) positions")
        #expect(topAgreement >= 0.963, "top-1 agreement \(topAgreement) over \(positions) positions")
        // Eight positions are too few for the mean bar; none may be further off than llama.cpp's worst (0.079).
        #expect(lastKLMax <= 0.079, "largest last-position KL to the reference \(lastKLMax)")
    }
}
