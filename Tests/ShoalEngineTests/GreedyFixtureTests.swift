import Foundation
import Testing
import ShoalEngine
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalTestSupport
import ShoalTokenizers

/// Greedy decoding with the KV cache through `TextGenerator` reproduces the reference continuations.
@Suite(.enabled(if: RealModel.shouldTest(RealModel.smolLM2)), .serialized)
struct GreedyFixtureTests {
    struct LogitsFixture: Decodable {
        struct Greedy: Decodable { var ids: [Int32] }
        var prompt_ids: [Int32]
        var greedy: Greedy
    }
    struct ChatFixtures: Decodable {
        struct Chat: Decodable {
            var id: String
            var prompt_ids: [Int32]
            var ids: [Int32]
            var first_eos_index: Int?
        }
        var chats: [Chat]
    }

    static func makeGenerator() -> TextGenerator? {
        guard let file = try? GGUFFile(path: RealModel.path(RealModel.smolLM2)),
              let model = try? ModelRegistry.load(file, pool: ComputePool(threadCount: 2)),
              let tokenizer = try? loadTokenizer(from: file) else { return nil }
        return try? TextGenerator(model: model, tokenizer: tokenizer, contextLength: 1024)
    }

    static let promptNames: [String] = {
        struct Index: Decodable { var prompts: [String] }
        return (try? Fixtures.decode(Index.self, "smollm2/logits/index.json").prompts) ?? []
    }()

    static let chats: [ChatFixtures.Chat] = (try? Fixtures.decode(ChatFixtures.self, "smollm2/chat_greedy.json").chats) ?? []

    func greedy(maxTokens: Int, ignoreEOS: Bool) -> SamplingParams {
        var params = SamplingParams()
        params.temperature = 0
        params.maxTokens = maxTokens
        params.ignoreEOS = ignoreEOS
        return params
    }

    /// Greedy ids and finish reason for `promptIDs`, computed on a thread of its own (see `onOwnThread`): each case
    /// decodes for seconds, which on the concurrency pool stalled other suites' async tests.
    static func generate(_ promptIDs: [Int32], _ params: SamplingParams) async throws -> ([Int32], FinishReason) {
        struct CannotLoad: Error {}
        return try await onOwnThread {
            guard let generator = Self.makeGenerator() else { throw CannotLoad() }
            let result = try generator.generate(promptIDs: promptIDs, params: params)
            return (result.tokens.map(\.id), result.finishReason)
        }
    }

    @Test(arguments: promptNames)
    func promptContinuation(name: String) async throws {
        let fixture = try Fixtures.decode(LogitsFixture.self, "smollm2/logits/\(name).json")
        let (ids, finishReason) = try await Self.generate(
            fixture.prompt_ids, greedy(maxTokens: fixture.greedy.ids.count, ignoreEOS: true))
        #expect(ids == fixture.greedy.ids)
        #expect(finishReason == .length)
    }

    @Test(arguments: chats.map(\.id))
    func chatContinuation(id: String) async throws {
        let chat = try #require(Self.chats.first { $0.id == id })
        let until = chat.first_eos_index ?? chat.ids.count
        let (ids, finishReason) = try await Self.generate(chat.prompt_ids, greedy(maxTokens: chat.ids.count, ignoreEOS: false))
        #expect(ids == Array(chat.ids[..<until]))
        #expect(finishReason == (chat.first_eos_index == nil ? .length : .stop))
    }
}
