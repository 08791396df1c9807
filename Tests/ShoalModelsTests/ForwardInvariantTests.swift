import Testing
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalTestSupport

/// Properties of the forward pass checked on small random models, without the real model.
@Suite struct ForwardInvariantTests {
    static let types: [GGMLType] = [.f32, .q8_0, .q4_1, .q4_0, .f16]

    func makeModel(_ type: GGMLType, threads: Int = 2) throws -> any LanguageModel {
        var tiny = TinyModel()
        tiny.weightType = type
        tiny.embeddingType = type == .q4_1 ? .q8_0 : type
        let file = try GGUFFile(bytes: try tiny.serialized())
        return try ModelRegistry.load(file, pool: ComputePool(threadCount: threads))
    }

    func logits(_ model: any LanguageModel, _ batch: ForwardBatch, cache: PagedKVCache) throws -> [[Float]] {
        let vocab = model.config.vocabularySize
        var out = [Float](repeating: .nan, count: max(1, batch.logitRows.count) * vocab)
        try out.withUnsafeMutableBufferPointer { try model.forward(batch, cache: cache, logits: $0.baseAddress!) }
        return (0..<batch.logitRows.count).map { Array(out[$0 * vocab..<($0 + 1) * vocab]) }
    }

    func maxDiff(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    func randomTokens(_ n: Int, _ rng: inout SeededGenerator, vocab: Int) -> [Int32] {
        (0..<n).map { _ in Int32.random(in: 0..<Int32(vocab), using: &rng) }
    }

    @Test(arguments: types)
    func decodeWithCacheEqualsOneFullPass(type: GGMLType) throws {
        let model = try makeModel(type)
        var rng = SeededGenerator(seed: 7)
        let tokens = randomTokens(37, &rng, vocab: model.config.vocabularySize)
        let cache = try PagedKVCache(config: model.config, blockCount: 8)
        let table: [Int32] = [3, 0, 5, 1, 7, 2, 6, 4]
        // One pass with logits at every position.
        var full = ForwardBatch(tokens: tokens, positions: (0..<37).map(Int32.init),
                                sequences: [.init(start: 0, count: 37, blockTable: table)], logitRows: Array(0..<37))
        let reference = try logits(model, full, cache: cache)
        // Prefill 5, then decode one at a time.
        full = ForwardBatch()
        full.append(tokens: Array(tokens[0..<5]), startingAt: 0, blockTable: table)
        let cache2 = try PagedKVCache(config: model.config, blockCount: 8)
        var stepLogits = try logits(model, full, cache: cache2)
        #expect(maxDiff(stepLogits[0], reference[4]) < 1e-4)
        for p in 5..<37 {
            var step = ForwardBatch()
            step.append(tokens: [tokens[p]], startingAt: p, blockTable: table)
            stepLogits = try logits(model, step, cache: cache2)
            #expect(maxDiff(stepLogits[0], reference[p]) < 1e-4, "position \(p)")
        }
    }

    @Test(arguments: [GGMLType.q8_0, .q4_1])
    func batchOfSequencesEqualsEachAlone(type: GGMLType) throws {
        let model = try makeModel(type)
        var rng = SeededGenerator(seed: 11)
        let vocab = model.config.vocabularySize
        let lengths = [9, 1, 23, 16]
        let prompts = lengths.map { randomTokens($0, &rng, vocab: vocab) }
        // Alone, each in its own cache.
        var alone: [[Float]] = []
        for prompt in prompts {
            let cache = try PagedKVCache(config: model.config, blockCount: 2)
            var b = ForwardBatch()
            b.append(tokens: prompt, startingAt: 0, blockTable: [0, 1])
            alone.append(try logits(model, b, cache: cache)[0])
        }
        // Together, in one shared cache with disjoint scattered block tables.
        let cache = try PagedKVCache(config: model.config, blockCount: 8)
        let tables: [[Int32]] = [[6, 1], [0], [7, 2], [5]]
        var together = ForwardBatch()
        for (prompt, table) in zip(prompts, tables) { together.append(tokens: prompt, startingAt: 0, blockTable: table) }
        let joint = try logits(model, together, cache: cache)
        for i in prompts.indices { #expect(maxDiff(joint[i], alone[i]) < 1e-4, "sequence \(i)") }
        // Then one decode step for all four at once (mixed positions) equals decoding each alone.
        var next = ForwardBatch()
        let nextTokens = randomTokens(4, &rng, vocab: vocab)
        var spare: [Int32] = [3, 4]
        for i in prompts.indices {
            var table = tables[i]
            if lengths[i] + 1 > table.count * 16 { table.append(spare.removeLast()) }
            next.append(tokens: [nextTokens[i]], startingAt: lengths[i], blockTable: table)
        }
        let stepped = try logits(model, next, cache: cache)
        for i in prompts.indices {
            let solo = try PagedKVCache(config: model.config, blockCount: 2)
            var b = ForwardBatch()
            b.append(tokens: prompts[i] + [nextTokens[i]], startingAt: 0, blockTable: [0, 1])
            #expect(maxDiff(stepped[i], try logits(model, b, cache: solo)[0]) < 1e-4, "sequence \(i) decode")
        }
    }

    @Test func pagedLayoutEqualsContiguous() throws {
        let model = try makeModel(.q8_0)
        var rng = SeededGenerator(seed: 5)
        let tokens = randomTokens(70, &rng, vocab: model.config.vocabularySize)
        let contiguous = try PagedKVCache(config: model.config, blockCount: 5)
        var a = ForwardBatch()
        a.append(tokens: tokens, startingAt: 0, blockTable: [0, 1, 2, 3, 4])
        let scattered = try PagedKVCache(config: model.config, blockCount: 12)
        var b = ForwardBatch()
        b.append(tokens: tokens, startingAt: 0, blockTable: [11, 2, 9, 0, 6])
        #expect(maxDiff(try logits(model, a, cache: contiguous)[0], try logits(model, b, cache: scattered)[0]) == 0)
    }

    @Test func threadCountDoesNotChangeResults() throws {
        var rng = SeededGenerator(seed: 9)
        let one = try makeModel(.q4_1, threads: 1)
        let three = try makeModel(.q4_1, threads: 3)
        let tokens = randomTokens(20, &rng, vocab: one.config.vocabularySize)
        var b = ForwardBatch()
        b.append(tokens: tokens, startingAt: 0, blockTable: [0, 1])
        let x = try logits(one, b, cache: try PagedKVCache(config: one.config, blockCount: 2))[0]
        let y = try logits(three, b, cache: try PagedKVCache(config: three.config, blockCount: 2))[0]
        #expect(maxDiff(x, y) < 1e-4)
    }

    @Test func invalidBatchesAreRejected() throws {
        let model = try makeModel(.q8_0)
        let cache = try PagedKVCache(config: model.config, blockCount: 2)
        var outOfVocab = ForwardBatch()
        outOfVocab.append(tokens: [Int32(model.config.vocabularySize)], startingAt: 0, blockTable: [0])
        #expect(throws: ModelError.self) { try logits(model, outOfVocab, cache: cache) }
        var shortTable = ForwardBatch()
        shortTable.append(tokens: Array(repeating: 1, count: 17), startingAt: 0, blockTable: [0])
        #expect(throws: ModelError.self) { try logits(model, shortTable, cache: cache) }
        var badBlock = ForwardBatch()
        badBlock.append(tokens: [1], startingAt: 0, blockTable: [5])
        #expect(throws: ModelError.self) { try logits(model, badBlock, cache: cache) }
        var pastContext = ForwardBatch()
        pastContext.append(tokens: [1], startingAt: model.config.contextLength, blockTable: Array(repeating: 0, count: 20))
        #expect(throws: ModelError.self) { try logits(model, pastContext, cache: cache) }
    }

    @Test func unsupportedArchitectureIsNamed() throws {
        var w = GGUFWriter()
        w.set("general.architecture", .string("mamba9"))
        let file = try GGUFFile(bytes: w.serialized())
        let error = #expect(throws: ModelError.self) { try ModelRegistry.load(file, pool: ComputePool(threadCount: 1)) }
        #expect(error?.message.contains("mamba9") == true)
        #expect(error?.message.contains("llama") == true)
    }

    @Test func missingTensorIsNamed() throws {
        var tiny = TinyModel()
        tiny.layers = 1
        var writer = try tiny.writer()
        writer.set("llama.block_count", .uint32(2))
        let file = try GGUFFile(bytes: writer.serialized())
        let error = #expect(throws: ModelError.self) { try ModelRegistry.load(file, pool: ComputePool(threadCount: 1)) }
        #expect(error?.message.contains("blk.1.attn_norm.weight") == true)
    }
}
