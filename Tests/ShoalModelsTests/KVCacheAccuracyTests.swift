import Foundation
import Testing
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalTestSupport

/// KV caches of f16, bf16 and q8_0 against the float32 cache, exact matrix products, at every prompt position of the
/// logits fixtures (the way `FastPathAccuracyTests` measures the fast path). f16 and bf16 are held to the fast
/// path's bars (llama.cpp's 8-bit path against the reference, `fixtures/ACCURACY.md`); q8_0 to its own, looser
/// one, and its figures are printed for the README.
@Suite(.serialized)
struct KVCacheAccuracyTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var bar: FastPathAccuracyTests.Bar
        var type: KVCacheType
        var testDescription: String { "\(bar.fixtures) \(type)" }
    }

    static let cases: [Case] = FastPathAccuracyTests.bars.flatMap { bar in
        [KVCacheType.f16, .bf16, .q8_0].map { Case(bar: bar, type: $0) }
    }

    @Test(arguments: cases)
    func storedPrecisionStaysWithinTheBar(case c: Case) async throws {
        guard RealModel.shouldTest(c.bar.file) else { return }
        let (positions, meanKL, topAgreement) = try await onOwnThread { try Self.measure(c) }
        #expect(positions > 600)
        // q8_0: twice the fast path's mean KL, and a point less top-1 agreement.
        let klBar = c.type == .q8_0 ? 2 * c.bar.meanKL : c.bar.meanKL
        let topBar = c.type == .q8_0 ? c.bar.topAgreement - 0.01 : c.bar.topAgreement
        #expect(meanKL <= klBar, "mean KL \(meanKL) over \(positions) positions")
        #expect(topAgreement >= topBar, "top-1 agreement \(topAgreement) over \(positions) positions")
    }

    /// Positions compared, mean KL(f32 cache || typed cache), top-1 agreement.
    static func measure(_ c: Case) throws -> (Int, Double, Double) {
        let file = try GGUFFile(path: RealModel.path(c.bar.file))
        let model = try ModelRegistry.load(file, pool: ComputePool(threadCount: 2), precision: .exact)
        struct Index: Decodable { var prompts: [String] }
        let names = try Fixtures.decode(Index.self, "\(c.bar.fixtures)/logits/index.json").prompts
        let vocab = model.config.vocabularySize
        var klSum = 0.0, agree = 0, positions = 0
        for name in names {
            let ids = try Fixtures.decode(FastPathAccuracyTests.LogitsFixture.self, "\(c.bar.fixtures)/logits/\(name).json").prompt_ids
            var start = 0
            while start < ids.count {
                let rows = start..<min(ids.count, start + 256)
                let f32 = try FastPathAccuracyTests.logits(model, ids, rows: rows)
                let typed = try FastPathAccuracyTests.logits(model, ids, rows: rows, cacheType: c.type)
                for row in 0..<rows.count {
                    let range = row * vocab..<(row + 1) * vocab
                    let (kl, sameTop) = LogitComparison.compare(f32[range], typed[range])
                    klSum += kl
                    agree += sameTop ? 1 : 0
                    positions += 1
                }
                start = rows.upperBound
            }
        }
        let meanKL = klSum / Double(positions), topAgreement = Double(agree) / Double(positions)
        print("\(c.type) KV cache vs f32, \(c.bar.fixtures), \(positions) positions: mean KL \(meanKL), top-1 agreement \(topAgreement)")
        return (positions, meanKL, topAgreement)
    }
}
