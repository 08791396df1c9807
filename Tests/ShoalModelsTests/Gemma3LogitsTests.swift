import Foundation
import Testing
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalTestSupport

/// The real Gemma 3 270M (Q4_K_M) against the reference logits and greedy continuations (Hugging Face transformers,
/// float32, dequantized weights). See Tests/Fixtures/gemma3/README.md for the tolerances.
@Suite(.enabled(if: RealModel.shouldTest(RealModel.gemma3)), .serialized)
struct Gemma3LogitsTests {
    struct LogitsFixture: Decodable {
        struct Position: Decodable {
            var pos: Int
            var top20: [[Double]]
        }
        struct Step: Decodable {
            var id: Int32
            var margin: Double
        }
        struct Greedy: Decodable {
            var ids: [Int32]
            var steps: [Step]
        }
        var name: String
        var prompt_ids: [Int32]
        var top20_first_positions: [Position]
        var greedy: Greedy
    }

    static let names: [String] = {
        struct Index: Decodable { var prompts: [String] }
        return (try? Fixtures.decode(Index.self, "gemma3/logits/index.json").prompts) ?? []
    }()

    static let model: (any LanguageModel)? = {
        guard let file = try? GGUFFile(path: RealModel.path(RealModel.gemma3)) else { return nil }
        return try? ModelRegistry.load(file, pool: ComputePool(threadCount: 2))
    }()

    static func argmax(_ row: UnsafeBufferPointer<Float>) -> Int32 {
        var best = 0
        for i in row.indices where row[i] > row[best] { best = i }
        return Int32(best)
    }

    @Test func loadsAsGemma3() throws {
        let model = try #require(Self.model as? DecoderModel, "cannot load \(RealModel.path(RealModel.gemma3))")
        #expect(model.config.layerCount == 18 && model.config.hiddenSize == 640 && model.config.headDim == 256)
        #expect(model.config.headCount == 4 && model.config.kvHeadCount == 1 && model.config.vocabularySize == 262_144)
        #expect(model.spec.attention[0] == .init(slidingWindow: 512, ropeBase: 10_000) && model.spec.attention[5] == .init(ropeBase: 1_000_000) && model.config.ropeBase == 1_000_000)
        #expect(model.config.ropeStyle == .neox && model.spec.embeddingScale == Float(25.298222))
    }

    /// One causal pass over the prompt: last-position logits, the top-20 at the first positions; then greedy decoding
    /// token by token through the paged cache reproduces the reference continuation.
    @Test(arguments: names)
    func logitsAndGreedyMatchReference(name: String) async throws {
        let model = try #require(Self.model, "cannot load \(RealModel.path(RealModel.gemma3))")
        let fixture = try Fixtures.decode(LogitsFixture.self, "gemma3/logits/\(name).json")
        let reference = try Fixtures.floats("gemma3/logits/\(name).bin")
        let n = fixture.prompt_ids.count
        let steps = fixture.greedy.ids.count
        let firstRows = fixture.top20_first_positions.map(\.pos)
        let rows = firstRows + [n - 1]
        let blocks = (n + steps + 15) / 16
        // A scattered block table, so the paging is exercised too.
        var rng = SeededGenerator(seed: UInt64(n))
        let table = (0..<Int32(blocks)).shuffled(using: &rng)
        let vocab = model.config.vocabularySize
        let promptIDs = fixture.prompt_ids
        // The prefill, then greedy decoding token by token through the cache (it does not stop at <eos>).
        let (logits, generated) = try await onOwnThread { () throws -> ([Float], [Int32]) in
            let cache = try PagedKVCache(config: model.config, blockCount: blocks)
            let batch = ForwardBatch(tokens: promptIDs, positions: (0..<n).map(Int32.init),
                                     sequences: [.init(start: 0, count: n, blockTable: table)], logitRows: rows)
            var logits = [Float](repeating: .nan, count: rows.count * vocab)
            try logits.withUnsafeMutableBufferPointer { try model.forward(batch, cache: cache, logits: $0.baseAddress!) }
            var generated: [Int32] = []
            var next = logits[(rows.count - 1) * vocab..<rows.count * vocab].withUnsafeBufferPointer { Self.argmax($0) }
            var step = [Float](repeating: .nan, count: vocab)
            while generated.count < steps {
                generated.append(next)
                if generated.count == steps { break }
                var decode = ForwardBatch()
                decode.append(tokens: [next], startingAt: n + generated.count - 1, blockTable: table)
                try step.withUnsafeMutableBufferPointer { try model.forward(decode, cache: cache, logits: $0.baseAddress!) }
                next = step.withUnsafeBufferPointer { Self.argmax($0) }
            }
            return (logits, generated)
        }

        // Last position: every logit within 1e-3.
        let last = Array(logits[(rows.count - 1) * vocab..<rows.count * vocab])
        let worst = zip(last, reference).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-3, "\(name): last-position max |Δ| = \(worst)")

        // First positions: the same top-20 ids (ignoring ties with the 20th), logits within 1e-3.
        for (r, position) in fixture.top20_first_positions.enumerated() {
            let row = Array(logits[r * vocab..<(r + 1) * vocab])
            let want = position.top20.map { (id: Int($0[0]), logit: Float($0[1])) }
            let twentieth = want.last!.logit
            for entry in want {
                #expect(abs(row[entry.id] - entry.logit) <= 1e-3, "\(name) pos \(position.pos) id \(entry.id)")
            }
            let ours = row.indices.sorted { row[$0] > row[$1] }.prefix(20)
            let wantIDs = Set(want.map(\.id))
            for id in ours where !wantIDs.contains(id) {
                #expect(abs(row[id] - twentieth) <= 1e-3, "\(name) pos \(position.pos): id \(id) is not in the reference top-20")
            }
        }

        let firstDifference = zip(generated, fixture.greedy.ids).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(generated == fixture.greedy.ids,
                "\(name): first difference at step \(firstDifference ?? -1) (reference margin \(firstDifference.map { fixture.greedy.steps[$0].margin } ?? 0))")
    }

    /// A prompt longer than the sliding window, prefilled in chunks through the cache (so local layers read earlier
    /// chunks' keys through the window), gives the logits of one whole pass.
    @Test func chunkedPrefillPastTheWindowEqualsOnePass() async throws {
        let model = try #require(Self.model, "cannot load \(RealModel.path(RealModel.gemma3))")
        let name = try #require(Self.names.first { $0.hasPrefix("g06") })
        let fixture = try Fixtures.decode(LogitsFixture.self, "gemma3/logits/\(name).json")
        let reference = try Fixtures.floats("gemma3/logits/\(name).bin")
        let n = fixture.prompt_ids.count
        #expect(n > 600)
        let blocks = (n + 15) / 16
        let table = (0..<Int32(blocks)).reversed().map { $0 }
        let promptIDs = fixture.prompt_ids
        let logits = try await onOwnThread {
            let cache = try PagedKVCache(config: model.config, blockCount: blocks)
            var logits = [Float](repeating: .nan, count: model.config.vocabularySize)
            var start = 0
            for size in [1, 200, 331, 17] + [n] {
                let end = min(n, start + size)
                if start == end { break }
                var chunk = ForwardBatch()
                chunk.append(tokens: Array(promptIDs[start..<end]), startingAt: start, blockTable: table)
                try logits.withUnsafeMutableBufferPointer { try model.forward(chunk, cache: cache, logits: $0.baseAddress!) }
                start = end
            }
            return logits
        }
        let worst = zip(logits, reference).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-3, "chunked prefill: last-position max |Δ| = \(worst)")
    }
}
