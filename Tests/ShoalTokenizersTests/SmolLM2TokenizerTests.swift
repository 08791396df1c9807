import Foundation
import ShoalGGUF
import ShoalTokenizers
import Testing

/// Where the test model lives: `$SHOAL_TEST_MODEL_DIR`, else `~/.cache/shoal/models`.
private let modelPath: String = {
    let environment = ProcessInfo.processInfo.environment
    let directory = environment["SHOAL_TEST_MODEL_DIR"] ?? (NSHomeDirectory() + "/.cache/shoal/models")
    return directory + "/SmolLM2-135M-Instruct.Q4_1.gguf"
}()

/// Run the real-model tests when the file is there, or fail them when `SHOAL_REQUIRE_MODELS=1`.
private let modelTestsEnabled: Bool =
    FileManager.default.fileExists(atPath: modelPath) || ProcessInfo.processInfo.environment["SHOAL_REQUIRE_MODELS"] == "1"

private let fixtureDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/smollm2")

struct TokenizerCase: Decodable, Sendable, CustomTestStringConvertible {
    let text: String
    let ids: [Int32]
    let ids_llamacpp_smollm: [Int32]
    let pretokenizer_variants_differ: Bool
    let decoded: String

    var testDescription: String { String(reflecting: text) }
}

struct ChatTemplateCase: Decodable, Sendable {
    let text: String
    let ids_llamacpp_smollm: [Int32]
}

private func loadFixture<T: Decodable>(_ name: String, as type: T.Type) -> T {
    do {
        let data = try Data(contentsOf: fixtureDirectory.appendingPathComponent(name))
        return try JSONDecoder().decode(T.self, from: data)
    } catch {
        // An unreadable fixture must fail, not vanish: an empty list would make the parameterized test pass.
        Issue.record("cannot read fixture \(name): \(error)")
        fatalError("cannot read fixture \(name): \(error)")
    }
}

private let tokenizerCases = loadFixture("tokenizer_cases.json", as: [TokenizerCase].self)

/// The SmolLM2 tokenizer, loaded once through ShoalGGUF.
private let smolLM2: Result<any Tokenizer, any Error> = Result { try loadTokenizer(from: GGUFFile(path: modelPath)) }

@Suite(.enabled(if: modelTestsEnabled, "needs \(modelPath) (or SHOAL_REQUIRE_MODELS=1 to fail without it)"))
struct SmolLM2TokenizerTests {
    let tokenizer: any Tokenizer

    init() throws {
        tokenizer = try smolLM2.get()
    }

    @Test func vocabularyFacts() throws {
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.bosID == 1)
        #expect(tokenizer.eosID == 2)
        #expect(!tokenizer.addsBOS)
        #expect(tokenizer.endOfTurnIDs == [0, 2])
        #expect(tokenizer.token(of: 2) == "<|im_end|>")
        #expect(tokenizer.id(of: "<|im_start|>") == 1)
        #expect(tokenizer.id(of: "Ġworld") != nil)
        let bpe = try #require(tokenizer as? BPETokenizer)
        #expect(bpe.preTokenizer == .smollm)
        #expect(bpe.isPreTokenizerRecognized)
    }

    @Test(arguments: tokenizerCases)
    func encodeMatchesLlamaCpp(_ testCase: TokenizerCase) {
        let ids = tokenizer.encode(testCase.text, addSpecial: true, parseSpecial: true)
        #expect(ids == testCase.ids_llamacpp_smollm)
    }

    @Test(arguments: tokenizerCases)
    func decodeRoundTrips(_ testCase: TokenizerCase) {
        #expect(tokenizer.decode(testCase.ids_llamacpp_smollm, skipSpecial: false) == testCase.decoded)
        #expect(tokenizer.decode(testCase.ids, skipSpecial: false) == testCase.decoded)
    }

    @Test func chatTemplateTextsEncodeAsLlamaCpp() {
        let cases = loadFixture("chat_template_cases.json", as: [ChatTemplateCase].self)
        #expect(cases.count == 3)
        for testCase in cases {
            #expect(tokenizer.encode(testCase.text, addSpecial: true, parseSpecial: true) == testCase.ids_llamacpp_smollm)
        }
    }
}
