import Foundation
import Testing
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalTestSupport

/// The real SmolLM2 model against the reference logits (Hugging Face transformers, float32).
@Suite(.enabled(if: RealModel.shouldTest(RealModel.smolLM2)), .serialized)
struct SmolLM2LogitsTests {
    struct LogitsFixture: Decodable {
        struct Position: Decodable {
            var pos: Int
            var top20: [[Double]]
        }
        var name: String
        var prompt_ids: [Int32]
        var top20_first_positions: [Position]
    }

    static let names: [String] = {
        struct Index: Decodable { var prompts: [String] }
        return (try? Fixtures.decode(Index.self, "smollm2/logits/index.json").prompts) ?? []
    }()

    static let model: (any LanguageModel)? = {
        guard let file = try? GGUFFile(path: RealModel.path(RealModel.smolLM2)) else { return nil }
        return try? ModelRegistry.load(file, pool: ComputePool(threadCount: 2))
    }()

    @Test(arguments: names)
    func logitsMatchReference(name: String) async throws {
        let model = try #require(Self.model, "cannot load \(RealModel.path(RealModel.smolLM2))")
        let fixture = try Fixtures.decode(LogitsFixture.self, "smollm2/logits/\(name).json")
        let reference = try Fixtures.floats("smollm2/logits/\(name).bin")
        let n = fixture.prompt_ids.count
        let firstRows = fixture.top20_first_positions.map(\.pos)
        let rows = firstRows + [n - 1]
        let blocks = (n + 15) / 16
        let batch = ForwardBatch(tokens: fixture.prompt_ids, positions: (0..<n).map(Int32.init),
                                 sequences: [.init(start: 0, count: n, blockTable: (0..<Int32(blocks)).map { $0 })],
                                 logitRows: rows)
        let vocab = model.config.vocabularySize
        let logits = try await onOwnThread {
            let cache = try PagedKVCache(config: model.config, blockCount: blocks)
            var logits = [Float](repeating: .nan, count: rows.count * vocab)
            try logits.withUnsafeMutableBufferPointer { try model.forward(batch, cache: cache, logits: $0.baseAddress!) }
            return logits
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
    }
}
