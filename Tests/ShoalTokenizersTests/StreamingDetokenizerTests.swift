import ShoalTestSupport
import ShoalTokenizers
import Testing

@Suite struct StreamingDetokenizerTests {
    /// Byte tokens (id = byte) plus a few tokens that hold part of a character.
    let vocabulary: TinyVocabulary = {
        let partial: [[UInt8]] = [
            [0xF0, 0x9F],  // first half of 😀
            [0x98, 0x80],  // second half of 😀
            [0xE6, 0x97],  // 日 without its last byte
            [0xA5, 0x41],  // last byte of 日, then "A"
            [0x20, 0xE4, 0xB8],  // " " + start of 中
        ]
        return TinyVocabulary(
            merges: [], specials: [("<|im_end|>", .control)],
            extraTokens: partial.map { $0.map(TinyVocabulary.byteLevel).joined() })
    }()

    func stream(_ ids: [Int32], tokenizer: any Tokenizer, skipSpecial: Bool = true) -> [String] {
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecial: skipSpecial)
        return ids.map { detokenizer.append($0) } + [detokenizer.finish()]
    }

    @Test func holdsBackIncompleteCharacters() throws {
        let tokenizer = try vocabulary.tokenizer()
        #expect(stream([0xF0, 0x9F, 0x98, 0x80], tokenizer: tokenizer) == ["", "", "", "😀", ""])
        #expect(stream([0xE6, 0x97, 0xA5], tokenizer: tokenizer) == ["", "", "日", ""])
        let halves = [vocabulary.id("ðŁ"), vocabulary.id("ĺĢ")]
        #expect(stream(halves, tokenizer: tokenizer) == ["", "😀", ""])
        let cjk = [vocabulary.id("æĹ"), vocabulary.id("¥A"), vocabulary.id("Ġä¸"), 0xAD]
        #expect(stream(cjk, tokenizer: tokenizer) == ["", "日A", " ", "中", ""])
    }

    @Test func invalidBytesBecomeReplacementCharacters() throws {
        let tokenizer = try vocabulary.tokenizer()
        // A byte that never starts a character comes out at once.
        #expect(stream([0xFF, 0x41], tokenizer: tokenizer) == ["\u{FFFD}", "A", ""])
        // A broken sequence comes out as soon as it is known to be broken.
        #expect(stream([0xE6, 0x41], tokenizer: tokenizer) == ["", "\u{FFFD}A", ""])
        // E0 80 is an overlong form: invalid at the second byte.
        #expect(stream([0xE0, 0x80], tokenizer: tokenizer) == ["", "\u{FFFD}\u{FFFD}", ""])
        // An incomplete character at the end is flushed by finish.
        #expect(stream([0x41, 0xE6, 0x97], tokenizer: tokenizer) == ["A", "", "", "\u{FFFD}"])
    }

    @Test func skipSpecialLeavesOutControlTokens() throws {
        let tokenizer = try vocabulary.tokenizer()
        let end = vocabulary.id("<|im_end|>")
        #expect(stream([0x41, end], tokenizer: tokenizer).joined() == "A")
        #expect(stream([0x41, end], tokenizer: tokenizer, skipSpecial: false).joined() == "A<|im_end|>")
    }

    @Test(arguments: [false, true])
    func streamEqualsDecodeForRandomIDs(skipSpecial: Bool) throws {
        let tokenizer = try vocabulary.tokenizer()
        let seed: UInt64 = 0xDEC0DE
        var generator = SeededGenerator(seed: seed)
        // Mostly lead and continuation bytes and the partial tokens, so that characters split often.
        let pool: [Int32] = Array(0x80...0xBF) + [0xC3, 0xE0, 0xE6, 0xED, 0xF0, 0xF4, 0xF5, 0xFF, 0x41, 0x20]
            + (256..<Int32(vocabulary.tokens.count)).flatMap { [$0, $0, $0] }
        let characters: [Unicode.Scalar] = ["a", " ", "é", "日", "中", "😀", "\u{10FFFF}"]
        var validSequences = 0
        for round in 0..<600 {
            var ids: [Int32]
            if round.isMultiple(of: 2) {
                ids = (0..<Int.random(in: 0...12, using: &generator)).map { _ in pool.randomElement(using: &generator)! }
            } else {
                // Valid text, one byte per token, with control tokens in between.
                var text = String.UnicodeScalarView()
                for _ in 0..<Int.random(in: 0...6, using: &generator) { text.append(characters.randomElement(using: &generator)!) }
                ids = tokenizer.encode(String(text), addSpecial: false, parseSpecial: false)
                for _ in 0..<Int.random(in: 0...2, using: &generator) {
                    ids.insert(vocabulary.id("<|im_end|>"), at: Int.random(in: 0...ids.count, using: &generator))
                }
            }
            let decoded = tokenizer.decode(ids, skipSpecial: skipSpecial)
            #expect(stream(ids, tokenizer: tokenizer, skipSpecial: skipSpecial).joined() == decoded, "seed \(seed) ids \(ids)")
            if !decoded.contains("\u{FFFD}") { validSequences += 1 }
        }
        #expect(validSequences > 150)
    }
}
