import ShoalGGUF
import ShoalTestSupport
import ShoalTokenizers
import Testing

private let modelPath = RealModel.path(RealModel.smolLM2)

/// One entry of `smollm2/tokenizer_cases.json`.
struct SmolLM2TokenizerCase: Decodable, Sendable, CustomTestStringConvertible {
    let text: String
    let ids: [Int32]
    let ids_llamacpp_smollm: [Int32]
    let decoded: String

    var testDescription: String { String(reflecting: text) }

    static func all() throws -> [Self] {
        try Fixtures.decode([Self].self, "smollm2/tokenizer_cases.json")
    }
}

/// One entry of `smollm2/chat_template_cases.json` (the rendered text and its ids).
struct SmolLM2RenderedChatCase: Decodable, Sendable {
    let text: String
    let ids_llamacpp_smollm: [Int32]
}

/// The SmolLM2 tokenizer, loaded once through ShoalGGUF.
private let smolLM2: Result<any Tokenizer, any Error> = Result { try loadTokenizer(from: GGUFFile(path: modelPath)) }

@Suite(.enabled(if: RealModel.shouldTest(RealModel.smolLM2), "needs the SmolLM2 model (SHOAL_REQUIRE_MODELS=1 makes it fail instead)"))
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

    @Test(arguments: try SmolLM2TokenizerCase.all())
    func encodeMatchesLlamaCpp(_ testCase: SmolLM2TokenizerCase) {
        let ids = tokenizer.encode(testCase.text, addSpecial: true, parseSpecial: true)
        #expect(ids == testCase.ids_llamacpp_smollm)
    }

    @Test(arguments: try SmolLM2TokenizerCase.all())
    func decodeRoundTrips(_ testCase: SmolLM2TokenizerCase) {
        #expect(tokenizer.decode(testCase.ids_llamacpp_smollm, skipSpecial: false) == testCase.decoded)
        #expect(tokenizer.decode(testCase.ids, skipSpecial: false) == testCase.decoded)
    }

    @Test func chatTemplateTextsEncodeAsLlamaCpp() throws {
        let cases = try Fixtures.decode([SmolLM2RenderedChatCase].self, "smollm2/chat_template_cases.json")
        #expect(cases.count == 3)
        for testCase in cases {
            #expect(tokenizer.encode(testCase.text, addSpecial: true, parseSpecial: true) == testCase.ids_llamacpp_smollm)
        }
    }
}

@Suite(.enabled(if: RealModel.shouldTest(RealModel.smolLM2), "needs the SmolLM2 model (SHOAL_REQUIRE_MODELS=1 makes it fail instead)"))
struct SmolLM2StreamingTests {
    let tokenizer: any Tokenizer

    init() throws {
        tokenizer = try smolLM2.get()
    }

    /// Emoji and CJK fixtures: their characters are split across tokens.
    @Test(arguments: ["😀👍🏽🎉", "日本語のテキスト", "Mixed 中文 and English 123abc", "café naïve résumé"])
    func streamsMultiByteCharactersWhole(_ text: String) throws {
        let cases = try SmolLM2TokenizerCase.all()
        let testCase = try #require(cases.first { $0.text == text })
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        var chunks = testCase.ids_llamacpp_smollm.map { detokenizer.append($0) }
        chunks.append(detokenizer.finish())
        #expect(chunks.joined() == testCase.decoded)
        #expect(!chunks.joined().contains("\u{FFFD}"))
        if text == "😀👍🏽🎉" {
            // Some token ends inside a character and has to wait for the next one.
            #expect(chunks.dropLast().contains(""))
        }
    }

    @Test func streamEqualsDecodeForRandomIDs() {
        let seed: UInt64 = 0x5310_1112
        var generator = SeededGenerator(seed: seed)
        for _ in 0..<300 {
            let ids = (0..<Int.random(in: 0...16, using: &generator)).map { _ in
                Int32.random(in: 0..<Int32(tokenizer.vocabularySize), using: &generator)
            }
            var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
            let streamed = ids.map { detokenizer.append($0) }.joined() + detokenizer.finish()
            #expect(streamed == tokenizer.decode(ids, skipSpecial: true), "seed \(seed) ids \(ids)")
        }
    }
}
