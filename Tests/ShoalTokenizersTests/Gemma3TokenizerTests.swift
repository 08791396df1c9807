import ShoalGGUF
import ShoalTestSupport
import ShoalTokenizers
import Testing

private let modelPath = RealModel.path(RealModel.gemma3)

/// One entry of `gemma3/tokenizer_cases.json`: `ids` are llama.cpp's (= SentencePiece's), BOS first.
struct Gemma3TokenizerCase: Decodable, Sendable, CustomTestStringConvertible {
    let text: String
    let ids: [Int32]
    let decoded: String
    let n_byte_fallback_tokens: Int

    var testDescription: String { String(reflecting: text) }

    static func all() throws -> [Self] {
        try Fixtures.decode([Self].self, "gemma3/tokenizer_cases.json")
    }
}

/// The Gemma 3 tokenizer, loaded once through ShoalGGUF.
private let gemma3: Result<any Tokenizer, any Error> = Result {
    try loadTokenizer(from: GGUFFile(path: modelPath))
}

@Suite(.enabled(
    if: RealModel.shouldTest(RealModel.gemma3), "needs the Gemma 3 model (SHOAL_REQUIRE_MODELS=1 makes it fail instead)"))
struct Gemma3TokenizerTests {
    let tokenizer: any Tokenizer

    init() throws {
        tokenizer = try gemma3.get()
    }

    @Test func vocabularyFacts() throws {
        let spm = try #require(tokenizer as? SentencePieceTokenizer)
        #expect(spm.vocabularySize == 262_144)
        #expect(spm.bosID == 2 && spm.eosID == 1 && spm.unknownID == 3 && spm.paddingID == 0)
        #expect(spm.addsBOS && !spm.addsEOS && !spm.addsSpacePrefix)
        #expect(spm.endOfTurnIDs == [1, 106])
        #expect(spm.token(of: 105) == "<start_of_turn>" && spm.token(of: 106) == "<end_of_turn>")
        #expect(spm.id(of: "<0x0A>") == 248)
        #expect(spm.tokenType(of: 107) == .userDefined && spm.token(of: 107) == "\n")
        // `</s>` is one of Gemma's HTML tags, not an end of turn.
        #expect(spm.tokenType(of: 212) == .userDefined && spm.token(of: 212) == "</s>")
        #expect(spm.score(of: 2) == -1000)
    }

    @Test(arguments: try Gemma3TokenizerCase.all())
    func encodeMatchesLlamaCpp(_ testCase: Gemma3TokenizerCase) {
        let ids = tokenizer.encode(testCase.text, addSpecial: true, parseSpecial: true)
        #expect(ids == testCase.ids)
        #expect(ids.count(where: { (238...493).contains($0) }) == testCase.n_byte_fallback_tokens)
        // Without special ids the same text loses only the BOS.
        if !testCase.text.contains("<") {
            let withoutBOS = tokenizer.encode(testCase.text, addSpecial: false, parseSpecial: true)
            #expect(withoutBOS == Array(testCase.ids.dropFirst()))
        }
    }

    @Test(arguments: try Gemma3TokenizerCase.all())
    func decodeGivesTheText(_ testCase: Gemma3TokenizerCase) {
        #expect(tokenizer.decode(Array(testCase.ids.dropFirst()), skipSpecial: false) == testCase.decoded)
        #expect(testCase.decoded == testCase.text)
        #expect(tokenizer.decode(testCase.ids, skipSpecial: false) == "<bos>" + testCase.text)
    }

    @Test func fixtureCasesAreAllThere() throws {
        let cases = try Gemma3TokenizerCase.all()
        #expect(cases.count == 28)
        #expect(cases.contains { $0.n_byte_fallback_tokens > 0 })
    }

    /// Runs longer than the longest user-defined run (31) split left to right, longest first.
    @Test(arguments: [(" ", 40, [31, 9]), (" ", 62, [31, 31]), ("\n", 70, [31, 31, 8]), ("\t", 33, [31, 2])])
    func longWhitespaceRunsSplitLongestFirst(character: String, count: Int, parts: [Int]) throws {
        let text = String(repeating: character, count: count)
        let expected = try parts.map { try #require(tokenizer.id(of: String(repeating: character, count: $0))) }
        #expect(tokenizer.encode(text, addSpecial: true, parseSpecial: true) == [2] + expected)
        #expect(tokenizer.decode(expected, skipSpecial: true) == text)
    }

    @Test func controlTokensAreTextWithoutSpecialParsing() {
        let parsed = tokenizer.encode("<start_of_turn>user", addSpecial: false, parseSpecial: true)
        #expect(parsed.first == 105)
        let plain = tokenizer.encode("<start_of_turn>user", addSpecial: false, parseSpecial: false)
        #expect(!plain.contains(105))
        #expect(tokenizer.decode(plain, skipSpecial: true) == "<start_of_turn>user")
        // User-defined tokens match either way.
        #expect(tokenizer.encode("<html>\n\n", addSpecial: false, parseSpecial: false) == [217, 108])
        #expect(tokenizer.decode([105, 2364, 106, 1], skipSpecial: true) == "user")
    }

    @Test(arguments: [0x6E33_0001, 0x6E33_0002] as [UInt64])
    func randomUnicodeRoundTrips(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        for _ in 0..<300 {
            let text = RandomText.string(length: Int.random(in: 0...40, using: &generator), using: &generator)
            let ids = tokenizer.encode(text, addSpecial: true, parseSpecial: false)
            #expect(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize })
            #expect(
                tokenizer.decode(ids, skipSpecial: true) == text,
                "seed \(seed) text \(String(reflecting: text)) ids \(ids)")
        }
    }
}

@Suite(.enabled(
    if: RealModel.shouldTest(RealModel.gemma3), "needs the Gemma 3 model (SHOAL_REQUIRE_MODELS=1 makes it fail instead)"))
struct Gemma3StreamingTests {
    let tokenizer: any Tokenizer

    init() throws {
        tokenizer = try gemma3.get()
    }

    @Test(arguments: [
        "😀👍🏽🎉", "日本語のテキスト", "café naïve résumé", "¹²³ ½ ⅓ Ⅻ", "byte fallback: 𓀀𓀁 𝄞 \u{0378}",
    ])
    func streamsMultiByteCharactersWhole(_ text: String) throws {
        let testCase = try #require(try Gemma3TokenizerCase.all().first { $0.text == text })
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        var chunks = testCase.ids.map { detokenizer.append($0) }
        chunks.append(detokenizer.finish())
        #expect(chunks.joined() == testCase.text)
        #expect(!chunks.contains { $0.contains("\u{FFFD}") })
        if testCase.n_byte_fallback_tokens > 0 {
            // Byte tokens carry parts of a character and have to wait for the rest.
            #expect(chunks.dropFirst().dropLast().contains(""))
        }
    }

    @Test func streamEqualsDecodeForRandomIDs() {
        let seed: UInt64 = 0x6E33_5EED
        var generator = SeededGenerator(seed: seed)
        for _ in 0..<300 {
            // Byte tokens (238...493) often, to split characters; any id otherwise.
            let ids = (0..<Int.random(in: 0...16, using: &generator)).map { _ in
                Bool.random(using: &generator)
                    ? Int32.random(in: 238...493, using: &generator)
                    : Int32.random(in: 0..<Int32(tokenizer.vocabularySize), using: &generator)
            }
            var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
            let streamed = ids.map { detokenizer.append($0) }.joined() + detokenizer.finish()
            #expect(streamed == tokenizer.decode(ids, skipSpecial: true), "seed \(seed) ids \(ids)")
        }
    }
}
