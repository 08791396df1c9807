import Testing
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalTestSupport

/// The Gemma 3 forward pass on small random models written as GGUF here (no tokenizer needed): paging, batching and
/// cached decoding agree with one full pass, and the sliding window hides exactly the keys it should.
@Suite struct Gemma3TinyModelTests {
    static let vocabulary = 300

    /// A random gemma3 GGUF: head dim 48 with 2 query heads and 1 KV head (query width 96 != hidden 64).
    static func tinyGemma(layers: Int = 6, window: Int = 8, seed: UInt64 = 3) throws -> GGUFFile {
        var rng = SeededGenerator(seed: seed)
        let hidden = 64, heads = 2, headDim = 48, feedForward = 96
        var w = GGUFWriter()
        w.set("general.architecture", .string("gemma3"))
        w.set("gemma3.block_count", .uint32(UInt32(layers)))
        w.set("gemma3.context_length", .uint32(256))
        w.set("gemma3.embedding_length", .uint32(UInt32(hidden)))
        w.set("gemma3.feed_forward_length", .uint32(UInt32(feedForward)))
        w.set("gemma3.attention.head_count", .uint32(UInt32(heads)))
        w.set("gemma3.attention.head_count_kv", .uint32(1))
        w.set("gemma3.attention.key_length", .uint32(UInt32(headDim)))
        w.set("gemma3.attention.value_length", .uint32(UInt32(headDim)))
        w.set("gemma3.attention.layer_norm_rms_epsilon", .float32(1e-6))
        w.set("gemma3.rope.freq_base", .float32(1_000_000))
        w.set("gemma3.attention.sliding_window", .uint32(UInt32(window)))
        func matrix(_ name: String, rows: Int, columns: Int, scale: Float) throws {
            let values = rng.floats(rows * columns, in: -scale...scale)
            try w.addTensor(name: name, type: .q8_0, dimensions: [columns, rows], data: ReferenceQuantizer.quantize(values, as: .q8_0))
        }
        func norm(_ name: String, _ count: Int) throws {
            let values = (0..<count).map { _ in 1 + rng.float(in: -0.3...0.3) }
            try w.addTensor(name: name, type: .f32, dimensions: [count], data: ReferenceQuantizer.quantize(values, as: .f32))
        }
        try matrix("token_embd.weight", rows: vocabulary, columns: hidden, scale: 0.2)
        for i in 0..<layers {
            let p = "blk.\(i)."
            try norm(p + "attn_norm.weight", hidden)
            try matrix(p + "attn_q.weight", rows: heads * headDim, columns: hidden, scale: 0.3)
            try matrix(p + "attn_k.weight", rows: headDim, columns: hidden, scale: 0.3)
            try matrix(p + "attn_v.weight", rows: headDim, columns: hidden, scale: 0.3)
            try norm(p + "attn_q_norm.weight", headDim)
            try norm(p + "attn_k_norm.weight", headDim)
            try matrix(p + "attn_output.weight", rows: hidden, columns: heads * headDim, scale: 0.2)
            try norm(p + "post_attention_norm.weight", hidden)
            try norm(p + "ffn_norm.weight", hidden)
            try matrix(p + "ffn_gate.weight", rows: feedForward, columns: hidden, scale: 0.3)
            try matrix(p + "ffn_up.weight", rows: feedForward, columns: hidden, scale: 0.3)
            try matrix(p + "ffn_down.weight", rows: hidden, columns: feedForward, scale: 0.2)
            try norm(p + "post_ffw_norm.weight", hidden)
        }
        try norm("output_norm.weight", hidden)
        return try GGUFFile(bytes: w.serialized())
    }

    static func load(_ file: GGUFFile, threads: Int = 2) throws -> any LanguageModel {
        try ModelRegistry.load(file, pool: ComputePool(threadCount: threads))
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

    func randomTokens(_ n: Int, _ rng: inout SeededGenerator) -> [Int32] {
        (0..<n).map { _ in Int32.random(in: 0..<Int32(Self.vocabulary), using: &rng) }
    }

    @Test func loadsWithGemmaSettings() throws {
        let model = try #require(try Self.load(Self.tinyGemma()) as? DecoderModel)
        #expect(model.spec.attention[0] == .init(slidingWindow: 8, ropeBase: 10_000) && model.spec.attention[5] == .init(ropeBase: 1_000_000) && model.config.ropeBase == 1_000_000)
        #expect(model.config.queryWidth == 96 && model.config.kvWidth == 48 && model.config.ropeStyle == .neox)
        #expect(model.spec.embeddingScale == Float(8))
    }

    /// Prefill 5 tokens, then decode one at a time past several windows: each step equals the full pass.
    @Test(arguments: [1, 2])
    func decodeWithCacheEqualsOneFullPass(threads: Int) throws {
        let model = try Self.load(Self.tinyGemma(), threads: threads)
        var rng = SeededGenerator(seed: 7)
        let n = 37
        let tokens = randomTokens(n, &rng)
        let table: [Int32] = [2, 0, 1]
        var full = ForwardBatch(tokens: tokens, positions: (0..<Int32(n)).map { $0 },
                                sequences: [.init(start: 0, count: n, blockTable: table)], logitRows: Array(0..<n))
        let reference = try logits(model, full, cache: try PagedKVCache(config: model.config, blockCount: 3))
        full = ForwardBatch()
        full.append(tokens: Array(tokens[0..<5]), startingAt: 0, blockTable: table)
        let cache = try PagedKVCache(config: model.config, blockCount: 3)
        #expect(maxDiff(try logits(model, full, cache: cache)[0], reference[4]) < 1e-4)
        for p in 5..<n {
            var step = ForwardBatch()
            step.append(tokens: [tokens[p]], startingAt: p, blockTable: table)
            #expect(maxDiff(try logits(model, step, cache: cache)[0], reference[p]) < 1e-4, "position \(p)")
        }
    }

    @Test func batchOfSequencesEqualsEachAlone() throws {
        let model = try Self.load(Self.tinyGemma())
        var rng = SeededGenerator(seed: 11)
        let lengths = [9, 1, 23, 16]
        let prompts = lengths.map { randomTokens($0, &rng) }
        var alone: [[Float]] = []
        for prompt in prompts {
            var b = ForwardBatch()
            b.append(tokens: prompt, startingAt: 0, blockTable: [0, 1])
            alone.append(try logits(model, b, cache: try PagedKVCache(config: model.config, blockCount: 2))[0])
        }
        let cache = try PagedKVCache(config: model.config, blockCount: 8)
        let tables: [[Int32]] = [[6, 1], [0], [7, 2], [5]]
        var together = ForwardBatch()
        for (prompt, table) in zip(prompts, tables) { together.append(tokens: prompt, startingAt: 0, blockTable: table) }
        let joint = try logits(model, together, cache: cache)
        for i in prompts.indices { #expect(maxDiff(joint[i], alone[i]) < 1e-4, "sequence \(i)") }
        // One decode step for all four at once (mixed positions, some past the window) equals each alone.
        var next = ForwardBatch()
        let nextTokens = randomTokens(4, &rng)
        var spare: [Int32] = [3, 4]
        for i in prompts.indices {
            var table = tables[i]
            if lengths[i] + 1 > table.count * 16 { table.append(spare.removeLast()) }
            next.append(tokens: [nextTokens[i]], startingAt: lengths[i], blockTable: table)
        }
        let stepped = try logits(model, next, cache: cache)
        for i in prompts.indices {
            var b = ForwardBatch()
            b.append(tokens: prompts[i] + [nextTokens[i]], startingAt: 0, blockTable: [0, 1])
            let solo = try logits(model, b, cache: try PagedKVCache(config: model.config, blockCount: 2))[0]
            #expect(maxDiff(stepped[i], solo) < 1e-4, "sequence \(i) decode")
        }
    }

    /// With only local layers (fewer than 6), position p depends on tokens p - layers * (window - 1) ... p alone:
    /// changing an earlier token leaves its logits bit for bit unchanged, changing the first one in reach does not.
    @Test func slidingWindowHidesExactlyTheOlderKeys() throws {
        let layers = 2, window = 8
        let model = try Self.load(Self.tinyGemma(layers: layers, window: window))
        var rng = SeededGenerator(seed: 13)
        let n = 40
        let tokens = randomTokens(n, &rng)
        let reach = layers * (window - 1)  // 14
        func lastLogits(_ t: [Int32]) throws -> [Float] {
            var b = ForwardBatch()
            b.append(tokens: t, startingAt: 0, blockTable: [0, 1, 2])
            return try logits(model, b, cache: try PagedKVCache(config: model.config, blockCount: 3))[0]
        }
        let base = try lastLogits(tokens)
        var outside = tokens
        for p in 0..<(n - 1 - reach) { outside[p] = (tokens[p] + 1) % Int32(Self.vocabulary) }
        #expect(try lastLogits(outside) == base)
        var inside = tokens
        inside[n - 1 - reach] = (tokens[n - 1 - reach] + 1) % Int32(Self.vocabulary)
        #expect(maxDiff(try lastLogits(inside), base) > 1e-4)
        // A wide window sees everything: the far change then shows.
        let wide = try Self.load(Self.tinyGemma(layers: layers, window: 512))
        var a = ForwardBatch(), b = ForwardBatch()
        a.append(tokens: tokens, startingAt: 0, blockTable: [0, 1, 2])
        b.append(tokens: outside, startingAt: 0, blockTable: [0, 1, 2])
        let wa = try logits(wide, a, cache: try PagedKVCache(config: wide.config, blockCount: 3))[0]
        let wb = try logits(wide, b, cache: try PagedKVCache(config: wide.config, blockCount: 3))[0]
        #expect(maxDiff(wa, wb) > 1e-4)
    }

    @Test func missingGemmaTensorIsNamed() throws {
        var w = GGUFWriter()
        w.set("general.architecture", .string("gemma3"))
        w.set("gemma3.block_count", .uint32(1))
        w.set("gemma3.embedding_length", .uint32(64))
        w.set("gemma3.feed_forward_length", .uint32(96))
        w.set("gemma3.attention.head_count", .uint32(2))
        try w.addTensor(name: "token_embd.weight", type: .f32, dimensions: [64, 4],
                        data: ReferenceQuantizer.quantize([Float](repeating: 0, count: 256), as: .f32))
        let error = #expect(throws: ModelError.self) { try Self.load(GGUFFile(bytes: w.serialized())) }
        #expect(error?.message.contains("blk.0.attn_norm.weight") == true)
    }
}
