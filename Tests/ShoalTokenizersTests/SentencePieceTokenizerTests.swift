import ShoalGGUF
import ShoalTestSupport
import ShoalTokenizers
import Testing

/// A hand-made SentencePiece vocabulary: `<unk>`, `<s>`, `</s>` (control), the 256 byte tokens, then
/// scored pieces and two user-defined tokens.
struct TinySentencePieceVocabulary {
    var tokens: [String] = ["<unk>", "<s>", "</s>"]
    var scores: [Float] = [0, 0, 0]
    var types: [Int] = [TokenType.unknown.rawValue, TokenType.control.rawValue, TokenType.control.rawValue]

    init(pieces: [(String, Float)], userDefined: [String] = ["<br>", "\n\n"]) {
        for byte in 0..<256 {
            let hex = String(byte, radix: 16, uppercase: true)
            tokens.append("<0x\(hex.count == 1 ? "0" + hex : hex)>")
            scores.append(0)
            types.append(TokenType.byte.rawValue)
        }
        for (piece, score) in pieces {
            tokens.append(piece)
            scores.append(score)
            types.append(TokenType.normal.rawValue)
        }
        for piece in userDefined {
            tokens.append(piece)
            scores.append(0)
            types.append(TokenType.userDefined.rawValue)
        }
    }

    func id(_ token: String) -> Int32 {
        Int32(tokens.lastIndex(of: token)!)
    }

    /// The id of the byte token of `byte`.
    func byteID(_ byte: UInt8) -> Int32 {
        3 + Int32(byte)
    }

    func tokenizer(addBOS: Bool = true, addEOS: Bool = false, addSpacePrefix: Bool = false) throws
        -> SentencePieceTokenizer
    {
        try SentencePieceTokenizer(
            tokens: tokens, scores: scores, tokenTypes: types, bosID: 1, eosID: 2, unknownID: 0,
            addBOS: addBOS, addEOS: addEOS, addSpacePrefix: addSpacePrefix)
    }
}

@Suite struct SentencePieceTokenizerTests {
    /// Single characters score low; merged pieces score higher the earlier they are listed.
    static let pieces: [(String, Float)] = [
        ("▁", -100), ("h", -101), ("e", -102), ("l", -103), ("o", -104), ("w", -105), ("r", -106), ("d", -107),
        ("a", -108), ("b", -109), ("c", -110), ("x", -111), ("y", -112), ("z", -113),
        ("ll", -1), ("he", -2), ("hell", -3), ("hello", -4), ("▁w", -5), ("or", -6), ("▁wor", -7), ("ld", -8),
        ("▁world", -9), ("▁hello", -10),
        // "xy" and "yz" score the same: the leftmost pair merges first.
        ("xy", -20), ("yz", -20),
        // "abc" is reachable only through "bc": "ab" is not a token.
        ("bc", -30), ("abc", -31),
    ]
    static let vocabulary = TinySentencePieceVocabulary(pieces: pieces)

    let vocabulary = Self.vocabulary

    func ids(_ pieces: String...) -> [Int32] {
        pieces.map { vocabulary.id($0) }
    }

    @Test func mergesByScore() throws {
        let tokenizer = try vocabulary.tokenizer()
        #expect(tokenizer.encode("hello world", addSpecial: false, parseSpecial: false) == ids("hello", "▁world"))
        #expect(tokenizer.encode("hello", addSpecial: true, parseSpecial: false) == [1] + ids("hello"))
        #expect(tokenizer.encode("hellow", addSpecial: false, parseSpecial: false) == ids("hello", "w"))
    }

    @Test func equalScoresMergeLeftmostFirst() throws {
        let tokenizer = try vocabulary.tokenizer()
        #expect(tokenizer.encode("xyz", addSpecial: false, parseSpecial: false) == ids("xy", "z"))
        #expect(tokenizer.encode("xyzyz", addSpecial: false, parseSpecial: false) == ids("xy", "z", "yz"))
    }

    @Test func mergesOnlyThroughTokenPairs() throws {
        let tokenizer = try vocabulary.tokenizer()
        #expect(tokenizer.encode("abc", addSpecial: false, parseSpecial: false) == ids("abc"))
        // No "zbc" token: "bc" merges and "abc" is not reachable from "z".
        #expect(tokenizer.encode("zbc", addSpecial: false, parseSpecial: false) == ids("z", "bc"))
        // The higher-scoring "ll" takes the "l" that "ld" would have used.
        #expect(tokenizer.encode("helld", addSpecial: false, parseSpecial: false) == ids("hell", "d"))
    }

    @Test func bytesFallBackToByteTokens() throws {
        let tokenizer = try vocabulary.tokenizer()
        let ids = tokenizer.encode("hé😀", addSpecial: false, parseSpecial: false)
        #expect(ids == [vocabulary.id("h")] + Array("é😀".utf8).map(vocabulary.byteID))
        #expect(tokenizer.decode(ids, skipSpecial: false) == "hé😀")
        // Spaces the vocabulary lacks a run for stay single markers.
        let spaced = tokenizer.encode("a  b", addSpecial: false, parseSpecial: false)
        #expect(spaced == self.ids("a", "▁", "▁", "b"))
    }

    @Test func spacePrefixFollowsTheSetting() throws {
        let prefixed = try vocabulary.tokenizer(addSpacePrefix: true)
        #expect(prefixed.addsSpacePrefix)
        #expect(prefixed.encode("hello world", addSpecial: true, parseSpecial: false) == [1] + ids("▁hello", "▁world"))
        // After a special token the next text fragment gets a prefix too.
        #expect(prefixed.encode("<s>hello", addSpecial: false, parseSpecial: true) == [1] + ids("▁hello"))
        #expect(prefixed.decode([1] + ids("▁hello", "▁world"), skipSpecial: true) == "hello world")
        #expect(prefixed.decode(ids("▁hello", "▁world"), skipSpecial: false) == "hello world")
        let plain = try vocabulary.tokenizer(addSpacePrefix: false)
        #expect(plain.encode("hello world", addSpecial: true, parseSpecial: false) == [1] + ids("hello", "▁world"))
        #expect(plain.decode(ids("▁hello"), skipSpecial: false) == " hello")
    }

    @Test func specialTokensMatchAsTheProtocolSays() throws {
        let tokenizer = try vocabulary.tokenizer(addEOS: true)
        let parsed = tokenizer.encode("<s>hello</s>", addSpecial: false, parseSpecial: true)
        #expect(parsed == [1] + ids("hello") + [2])
        // Control tokens stay text without special parsing; user-defined tokens always match.
        let plain = tokenizer.encode("<s>hello<br>", addSpecial: false, parseSpecial: false)
        #expect(!plain.contains(1))
        #expect(plain.last == vocabulary.id("<br>"))
        #expect(tokenizer.decode(plain, skipSpecial: false) == "<s>hello<br>")
        #expect(tokenizer.encode("a\n\nb", addSpecial: false, parseSpecial: false) == ids("a", "\n\n", "b"))
        #expect(tokenizer.encode("a", addSpecial: true, parseSpecial: false) == [1] + ids("a") + [2])
    }

    @Test func decodeSkipsControlTokensOnRequest() throws {
        let tokenizer = try vocabulary.tokenizer()
        let ids = [1] + ids("hello", "<br>") + [2]
        #expect(tokenizer.decode(ids, skipSpecial: false) == "<s>hello<br></s>")
        #expect(tokenizer.decode(ids, skipSpecial: true) == "hello<br>")
        #expect(tokenizer.bytes(of: 2, skipSpecial: true).isEmpty)
        #expect(tokenizer.bytes(of: vocabulary.byteID(0xF0)) == [0xF0])
        #expect(tokenizer.bytes(of: -1).isEmpty && tokenizer.bytes(of: 100_000).isEmpty)
        #expect(tokenizer.decode([-5, 100_000], skipSpecial: false) == "")
        // The unknown token shows as U+2585, as in llama.cpp.
        #expect(tokenizer.decode([0], skipSpecial: true) == "\u{2585}")
    }

    @Test func vocabularyLookups() throws {
        let tokenizer = try vocabulary.tokenizer()
        #expect(tokenizer.vocabularySize == vocabulary.tokens.count)
        #expect(tokenizer.id(of: "▁world") == vocabulary.id("▁world"))
        #expect(tokenizer.id(of: "<0x41>") == vocabulary.byteID(0x41))
        #expect(tokenizer.id(of: "nope") == nil)
        #expect(tokenizer.token(of: vocabulary.id("hello")) == "hello")
        #expect(tokenizer.token(of: -1) == nil)
        #expect(tokenizer.score(of: vocabulary.id("he")) == -2)
        #expect(tokenizer.tokenType(of: 1) == .control)
        #expect(tokenizer.tokenType(of: vocabulary.id("<br>")) == .userDefined)
        #expect(tokenizer.endOfTurnIDs == [2])
        #expect(tokenizer.bosID == 1 && tokenizer.eosID == 2 && tokenizer.unknownID == 0 && tokenizer.addsBOS)
    }

    @Test func streamingHoldsBackPartialCharacters() throws {
        let tokenizer = try vocabulary.tokenizer()
        let ids = tokenizer.encode("h😀é", addSpecial: true, parseSpecial: false)
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        let chunks = ids.map { detokenizer.append($0) } + [detokenizer.finish()]
        // <s>, h, then 4 + 2 byte tokens.
        #expect(chunks == ["", "h", "", "", "", "😀", "", "é", ""])
    }

    @Test(arguments: [0x5EED_0001, 0x5EED_0002, 0x5EED_0003] as [UInt64])
    func randomUnicodeRoundTrips(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        for addSpacePrefix in [false, true] {
            // With the dummy prefix, text after a user-defined token also gets a `▁` (as in llama.cpp), which
            // decoding keeps; that vocabulary has no user-defined tokens.
            let vocabulary =
                addSpacePrefix ? TinySentencePieceVocabulary(pieces: Self.pieces, userDefined: []) : vocabulary
            let tokenizer = try vocabulary.tokenizer(addSpacePrefix: addSpacePrefix)
            for _ in 0..<200 {
                let text = RandomText.string(length: Int.random(in: 0...24, using: &generator), using: &generator)
                let ids = tokenizer.encode(text, addSpecial: true, parseSpecial: false)
                #expect(
                    tokenizer.decode(ids, skipSpecial: true) == text,
                    "seed \(seed) prefix \(addSpacePrefix) text \(String(reflecting: text)) ids \(ids)")
            }
        }
    }

    @Test func invalidVocabulariesAreRejected() throws {
        let mismatched = #expect(throws: TokenizerError.self) {
            try SentencePieceTokenizer(tokens: ["a", "b"], scores: [0])
        }
        #expect(mismatched?.code == .invalidVocabulary)
        #expect(mismatched?.message.contains("scores") == true)
        let badType = #expect(throws: TokenizerError.self) {
            try SentencePieceTokenizer(tokens: ["a", "b"], tokenTypes: [1, 9])
        }
        #expect(badType?.message.contains("token 1") == true)
        let badID = #expect(throws: TokenizerError.self) { try SentencePieceTokenizer(tokens: ["a"], bosID: 5) }
        #expect(badID?.message.contains("BOS") == true)
        let empty = #expect(throws: TokenizerError.self) { try SentencePieceTokenizer(tokens: []) }
        #expect(empty?.code == .invalidVocabulary)
        let notANumber = #expect(throws: TokenizerError.self) {
            try SentencePieceTokenizer(tokens: ["a"], scores: [.nan])
        }
        #expect(notANumber?.message.contains("score") == true)
    }

    @Test func loadsFromGGUFMetadata() throws {
        var writer = GGUFWriter()
        writer.set("tokenizer.ggml.model", .string("llama"))
        writer.set("tokenizer.ggml.tokens", .array(vocabulary.tokens.map { .string($0) }))
        writer.set("tokenizer.ggml.scores", .array(vocabulary.scores.map { .float32($0) }))
        writer.set("tokenizer.ggml.token_type", .array(vocabulary.types.map { .int32(Int32($0)) }))
        writer.set("tokenizer.ggml.add_space_prefix", .bool(false))
        writer.set("tokenizer.ggml.eot_token_id", .uint32(UInt32(vocabulary.id("<br>"))))
        let loaded = try loadTokenizer(from: GGUFFile(bytes: writer.serialized()))
        let tokenizer = try #require(loaded as? SentencePieceTokenizer)
        // Without the id keys, llama.cpp's defaults: BOS 1, EOS 2, unknown 0; BOS is added.
        #expect(tokenizer.bosID == 1 && tokenizer.eosID == 2 && tokenizer.unknownID == 0)
        #expect(tokenizer.paddingID == nil)
        #expect(tokenizer.addsBOS && !tokenizer.addsEOS && !tokenizer.addsSpacePrefix)
        #expect(tokenizer.endOfTurnIDs == [2, vocabulary.id("<br>")])
        #expect(tokenizer.encode("hello world", addSpecial: true, parseSpecial: true) == [1] + ids("hello", "▁world"))

        var minimal = GGUFWriter()
        minimal.set("tokenizer.ggml.model", .string("llama"))
        minimal.set("tokenizer.ggml.tokens", .array(["<unk>", "<s>", "</s>", "▁a", "a"].map { .string($0) }))
        minimal.set("tokenizer.ggml.bos_token_id", .int32(-1))
        let loadedDefaults = try loadTokenizer(from: GGUFFile(bytes: minimal.serialized()))
        let defaults = try #require(loadedDefaults as? SentencePieceTokenizer)
        #expect(defaults.bosID == nil && defaults.addsSpacePrefix)
        #expect(defaults.encode("a a", addSpecial: true, parseSpecial: false) == [3, 3])

        var mistyped = writer
        mistyped.set("tokenizer.ggml.scores", .string("high"))
        let error = #expect(throws: TokenizerError.self) {
            try loadTokenizer(from: GGUFFile(bytes: mistyped.serialized()))
        }
        #expect(error?.code == .invalidMetadata)
        #expect(error?.message.contains("tokenizer.ggml.scores") == true)
    }
}

/// Random strings over ASCII, Latin-1, Cyrillic, CJK, emoji and rarer planes, without `<` (so no special
/// token text can form) and without U+2581 (SentencePiece's space marker, which decodes as a space).
enum RandomText {
    static let ranges: [ClosedRange<UInt32>] = [
        0x20...0x3B, 0x3D...0x7E, 0x09...0x0D, 0xA0...0x17F, 0x370...0x3FF, 0x400...0x4FF, 0x2000...0x206F,
        0x3040...0x30FF, 0x4E00...0x9FFF, 0xAC00...0xD7A3, 0x1F300...0x1FAFF, 0x13000...0x1342F, 0x1D100...0x1D1FF,
        0xE000...0xE0FF, 0x10FF00...0x10FFFF,
    ]

    static func string(length: Int, using generator: inout some RandomNumberGenerator) -> String {
        var scalars = String.UnicodeScalarView()
        while scalars.count < length {
            let range = ranges.randomElement(using: &generator)!
            if let scalar = Unicode.Scalar(UInt32.random(in: range, using: &generator)), scalar.value != 0x2581 {
                scalars.append(scalar)
            }
        }
        return String(scalars)
    }
}
