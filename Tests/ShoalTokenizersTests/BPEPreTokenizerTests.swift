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
        Example(preTokenizer: .tekken, text: "Hello world", pieces: ["Hello", " world"]),
        Example(preTokenizer: .tekken, text: "HelloWorld", pieces: ["Hello", "World"]),
        Example(preTokenizer: .tekken, text: "HTTPServer", pieces: ["HTTPServer"]),
        Example(preTokenizer: .tekken, text: "iPhone 15 Pro", pieces: ["i", "Phone", " ", "1", "5", " Pro"]),
        Example(preTokenizer: .tekken, text: "ÉCOLE normale", pieces: ["ÉCOLE", " normale"]),
        Example(preTokenizer: .tekken, text: "ABçD", pieces: ["ABç", "D"]),
        Example(preTokenizer: .tekken, text: "naïve café", pieces: ["naïve", " café"]),
        Example(preTokenizer: .tekken, text: "日本語のテキスト", pieces: ["日本語のテキスト"]),
        Example(preTokenizer: .tekken, text: "Привет, мир!", pieces: ["Привет", ",", " мир", "!"]),
        Example(preTokenizer: .tekken, text: "x=1+2", pieces: ["x", "=", "1", "+", "2"]),
        Example(preTokenizer: .tekken, text: "  \n  x", pieces: ["  \n", " ", " x"]),
        Example(preTokenizer: .tekken, text: "(x)\n\n", pieces: ["(x", ")\n\n"]),
        Example(preTokenizer: .tekken, text: "path/to/file\n", pieces: ["path", "/to", "/file", "\n"]),
        Example(preTokenizer: .tekken, text: "a  b", pieces: ["a", " ", " b"]),
        Example(preTokenizer: .tekken, text: "\tfoo", pieces: ["\tfoo"]),
        Example(preTokenizer: .tekken, text: "won't IT'S", pieces: ["won", "'t", " IT", "'S"]),
        Example(preTokenizer: .tekken, text: "3.14159", pieces: ["3", ".", "1", "4", "1", "5", "9"]),
        Example(preTokenizer: .tekken, text: "Ǆemal ǅx", pieces: ["Ǆemal", " ǅx"]),
        Example(preTokenizer: .tekken, text: "e\u{301}cole", pieces: ["e\u{301}cole"]),
        Example(preTokenizer: .tekken, text: "ʰello", pieces: ["ʰello"]),
        Example(preTokenizer: .tekken, text: "hello\r\nworld", pieces: ["hello", "\r\n", "world"]),
        Example(preTokenizer: .tekken, text: "…and then", pieces: ["…and", " then"]),
        Example(preTokenizer: .tekken, text: "a//b\n/c", pieces: ["a", "//", "b", "\n", "/c"]),
        Example(preTokenizer: .tekken, text: "CamelCaseXMLParser", pieces: ["Camel", "Case", "XMLParser"]),
        Example(preTokenizer: .tekken, text: "snake_case_name", pieces: ["snake", "_case", "_name"]),
        Example(preTokenizer: .tekken, text: "end.  ", pieces: ["end", ".", "  "]),
        Example(preTokenizer: .tekken, text: "!!!\n\n", pieces: ["!!!\n\n"]),
        Example(preTokenizer: .tekken, text: "Zürich ÖL", pieces: ["Zürich", " ÖL"]),
        Example(preTokenizer: .tekken, text: "x\u{308}y", pieces: ["x\u{308}y"]),
        Example(preTokenizer: .tekken, text: "\u{301}abc", pieces: ["\u{301}abc"]),
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
        #expect(BPEPreTokenizer(ggufName: "tekken") == .tekken)
        #expect(BPEPreTokenizer(ggufName: "no-such-pre") == nil)
    }
}
