import Testing
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalTestSupport

/// The decoder's staged entry points: a model cut into pipeline stages (each with a cache of its own layers)
/// computes what the whole model computes, and files or shards it does not understand are refused.
@Suite struct DecoderShardTests {
    static func tiny(layers: Int = 4, type: GGMLType = .q8_0) throws -> GGUFFile {
        var tiny = TinyModel()
        tiny.layers = layers
        tiny.weightType = type
        return try GGUFFile(bytes: try tiny.serialized())
    }

    /// Runs `batch` through stages cut at `cuts`, each stage a shard with its own cache, and returns the logits.
    func stagedLogits(_ file: GGUFFile, cuts: [Range<Int>], batches: [ForwardBatch], precision: MatmulPrecision) throws -> [[Float]] {
        let pool = ComputePool(threadCount: 2)
        let stages = try cuts.indices.map { try ModelRegistry.load(file, pool: pool, precision: precision, shard: .stage($0, of: cuts)) }
        let caches = try stages.map { try PagedKVCache(layers: $0.shard.layers, kvWidth: $0.cacheKVWidth, blockCount: 4) }
        let config = stages[0].config
        var results: [[Float]] = []
        for batch in batches {
            var hidden = [Float](repeating: 0, count: batch.tokens.count * config.hiddenSize)
            var logits = [Float](repeating: .nan, count: batch.logitRows.count * config.vocabularySize)
            try hidden.withUnsafeMutableBufferPointer { x in
                stages[0].embed(batch, into: x.baseAddress!)
                for (stage, cache) in zip(stages, caches) {
                    try stage.validate(batch, cache: cache)
                    try stage.forward(batch, layers: stage.shard.layers, hidden: x.baseAddress!, cache: cache, reducer: nil)
                }
                logits.withUnsafeMutableBufferPointer { stages.last!.head(batch, hidden: x.baseAddress!, logits: $0.baseAddress!) }
            }
            results.append(logits)
        }
        return results
    }

    func wholeLogits(_ file: GGUFFile, batches: [ForwardBatch], precision: MatmulPrecision) throws -> [[Float]] {
        let model = try ModelRegistry.load(file, pool: ComputePool(threadCount: 2), precision: precision)
        let cache = try PagedKVCache(config: model.config, blockCount: 4)
        return try batches.map { batch in
            var logits = [Float](repeating: .nan, count: batch.logitRows.count * model.config.vocabularySize)
            try logits.withUnsafeMutableBufferPointer { try model.forward(batch, cache: cache, logits: $0.baseAddress!) }
            return logits
        }
    }

    /// A 9-token prefill, then two decode steps, as one sequence.
    static let batches: [ForwardBatch] = {
        let table: [Int32] = [2, 0, 3]
        var prefill = ForwardBatch()
        prefill.append(tokens: [10, 20, 30, 40, 50, 60, 70, 80, 90], startingAt: 0, blockTable: table)
        var first = ForwardBatch()
        first.append(tokens: [100], startingAt: 9, blockTable: table)
        var second = ForwardBatch()
        second.append(tokens: [110], startingAt: 10, blockTable: table)
        return [prefill, first, second]
    }()

    @Test(arguments: [MatmulPrecision.exact, .fast], [[0..<1, 1..<4], [0..<2, 2..<4], [0..<1, 1..<2, 2..<3, 3..<4]])
    func stagesComputeExactlyWhatTheWholeModelComputes(precision: MatmulPrecision, cuts: [Range<Int>]) throws {
        let file = try Self.tiny()
        let whole = try wholeLogits(file, batches: Self.batches, precision: precision)
        let staged = try stagedLogits(file, cuts: cuts, batches: Self.batches, precision: precision)
        // The same kernels over the same numbers in the same order: bit for bit, not merely close.
        #expect(staged == whole)
    }

    @Test func aStageBindsOnlyItsLayersAndHoldsOnlyItsCache() throws {
        let file = try Self.tiny()
        let pool = ComputePool(threadCount: 1)
        let whole = try ModelRegistry.load(file, pool: pool)
        let first = try ModelRegistry.load(file, pool: pool, shard: .stage(0, of: [0..<1, 1..<4]))
        let last = try ModelRegistry.load(file, pool: pool, shard: .stage(1, of: [0..<1, 1..<4]))
        #expect(first.weightBytes < whole.weightBytes && last.weightBytes < whole.weightBytes)
        let cache = try PagedKVCache(layers: 1..<4, kvWidth: last.cacheKVWidth, blockCount: 4)
        #expect(cache.layerCount == 3)
        var batch = ForwardBatch()
        batch.append(tokens: [1, 2], startingAt: 0, blockTable: [0])
        // A cache for other layers, or a whole-model call on a stage, is refused before anything is written.
        #expect(throws: ModelError.self) { try first.validate(batch, cache: cache) }
        var logits = [Float](repeating: 0, count: 2 * whole.config.vocabularySize)
        #expect(throws: ModelError.self) {
            try logits.withUnsafeMutableBufferPointer { try last.forward(batch, cache: cache, logits: $0.baseAddress!) }
        }
    }

    @Test func aFileWithTensorsTheArchitectureDoesNotUseIsRefused() throws {
        var writer = try TinyModel().writer()
        // A query bias (Qwen2 has them): a llama file with it must not be run as plain llama.
        try writer.addTensor(name: "blk.0.attn_q.bias", type: .f32, dimensions: [8],
                             data: ReferenceQuantizer.quantize([Float](repeating: 1, count: 8), as: .f32))
        let file = try GGUFFile(bytes: writer.serialized())
        let error = #expect(throws: ModelError.self) { try ModelRegistry.load(file, pool: ComputePool(threadCount: 1)) }
        #expect(error?.code == .badTensor)
        #expect(error?.message.contains("blk.0.attn_q.bias") == true)
    }

    @Test func balancedStagesCoverEveryLayerAndCountTheHead() {
        let even = ModelShard.balancedStages(layerCosts: Array(repeating: 1, count: 30), headCost: 0, stages: 2)
        #expect(even == [0..<15, 15..<30])
        // A head as costly as 10 layers moves the cut so the last stage holds fewer layers.
        let headed = ModelShard.balancedStages(layerCosts: Array(repeating: 1, count: 30), headCost: 10, stages: 2)
        #expect(headed == [0..<20, 20..<30])
        let three = ModelShard.balancedStages(layerCosts: Array(repeating: 1, count: 4), headCost: 100, stages: 3)
        #expect(three.count == 3 && three.first?.lowerBound == 0 && three.last?.upperBound == 4)
        #expect(zip(three, three.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound && !$0.isEmpty })
    }

    @Test func shardLayoutsSplitHeadsOnGroupsAndBlocks() throws {
        // SmolLM2: 9 query heads over 3 KV heads, head dim 64, FFN 1536.
        let smol = ModelConfig(architecture: "llama", layerCount: 30, hiddenSize: 576, feedForwardSize: 1536, headCount: 9,
                               kvHeadCount: 3, headDim: 64, vocabularySize: 49152, contextLength: 8192, rmsEpsilon: 1e-5,
                               ropeBase: 1e5, ropeDimensions: 64, ropeStyle: .norm)
        let a = try ShardLayout(config: smol, rank: 0, ranks: 2, alignment: 32)
        let b = try ShardLayout(config: smol, rank: 1, ranks: 2, alignment: 32)
        #expect(a.queryHeads == 0..<5 && b.queryHeads == 5..<9)
        // Head 5 belongs to KV head 1, which both ranks then hold.
        #expect(a.kvHeads == 0..<2 && b.kvHeads == 1..<3)
        #expect(a.feedForward == 0..<768 && b.feedForward == 768..<1536)
        #expect(a.vocabulary.count + b.vocabulary.count == 49152)
        // Gemma 3: one KV head, replicated on every rank.
        var gemma = smol
        gemma.headCount = 4
        gemma.kvHeadCount = 1
        gemma.headDim = 256
        let g1 = try ShardLayout(config: gemma, rank: 1, ranks: 2, alignment: 256)
        #expect(g1.queryHeads == 2..<4 && g1.kvHeads == 0..<1)
        #expect(throws: ModelError.self) { try ShardLayout(config: gemma, rank: 0, ranks: 5, alignment: 32) }
    }
}
