import Foundation
import Testing
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalTestSupport

/// The KV cache's element types: what each stores, and attention reading each of them directly.
@Suite struct KVCacheTypeTests {
    static let converting: [KVCacheType] = [.f16, .bf16, .q8_0]

    @Test func namesFromVLLMAndLlamaCpp() {
        #expect(KVCacheType(name: "fp16") == .f16 && KVCacheType(name: "F16") == .f16)
        #expect(KVCacheType(name: "bfloat16") == .bf16 && KVCacheType(name: "q8_0") == .q8_0)
        #expect(KVCacheType(name: "float32") == .f32)
        #expect(KVCacheType(name: "auto") == nil && KVCacheType(name: "q4_0") == nil)
    }

    @Test func tokensPerByteAgainstFloat32() {
        let f32 = PagedKVCache.bytesPerToken(layerCount: 30, kvWidth: 192, type: .f32)
        #expect(Double(f32) / Double(PagedKVCache.bytesPerToken(layerCount: 30, kvWidth: 192, type: .f16)) == 2)
        #expect(Double(f32) / Double(PagedKVCache.bytesPerToken(layerCount: 30, kvWidth: 192, type: .bf16)) == 2)
        // 32 bytes and a 2-byte scale per 32 elements: 4 / (34 / 32) = 3.76x.
        #expect(Double(f32) / Double(PagedKVCache.bytesPerToken(layerCount: 30, kvWidth: 192, type: .q8_0)) > 3.7)
    }

    @Test(arguments: KVCacheType.allCases)
    func storedTokensReadBackWithinTheTypesPrecision(type: KVCacheType) throws {
        var rng = SeededGenerator(seed: 3)
        let kvWidth = 128
        let cache = try PagedKVCache(layers: 2..<4, kvWidth: kvWidth, blockCount: 3, blockSize: 16, type: type)
        for (block, slot) in [(0, 0), (2, 15), (1, 7)] {
            let keys = (0..<kvWidth).map { _ in rng.float(in: -3...3) }
            let values = (0..<kvWidth).map { _ in rng.float(in: -3...3) }
            cache.store(keys: keys, values: values, layer: 3, block: block, slot: slot)
            for (stored, read) in [(keys, cache.loadKeys(layer: 3, block: block, slot: slot)),
                                   (values, cache.loadValues(layer: 3, block: block, slot: slot))] {
                for chunk in stride(from: 0, to: kvWidth, by: 32) {
                    let amax = stored[chunk..<(chunk + 32)].map(abs).max()!
                    for i in chunk..<(chunk + 32) {
                        let tolerance: Float = switch type {
                        case .f32: 0
                        case .f16: abs(stored[i]) / 1024
                        case .bf16: abs(stored[i]) / 128
                        case .q8_0: amax / 127 * 0.5 * 1.01 + amax / 2048  // half a step, the f16 scale's rounding
                        }
                        #expect(abs(read[i] - stored[i]) <= tolerance, "\(type) element \(i): \(read[i]) for \(stored[i])")
                    }
                }
            }
        }
        // Another layer's block is untouched; copy-on-write copies every layer.
        #expect(cache.loadKeys(layer: 2, block: 2, slot: 15).allSatisfy { $0 == 0 })
        cache.copyBlock(from: 2, to: 0)
        #expect(cache.loadValues(layer: 3, block: 0, slot: 15) == cache.loadValues(layer: 3, block: 2, slot: 15))
    }

    @Test func q8CacheRefusesHeadsItCannotBlock() throws {
        #expect(PagedKVCache.unsupportedReason(type: .q8_0, headDim: 16) != nil)
        #expect(PagedKVCache.unsupportedReason(type: .q8_0, headDim: 64) == nil)
        #expect(PagedKVCache.unsupportedReason(type: .f16, headDim: 16) == nil)
        #expect(throws: ModelError.self) { try PagedKVCache(layerCount: 1, kvWidth: 48, blockCount: 1, type: .q8_0) }
    }

    struct Shape: CustomTestStringConvertible, Sendable {
        var type: KVCacheType
        var headDim: Int
        var blockSize: Int
        var testDescription: String { "\(type) head \(headDim) block \(blockSize)" }
    }

    static let shapes: [Shape] = converting.flatMap { type in
        [(64, 16), (32, 16), (64, 8), (16, 16)].compactMap { headDim, blockSize in
            type == .q8_0 && headDim % 32 != 0 ? nil : Shape(type: type, headDim: headDim, blockSize: blockSize)
        }
    } + [Shape(type: .f32, headDim: 64, blockSize: 16)]

    /// Attention over a cache of each type against a scalar twin that reads the same cache back as floats:
    /// the kernels convert as they load and must compute the same thing, for grouped heads, several sequences
    /// with scattered blocks, and a sliding window.
    @Test(arguments: shapes)
    func attentionReadsEachTypeAsItsScalarTwin(shape: Shape) throws {
        var rng = SeededGenerator(seed: 11)
        // Groups of 3 query heads per KV head, and of 4 with blocks of 8 (the four-head value kernel).
        let heads = shape.blockSize == 8 ? 8 : 6, kvHeads = 2, group = heads / kvHeads, d = shape.headDim, kvWidth = kvHeads * d
        let cache = try PagedKVCache(layers: 0..<1, kvWidth: kvWidth, blockCount: 12, blockSize: shape.blockSize, type: shape.type)
        let lengths = [37, 5, 20]
        var tables: [[Int32]] = []
        var free = Array((0..<Int32(12)).reversed()).shuffled(using: &rng)
        for length in lengths {
            tables.append((0..<((length + shape.blockSize - 1) / shape.blockSize)).map { _ in free.removeLast() })
        }
        for (s, length) in lengths.enumerated() {
            for p in 0..<length {
                let keys = (0..<kvWidth).map { _ in rng.float(in: -1...1) }
                let values = (0..<kvWidth).map { _ in rng.float(in: -1...1) }
                cache.store(keys: keys, values: values, layer: 0, block: Int(tables[s][p / shape.blockSize]), slot: p % shape.blockSize)
            }
        }
        // A token per sequence at its last position (the second with a window of 3), plus one earlier position.
        let views: [PagedAttention.TokenView] = [
            .init(position: 36, firstVisible: 0, sequence: 0), .init(position: 4, firstVisible: 2, sequence: 1),
            .init(position: 19, firstVisible: 0, sequence: 2), .init(position: 17, firstVisible: 0, sequence: 0),
        ]
        let queries = (0..<(views.count * heads * d)).map { _ in rng.float(in: -1...1) }
        let scale = 1 / Float(d).squareRoot()
        var attention = PagedAttention(headCount: heads, kvHeadCount: kvHeads, headDim: d, scale: scale)
        // Chunks of 16 keys: the longer contexts here span up to three chunks, folded in order.
        attention.chunkPositions = 16
        let pool = ComputePool(threadCount: 2)
        func attend(_ views: [PagedAttention.TokenView], _ queries: [Float]) -> [Float] {
            Self.attend(attention, group: group, views, tables, cache, queries, pool)
        }
        let output = attend(views, queries)
        // One token alone is split across the threads a chunk each, and must give the same bits as within the batch.
        let row = heads * d
        let alone = attend([views[0]], Array(queries[0..<row]))
        #expect(alone == Array(output[0..<row]), "\(shape) split across threads")
        Self.expectScalarTwin(output, views, queries, tables, cache, heads: heads, kvHeads: kvHeads, headDim: d,
                              blockSize: shape.blockSize, scale: scale, shape.testDescription)
    }

    /// `attention.run` over one layer-0 cache with enough scratch for two threads.
    static func attend(_ attention: PagedAttention, group: Int, _ views: [PagedAttention.TokenView], _ tables: [[Int32]],
                       _ cache: PagedKVCache, _ queries: [Float], _ pool: ComputePool) -> [Float] {
        var output = [Float](repeating: .nan, count: queries.count)
        let scoreStride = attention.scratchStride()
        var scores = [Float](repeating: 0, count: pool.threadCount * scoreStride * group)
        queries.withUnsafeBufferPointer { q in
            output.withUnsafeMutableBufferPointer { out in
                scores.withUnsafeMutableBufferPointer { s in
                    attention.run(layer: 0, tokens: views, blockTables: tables, cache: cache, queries: q.baseAddress!,
                                  output: out.baseAddress!, scores: s.baseAddress!, scoreStride: scoreStride, pool: pool)
                }
            }
        }
        return output
    }

    /// Checks `output` against attention computed step by step in scalar floats from the cache read back.
    static func expectScalarTwin(
        _ output: [Float], _ views: [PagedAttention.TokenView], _ queries: [Float], _ tables: [[Int32]],
        _ cache: PagedKVCache, heads: Int, kvHeads: Int, headDim d: Int, blockSize: Int, scale: Float, _ label: String
    ) {
        let group = heads / kvHeads
        for (t, view) in views.enumerated() {
            let table = tables[view.sequence]
            let positions = Array(view.firstVisible...view.position)
            let keys = positions.map { cache.loadKeys(layer: 0, block: Int(table[$0 / blockSize]), slot: $0 % blockSize) }
            let values = positions.map { cache.loadValues(layer: 0, block: Int(table[$0 / blockSize]), slot: $0 % blockSize) }
            for h in 0..<heads {
                let g = h / group
                let q = Array(queries[(t * heads + h) * d..<(t * heads + h + 1) * d])
                let logits = keys.map { k in zip(q, k[(g * d)..<((g + 1) * d)]).reduce(0) { $0 + $1.0 * $1.1 } * scale }
                let top = logits.max()!
                let weights = logits.map { exp($0 - top) }
                let total = weights.reduce(0, +)
                for i in 0..<d {
                    var expected: Float = 0
                    for (w, v) in zip(weights, values) { expected += w / total * v[g * d + i] }
                    let got = output[(t * heads + h) * d + i]
                    #expect(abs(got - expected) < 2e-5, "\(label): token \(t) head \(h) dim \(i): \(got) vs \(expected)")
                }
            }
        }
    }

    struct TileShape: CustomTestStringConvertible, Sendable {
        var type: KVCacheType
        var headDim: Int
        var heads: Int
        var kvHeads: Int
        var testDescription: String { "\(type) head \(headDim) \(heads)/\(kvHeads) heads" }
    }

    /// Every cache type that tiles, with groups of 3 (tiles of 4 tokens), 4 (3 tokens), 1 (12 tokens) and 8 query
    /// heads per KV head (no tiling: the twin is then attention itself).
    static let tileShapes: [TileShape] = converting.flatMap { type in
        [(64, 6, 2), (32, 8, 2), (64, 4, 4), (64, 16, 2), (16, 6, 2)].compactMap { headDim, heads, kvHeads in
            type == .q8_0 && headDim % 32 != 0 ? nil : TileShape(type: type, headDim: headDim, heads: heads, kvHeads: kvHeads)
        }
    }

    /// A prefill attended in tiles of consecutive tokens against the same batch token by token: a sequence with
    /// full attention whose tiles straddle chunk boundaries, one with a sliding window (each token's window starts
    /// later), and a lone token. Where token-at-a-time attention runs the same arithmetic (f16 and bf16 at 32-wide
    /// heads; q8_0 where four or more query heads share a KV head) the bits agree; elsewhere the two round apart
    /// only, and both match a scalar twin.
    @Test(arguments: tileShapes)
    func tilesGiveTheResultsOfTokenAtATimeAttention(shape: TileShape) throws {
        var rng = SeededGenerator(seed: 23)
        let heads = shape.heads, kvHeads = shape.kvHeads, group = heads / kvHeads, d = shape.headDim
        let kvWidth = kvHeads * d
        let cache = try PagedKVCache(layers: 0..<1, kvWidth: kvWidth, blockCount: 12, blockSize: 16, type: shape.type)
        let lengths = [41, 23, 11]
        var free = Array((0..<Int32(12)).reversed()).shuffled(using: &rng)
        let tables = lengths.map { length in (0..<((length + 15) / 16)).map { _ in free.removeLast() } }
        for (s, length) in lengths.enumerated() {
            for p in 0..<length {
                let keys = (0..<kvWidth).map { _ in rng.float(in: -1...1) }
                let values = (0..<kvWidth).map { _ in rng.float(in: -1...1) }
                cache.store(keys: keys, values: values, layer: 0, block: Int(tables[s][p / 16]), slot: p % 16)
            }
        }
        let window = 5
        let views: [PagedAttention.TokenView] = (0..<41).map { .init(position: $0, firstVisible: 0, sequence: 0) }
            + (0..<23).map { .init(position: $0, firstVisible: max(0, $0 - window + 1), sequence: 1) }
            + [.init(position: 10, firstVisible: 0, sequence: 2)]
        let queries = (0..<(views.count * heads * d)).map { _ in rng.float(in: -1...1) }
        let scale = 1 / Float(d).squareRoot()
        var attention = PagedAttention(headCount: heads, kvHeadCount: kvHeads, headDim: d, scale: scale)
        attention.chunkPositions = 16
        let pool = ComputePool(threadCount: 2)
        func attend(tiled: Bool) -> [Float] {
            attention.tilesTokens = tiled
            return Self.attend(attention, group: group, views, tables, cache, queries, pool)
        }
        let tiled = attend(tiled: true), alone = attend(tiled: false)
        let sameArithmetic = d % 32 == 0 && (shape.type != .q8_0 || group >= 4)
        if sameArithmetic {
            #expect(tiled == alone, "\(shape): tiles and tokens differ")
        }
        #expect(zip(tiled, alone).allSatisfy { abs($0 - $1) < 2e-6 }, "\(shape): tiles and tokens round apart")
        Self.expectScalarTwin(tiled, views, queries, tables, cache, heads: heads, kvHeads: kvHeads, headDim: d,
                              blockSize: 16, scale: scale, shape.testDescription)
    }

    /// Through a whole model: decoding one token at a time over a cache of each type tracks one pass over the same
    /// cache type. They cannot agree to float rounding: the two compute each token's keys and values in batches of
    /// another size, and a last-bit difference can round a stored element to the next f16/bf16/q8_0 step. So the
    /// gap between them is held to the gap the type itself makes against float32 (a cache that stored tokens in
    /// the wrong slots or read them wrongly would be far off). How close each type stays to float32 on the real
    /// models is `KVCacheAccuracyTests`' business.
    @Test(arguments: converting)
    func decodeOverEachTypeTracksOnePassOverIt(type: KVCacheType) throws {
        var tiny = TinyModel()
        tiny.hidden = 256
        tiny.heads = 4
        tiny.kvHeads = 2
        let file = try GGUFFile(bytes: try tiny.serialized())
        let model = try ModelRegistry.load(file, pool: ComputePool(threadCount: 2))
        var rng = SeededGenerator(seed: 5)
        let n = 40
        let tokens = (0..<n).map { _ in Int32.random(in: 0..<Int32(model.config.vocabularySize), using: &rng) }
        let table: [Int32] = [2, 0, 3]
        let vocab = model.config.vocabularySize
        func run(_ batch: ForwardBatch, _ cache: PagedKVCache) throws -> [Float] {
            var out = [Float](repeating: .nan, count: batch.logitRows.count * vocab)
            try out.withUnsafeMutableBufferPointer { try model.forward(batch, cache: cache, logits: $0.baseAddress!) }
            return out
        }
        let whole = ForwardBatch(tokens: tokens, positions: (0..<n).map(Int32.init),
                                 sequences: [.init(start: 0, count: n, blockTable: table)], logitRows: Array(0..<n))
        let typed = try run(whole, try PagedKVCache(config: model.config, blockCount: 4, type: type))
        let float = try run(whole, try PagedKVCache(config: model.config, blockCount: 4))
        let cache = try PagedKVCache(config: model.config, blockCount: 4, type: type)
        var batch = ForwardBatch()
        batch.append(tokens: Array(tokens[0..<8]), startingAt: 0, blockTable: table)
        _ = try run(batch, cache)
        var decodeGap: Float = 0, typeGap: Float = 0
        for p in 8..<n {
            var step = ForwardBatch()
            step.append(tokens: [tokens[p]], startingAt: p, blockTable: table)
            let logits = try run(step, cache)
            let row = (p * vocab)..<((p + 1) * vocab)
            decodeGap = max(decodeGap, zip(logits, typed[row]).map { abs($0 - $1) }.max()!)
            typeGap = max(typeGap, zip(typed[row], float[row]).map { abs($0 - $1) }.max()!)
        }
        #expect(decodeGap <= typeGap + 1e-3, "\(type): decoding is \(decodeGap) from one pass; the type is \(typeGap) from f32")
    }
}
