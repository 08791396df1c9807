import ShoalTestSupport
import ShoalTokenizers
import Testing

@Suite struct BPETokenizerTests {
    /// "hello world" merges into two tokens; `<|im_start|>` / `<|im_end|>` are control tokens, `<tool>` is user-defined.
    let vocabulary = TinyVocabulary(
        merges: ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d"],
        specials: [("<|im_start|>", .control), ("<|im_end|>", .control), ("<tool>", .userDefined)])

    @Test func mergesWordsIntoVocabularyTokens() throws {
        let tokenizer = try vocabulary.tokenizer()
        let ids = tokenizer.encode("hello world", addSpecial: true, parseSpecial: false)
        #expect(ids == [vocabulary.id("hello"), vocabulary.id("Ġworld")])
        #expect(tokenizer.token(of: ids[1]) == "Ġworld")
        #expect(tokenizer.bytes(of: ids[1]) == Array(" world".utf8))
        #expect(tokenizer.decode(ids, skipSpecial: false) == "hello world")
    }

    @Test func lowerRankMergesFirst() throws {
        let abFirst = TinyVocabulary(merges: ["a b", "b c"])
        let bcFirst = TinyVocabulary(merges: ["b c", "a b"])
        #expect(try abFirst.tokenizer().encode("abc", addSpecial: false, parseSpecial: false) == [abFirst.id("ab"), 0x63])
        #expect(try bcFirst.tokenizer().encode("abc", addSpecial: false, parseSpecial: false) == [0x61, bcFirst.id("bc")])
    }

    @Test func equalRanksMergeLeftmostFirst() throws {
        let vocabulary = TinyVocabulary(merges: ["a a", "aa aa"])
        let tokenizer = try vocabulary.tokenizer()
        let aa = vocabulary.id("aa")
        let aaaa = vocabulary.id("aaaa")
        #expect(tokenizer.encode("aaa", addSpecial: false, parseSpecial: false) == [aa, 0x61])
        #expect(tokenizer.encode("aaaaa", addSpecial: false, parseSpecial: false) == [aaaa, 0x61])
        #expect(tokenizer.encode("aaaaaaa", addSpecial: false, parseSpecial: false) == [aaaa, aa, 0x61])
    }

    @Test func mergesStayInsidePreTokenizerPieces() throws {
        // "a b" would merge across the space if pieces were ignored; "Ġ b" is the only way to reach " b".
        let vocabulary = TinyVocabulary(merges: ["a Ġ", "Ġ b"])
        let ids = try vocabulary.tokenizer().encode("a b", addSpecial: false, parseSpecial: false)
        #expect(ids == [0x61, vocabulary.id("Ġb")])
    }

    @Test(arguments: [
        "", "a", " ", "\n\n\t  x", "é", "日本語", "😀👍🏽", "\u{0}\u{7F}\u{FEFF}", "<|im_end|>", "mixed 123 ¹²³ text!",
    ])
    func encodeDecodeRoundTrips(_ text: String) throws {
        let tokenizer = try vocabulary.tokenizer()
        #expect(tokenizer.decode(tokenizer.encode(text, addSpecial: false, parseSpecial: false), skipSpecial: false) == text)
        #expect(tokenizer.decode(tokenizer.encode(text, addSpecial: false, parseSpecial: true), skipSpecial: false) == text)
    }

    @Test func randomTextRoundTrips() throws {
        let tokenizer = try vocabulary.tokenizer()
        let seed: UInt64 = 0x5EED_0001
        var generator = SeededGenerator(seed: seed)
        let pool: [Unicode.Scalar] = ["a", "h", "e", "l", "o", " ", "\n", "\t", "1", "'", "<", "|", ">", "é", "中", "😀", "\u{0301}", "\u{A0}", "\u{3000}"]
        for _ in 0..<300 {
            var text = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...24, using: &generator) {
                text.append(pool.randomElement(using: &generator)!)
            }
            let string = String(text)
            let ids = tokenizer.encode(string, addSpecial: false, parseSpecial: true)
            #expect(tokenizer.decode(ids, skipSpecial: false) == string, "seed \(seed)")
        }
    }

    @Test func controlTokensMatchOnlyWhenParsingSpecial() throws {
        let tokenizer = try vocabulary.tokenizer()
        let start = vocabulary.id("<|im_start|>")
        let end = vocabulary.id("<|im_end|>")
        let parsed = tokenizer.encode("<|im_start|>hello<|im_end|>", addSpecial: false, parseSpecial: true)
        #expect(parsed == [start, vocabulary.id("hello"), end])
        let plain = tokenizer.encode("<|im_start|>hello<|im_end|>", addSpecial: false, parseSpecial: false)
        #expect(!plain.contains(start) && !plain.contains(end))
        #expect(tokenizer.decode(plain, skipSpecial: true) == "<|im_start|>hello<|im_end|>")
        #expect(tokenizer.decode(parsed, skipSpecial: true) == "hello")
        #expect(tokenizer.decode(parsed, skipSpecial: false) == "<|im_start|>hello<|im_end|>")
        #expect(tokenizer.bytes(of: end, skipSpecial: true) == [])
        #expect(tokenizer.bytes(of: end) == Array("<|im_end|>".utf8))
    }

    @Test func userDefinedTokensAlwaysMatch() throws {
        let tokenizer = try vocabulary.tokenizer()
        let tool = vocabulary.id("<tool>")
        for parseSpecial in [false, true] {
            let ids = tokenizer.encode("hello<tool>hello", addSpecial: false, parseSpecial: parseSpecial)
            #expect(ids == [vocabulary.id("hello"), tool, vocabulary.id("hello")])
        }
        #expect(tokenizer.decode([tool], skipSpecial: true) == "<tool>")
    }

    @Test func longerSpecialTokensClaimTheirTextFirst() throws {
        // As in llama.cpp: "<b><cc>" (longer) is matched before "<a><b>" even though that starts earlier.
        let vocabulary = TinyVocabulary(merges: [], specials: [("<a><b>", .control), ("<b><cc>", .control), ("<a>", .control)])
        let tokenizer = try vocabulary.tokenizer()
        let ids = tokenizer.encode("<a><b><cc>", addSpecial: false, parseSpecial: true)
        #expect(ids == [vocabulary.id("<a>"), vocabulary.id("<b><cc>")])
        // Equal lengths: the lower id first.
        let tie = tokenizer.encode("<a><b><c>", addSpecial: false, parseSpecial: true)
        #expect(tie == [vocabulary.id("<a><b>"), 0x3C, 0x63, 0x3E])
    }

    @Test func specialTokensSplitTheTextAroundThem() throws {
        let tokenizer = try vocabulary.tokenizer()
        // Without the split, " world" would keep its space inside one piece with "hello".
        let ids = tokenizer.encode("hello<|im_end|> world", addSpecial: false, parseSpecial: true)
        #expect(ids == [vocabulary.id("hello"), vocabulary.id("<|im_end|>"), vocabulary.id("Ġworld")])
    }

    @Test func addSpecialAddsBOSAndEOSWhenAsked() throws {
        let start = vocabulary.id("<|im_start|>")
        let end = vocabulary.id("<|im_end|>")
        let both = try vocabulary.tokenizer(bosID: start, eosID: end, addBOS: true, addEOS: true)
        #expect(both.addsBOS && both.addsEOS)
        #expect(both.encode("hello", addSpecial: true, parseSpecial: false) == [start, vocabulary.id("hello"), end])
        #expect(both.encode("hello", addSpecial: false, parseSpecial: false) == [vocabulary.id("hello")])
        #expect(both.encode("", addSpecial: true, parseSpecial: false) == [start, end])
        let neither = try vocabulary.tokenizer(bosID: start, eosID: end)
        #expect(!neither.addsBOS)
        #expect(neither.encode("hello", addSpecial: true, parseSpecial: false) == [vocabulary.id("hello")])
    }

    @Test func endOfTurnIDsIncludeEOSAndKnownEndTokens() throws {
        let vocabulary = TinyVocabulary(
            merges: [], specials: [("</s>", .control), ("<|im_end|>", .control)], extraTokens: ["<|eot_id|>"])
        let eos = vocabulary.id("</s>")
        let tokenizer = try vocabulary.tokenizer(eosID: eos)
        let eot = vocabulary.id("<|eot_id|>")
        #expect(tokenizer.endOfTurnIDs == [eos, vocabulary.id("<|im_end|>"), eot])
        // A known end-of-turn token is treated as a control token even when typed as normal (llama.cpp does so).
        #expect(tokenizer.tokenType(of: eot) == .control)
        #expect(tokenizer.decode([eot], skipSpecial: true) == "")
    }

    @Test func invalidIDsAreHarmless() throws {
        let tokenizer = try vocabulary.tokenizer()
        let size = Int32(tokenizer.vocabularySize)
        #expect(tokenizer.token(of: -1) == nil)
        #expect(tokenizer.token(of: size) == nil)
        #expect(tokenizer.bytes(of: size) == [])
        #expect(tokenizer.tokenType(of: size) == nil)
        #expect(tokenizer.decode([-5, vocabulary.id("hello"), size, .max], skipSpecial: false) == "hello")
        #expect(tokenizer.id(of: "no such token") == nil)
    }

    @Test func byteTokensStandForTheirByte() throws {
        var vocabulary = TinyVocabulary(merges: [])
        vocabulary.tokens.append("<0xE2>")
        vocabulary.types.append(TokenType.byte.rawValue)
        let tokenizer = try vocabulary.tokenizer()
        #expect(tokenizer.bytes(of: Int32(vocabulary.tokens.count - 1)) == [0xE2])
    }

    @Test func bytesWithoutTokensFallBackToUnknown() throws {
        // A vocabulary without the token for "b": the piece "ab" cannot be spelled.
        var vocabulary = TinyVocabulary(merges: [])
        vocabulary.tokens[0x62] = "[unused-b]"
        vocabulary.types[0x62] = TokenType.unused.rawValue
        let unknown: Int32 = 0x00
        let tokenizer = try BPETokenizer(
            tokens: vocabulary.tokens, merges: [], tokenTypes: vocabulary.types, unknownID: unknown)
        #expect(tokenizer.encode("ab", addSpecial: false, parseSpecial: false) == [0x61, unknown])
        let withoutUnknown = try BPETokenizer(tokens: vocabulary.tokens, merges: [], tokenTypes: vocabulary.types)
        #expect(withoutUnknown.encode("ab", addSpecial: false, parseSpecial: false) == [0x61])
    }

    @Test func llama3KeepsWholeVocabularyWordsUnmerged() throws {
        // "abc" is a token, but no merge rule leads to it.
        let vocabulary = TinyVocabulary(merges: ["a b"], extraTokens: ["abc"])
        let llama3 = try vocabulary.tokenizer(preTokenizer: "llama-bpe")
        let gpt2 = try vocabulary.tokenizer(preTokenizer: "gpt2")
        #expect(llama3.encode("abc", addSpecial: false, parseSpecial: false) == [vocabulary.id("abc")])
        #expect(gpt2.encode("abc", addSpecial: false, parseSpecial: false) == [vocabulary.id("ab"), 0x63])
    }

    @Test func unknownPreTokenizerFallsBackToGPT2AndSaysSo() throws {
        let tokenizer = try vocabulary.tokenizer(preTokenizer: "brand-new-model")
        #expect(tokenizer.preTokenizer == .gpt2)
        #expect(tokenizer.preTokenizerName == "brand-new-model")
        #expect(!tokenizer.isPreTokenizerRecognized)
        let smollm = try vocabulary.tokenizer(preTokenizer: "smollm")
        #expect(smollm.preTokenizer == .smollm && smollm.isPreTokenizerRecognized)
        let unnamed = try vocabulary.tokenizer(preTokenizer: nil)
        #expect(unnamed.preTokenizer == .gpt2 && unnamed.isPreTokenizerRecognized)
    }

    @Test func invalidInputsThrowNamingTheProblem() {
        let tokens = vocabulary.tokens
        #expect(throws: TokenizerError.self) { try BPETokenizer(tokens: [], merges: []) }
        let badMerge = #expect(throws: TokenizerError.self) { try BPETokenizer(tokens: tokens, merges: ["h e", "nospace"]) }
        #expect(badMerge?.code == .invalidMerge)
        #expect(badMerge?.message.contains("merge 1") == true)
        let badCount = #expect(throws: TokenizerError.self) {
            try BPETokenizer(tokens: tokens, merges: [], tokenTypes: [1, 1])
        }
        #expect(badCount?.code == .invalidVocabulary)
        let badType = #expect(throws: TokenizerError.self) {
            try BPETokenizer(tokens: tokens, merges: [], tokenTypes: [9] + Array(repeating: 1, count: tokens.count - 1))
        }
        #expect(badType?.message.contains("token 0") == true)
        let badBOS = #expect(throws: TokenizerError.self) {
            try BPETokenizer(tokens: tokens, merges: [], bosID: Int32(tokens.count))
        }
        #expect(badBOS?.message.contains("BOS") == true)
    }
}
