import Foundation
import ShoalCluster
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalTestSupport
import Testing

/// Tensor-parallel ranks in one process (a thread each, all-reducing through a shared segment) against the whole
/// model, on SmolLM2: the split changes only the order of additions, so the last-position logits agree to float
/// rounding. Exact precision only for now: with the int8 fast path the split moves logits by up to ~0.5 (issue 10's
/// note: not yet explained, since every slice is cut on quantization blocks).
struct TensorParallelNumericsTests {
    static let prompt: [Int32] = [504, 3458, 282, 4649, 314, 7042, 30, 198, 198, 504, 1616, 282, 253, 1789, 16733, 314]

    static func logits(_ model: DecoderModel, ids: [Int32], reducer: (any PartialSumReducer)?) throws -> [Float] {
        let n = ids.count
        let cache = try PagedKVCache(layers: model.shard.layers, kvWidth: model.cacheKVWidth, blockCount: 2)
        let batch = ForwardBatch(tokens: ids, positions: (0..<n).map(Int32.init),
                                 sequences: [.init(start: 0, count: n, blockTable: [0, 1])], logitRows: [n - 1])
        var hidden = [Float](repeating: 0, count: n * model.config.hiddenSize)
        var logits = [Float](repeating: .nan, count: model.logitsWidth)
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
        let whole = try ModelRegistry.load(file, pool: ComputePool(threadCount: 1), precision: precision)
        let expected = try Self.logits(whole, ids: Self.prompt, reducer: nil)
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
                        (rank, try Self.logits(model, ids: Self.prompt, reducer: Reducer(segment)))
                    }
                }
            }
            var shares = [[Float]](repeating: [], count: 2)
            for try await (rank, logits) in group { shares[rank] = logits }
            return shares
        }
        let split = shares[0] + shares[1]
        #expect(split.count == expected.count)
        let worst = zip(split, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 2e-3, "\(precision): the largest logit difference is \(worst)")
    }

    final class Reducer: PartialSumReducer, @unchecked Sendable {
        let segment: SharedReduction
        init(_ segment: SharedReduction) { self.segment = segment }
        func allReduce(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
            try segment.allReduce(values, count: count) {}
        }
    }
}
