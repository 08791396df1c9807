import ShoalTestSupport
import ShoalTokenizers
import Testing

/// Expected pieces computed with Python's `regex` module on the original expressions (`\s` as White_Space).
@Suite struct BPEPreTokenizerTests {
    struct Example: Sendable, CustomTestStringConvertible {
        let preTokenizer: BPEPreTokenizer
        let text: String
        let pieces: [String]
        var testDescription: String { "\(preTokenizer) \(String(reflecting: text))" }
    }

    static let examples: [Example] = [
        Example(preTokenizer: .gpt2, text: "Hello world", pieces: ["Hello", " world"]),
        Example(preTokenizer: .gpt2, text: "a  1", pieces: ["a", " ", " 1"]),
        Example(preTokenizer: .gpt2, text: "   x", pieces: ["  ", " x"]),
        Example(preTokenizer: .gpt2, text: "x   ", pieces: ["x", "   "]),
        Example(preTokenizer: .gpt2, text: "I'm here", pieces: ["I", "'m", " here"]),
        Example(preTokenizer: .gpt2, text: "\n\nabc", pieces: ["\n", "\n", "abc"]),
        Example(preTokenizer: .gpt2, text: "tabs\t\tx", pieces: ["tabs", "\t", "\t", "x"]),
        Example(preTokenizer: .gpt2, text: "3.14", pieces: ["3", ".", "14"]),
        Example(preTokenizer: .gpt2, text: " ½", pieces: [" ½"]),
        Example(preTokenizer: .gpt2, text: "it'S", pieces: ["it", "'", "S"]),
        Example(preTokenizer: .gpt2, text: "Ünïcödé 中文!", pieces: ["Ünïcödé", " 中文", "!"]),
        Example(preTokenizer: .gpt2, text: "a\u{A0}b", pieces: ["a", "\u{A0}", "b"]),
        Example(preTokenizer: .gpt2, text: "zero\u{200B}width", pieces: ["zero", "\u{200B}", "width"]),
        Example(preTokenizer: .smollm, text: "a  1", pieces: ["a", "  ", "1"]),
        Example(preTokenizer: .smollm, text: "12345", pieces: ["1", "2", "3", "4", "5"]),
        Example(preTokenizer: .smollm, text: " ½", pieces: [" ", "½"]),
        Example(preTokenizer: .smollm, text: "\n\n1.", pieces: ["\n\n", "1", "."]),
        Example(preTokenizer: .smollm, text: "abc123def", pieces: ["abc", "1", "2", "3", "def"]),
        Example(preTokenizer: .smollm, text: "Ⅻ²", pieces: ["Ⅻ", "²"]),
        Example(preTokenizer: .llama3, text: "12345", pieces: ["123", "45"]),
        Example(preTokenizer: .llama3, text: "Hello\n\nworld", pieces: ["Hello", "\n\n", "world"]),
        Example(preTokenizer: .llama3, text: "IT'S", pieces: ["IT", "'S"]),
        Example(preTokenizer: .llama3, text: "  \n  x", pieces: ["  \n", " ", " x"]),
        Example(preTokenizer: .llama3, text: "(x)\n\n", pieces: ["(x", ")\n\n"]),
        Example(preTokenizer: .llama3, text: "  a", pieces: [" ", " a"]),
        Example(preTokenizer: .llama3, text: "\tfoo", pieces: ["\tfoo"]),
        Example(preTokenizer: .llama3, text: "a1b", pieces: ["a", "1", "b"]),
        Example(preTokenizer: .qwen2, text: "12345", pieces: ["1", "2", "3", "4", "5"]),
        Example(preTokenizer: .qwen2, text: "IT'S ok", pieces: ["IT", "'S", " ok"]),
        Example(preTokenizer: .qwen2, text: "x=1234", pieces: ["x", "=", "1", "2", "3", "4"]),
    ]

    @Test(arguments: examples)
    func splitsLikeTheRegularExpression(_ example: Example) {
        #expect(example.preTokenizer.pieces(of: example.text) == example.pieces)
    }

    @Test(arguments: BPEPreTokenizer.allCases)
    func piecesCoverTheText(_ preTokenizer: BPEPreTokenizer) {
        let seed: UInt64 = 0xA11CE
        var generator = SeededGenerator(seed: seed)
        let pool: [Unicode.Scalar] = ["a", "Z", "7", " ", "\t", "\n", "\r", "'", "s", ".", "é", "中", "½", "😀", "\u{0301}", "\u{2003}"]
        for _ in 0..<200 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...20, using: &generator) { scalars.append(pool.randomElement(using: &generator)!) }
            let text = String(scalars)
            let pieces = preTokenizer.pieces(of: text)
            #expect(pieces.joined() == text, "seed \(seed)")
            #expect(!pieces.contains(""), "seed \(seed)")
        }
    }

    @Test func namesMapAsInLlamaCpp() {
        #expect(BPEPreTokenizer(ggufName: nil) == .gpt2)
        #expect(BPEPreTokenizer(ggufName: "default") == .gpt2)
        #expect(BPEPreTokenizer(ggufName: "smollm") == .smollm)
        #expect(BPEPreTokenizer(ggufName: "starcoder") == .smollm)
        #expect(BPEPreTokenizer(ggufName: "llama-bpe") == .llama3)
        #expect(BPEPreTokenizer(ggufName: "qwen2") == .qwen2)
        #expect(BPEPreTokenizer(ggufName: "no-such-pre") == nil)
    }
}
