import ShoalGrammar
import Testing

// MARK: - Cases
// Checked against Python's `re.fullmatch` (with `(?<name>` spelled `(?P<name>`; `a{,2}` is a literal in ECMA-262
// but a quantifier in Python).

struct RegexCase: Sendable, CustomTestStringConvertible {
    var pattern: String
    var matching: [String]
    var nonMatching: [String]

    var testDescription: String { pattern }
}

let regexCases: [RegexCase] = [
    RegexCase(pattern: "abc", matching: ["abc"], nonMatching: ["", "ab", "abcd", "xabc", "ABC"]),
    RegexCase(pattern: "^abc$", matching: ["abc"], nonMatching: ["abcd", "xabc"]),
    RegexCase(pattern: "", matching: [""], nonMatching: ["a"]),
    RegexCase(pattern: "a.c", matching: ["abc", "a c", "a.c", "aéc", "a😀c", "a\tc"], nonMatching: ["a\nc", "ac", "abbc"]),
    RegexCase(pattern: #"\d+"#, matching: ["0", "0123456789"], nonMatching: ["", "a", "12a", "١"]),
    RegexCase(pattern: #"\w*"#, matching: ["", "a_Z9"], nonMatching: ["a-b", "é", " "]),
    RegexCase(pattern: #"\s"#, matching: [" ", "\t", "\n", "\r", "\u{0B}", "\u{0C}"], nonMatching: ["a", ""]),
    RegexCase(pattern: #"\D\W\S"#, matching: ["a-b", "é b", "_ -"], nonMatching: ["1-b", "a_b", "a- "]),
    RegexCase(pattern: #"\.\\\n\t\r"#, matching: [".\\\n\t\r"], nonMatching: ["a\\\n\t\r", ".\\n\t\r"]),
    RegexCase(pattern: #"\u00e9\x41"#, matching: ["éA"], nonMatching: ["eA", "é"]),
    RegexCase(pattern: #"\(\)\[\]\{\}\*\+\?\|\^\$\/"#, matching: ["()[]{}*+?|^$/"], nonMatching: ["()[]{}*+?|^$"]),
    RegexCase(pattern: "[a-c]", matching: ["a", "b", "c"], nonMatching: ["d", "A", "", "ab"]),
    RegexCase(pattern: "[^a-c]", matching: ["d", "A", "\n", "😀"], nonMatching: ["a", "b", "c", ""]),
    RegexCase(pattern: #"[\d\-x]+"#, matching: ["1-x", "x", "-", "007"], nonMatching: ["a", "1_2"]),
    RegexCase(pattern: #"[\]\\^-]"#, matching: ["]", "\\", "^", "-"], nonMatching: ["a", "["]),
    RegexCase(pattern: #"[\s,]+"#, matching: [" ,\t", ","], nonMatching: ["a"]),
    RegexCase(pattern: "(ab)+", matching: ["ab", "abab"], nonMatching: ["", "a", "aba"]),
    RegexCase(pattern: "(?:ab|cd)e", matching: ["abe", "cde"], nonMatching: ["ab", "abcde", "e"]),
    RegexCase(pattern: "(?<year>[0-9]{4})-(?<month>[0-9]{2})", matching: ["2024-01"], nonMatching: ["24-01", "2024-1"]),
    RegexCase(pattern: "cat|dog|", matching: ["cat", "dog", ""], nonMatching: ["cow", "catdog"]),
    RegexCase(pattern: "^cat$|^dog", matching: ["cat", "dog"], nonMatching: ["catdog"]),
    RegexCase(pattern: "colou?r", matching: ["color", "colour"], nonMatching: ["colouur", "colr"]),
    RegexCase(pattern: "a*b*", matching: ["", "a", "b", "aab", "abbb"], nonMatching: ["ba", "abab"]),
    RegexCase(pattern: "x{3}", matching: ["xxx"], nonMatching: ["xx", "xxxx"]),
    RegexCase(pattern: "x{2,}", matching: ["xx", "xxxxxx"], nonMatching: ["x", ""]),
    RegexCase(pattern: "x{1,3}y{0,1}", matching: ["x", "xxx", "xy", "xxxy"], nonMatching: ["y", "xxxx", "xyy"]),
    RegexCase(pattern: "x{0}y", matching: ["y"], nonMatching: ["xy"]),
    RegexCase(pattern: "a+?b*?c??", matching: ["a", "aabbc", "ac"], nonMatching: ["b", "acc"]),
    RegexCase(pattern: "(a|b?)*c", matching: ["c", "abbac"], nonMatching: ["", "abd"]),
    RegexCase(pattern: "(a*)+b", matching: ["b", "aab"], nonMatching: ["aa"]),
    RegexCase(pattern: "((a|)|b{0,2})*", matching: ["", "abba", "bbb"], nonMatching: ["c"]),
    RegexCase(pattern: "a{,2}", matching: ["a{,2}"], nonMatching: ["a", "aa"]),
    RegexCase(pattern: "{x}", matching: ["{x}"], nonMatching: ["x"]),
    RegexCase(
        pattern: #"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"#,
        matching: ["john.doe@example.com", "a+b@x.io"],
        nonMatching: ["john@", "@x.io", "a@b.c", "a b@x.io"]
    ),
    RegexCase(
        pattern: #"(\+\d{1,3} )?\(?\d{3}\)?[ -]?\d{3}-\d{4}"#,
        matching: ["555-123-4567", "+1 (555) 123-4567", "(555)123-4567"],
        nonMatching: ["555-1234", "+1234 555 123-4567"]
    ),
    RegexCase(pattern: "[😀-😂]é", matching: ["😁é"], nonMatching: ["😃é", "😀e"]),
]

/// Patterns Shoal rejects, with a fragment the error message must contain.
let invalidRegexes: [(pattern: String, fragment: String)] = [
    (#"(a)\1"#, "backreference"),
    (#"(?<n>a)\k<n>"#, "backreference"),
    ("a(?=b)", "lookahead"),
    ("a(?!b)", "lookahead"),
    ("(?<=a)b", "lookbehind"),
    ("(?<!a)b", "lookbehind"),
    (#"\bword\b"#, "word boundary"),
    (#"\p{L}"#, "Unicode property"),
    ("(?i)abc", "inline flags"),
    ("a**", "quantifier"),
    ("*a", "nothing to repeat"),
    ("(ab", "unterminated group"),
    ("ab)", "unmatched ')'"),
    ("[ab", "unterminated character class"),
    ("[z-a]", "out of order"),
    ("a{3,2}", "maximum below minimum"),
    ("a{5000}", "repetition count"),
    ("a^b", "anchor"),
    (#"\q"#, "unknown escape"),
    (#"abc\"#, "trailing backslash"),
]

// MARK: - Tests

@Suite struct RegexGrammarTests {
    @Test(arguments: regexCases)
    func matchesExactlyTheFullMatches(_ testCase: RegexCase) throws {
        let gbnf = try RegexGrammar.gbnf(pattern: testCase.pattern)
        let grammar = try Grammar(gbnf: gbnf)
        for text in testCase.matching {
            #expect(grammar.accepts(text), "\(testCase.pattern) should match \(text.debugDescription)\n\(gbnf)")
        }
        for text in testCase.nonMatching {
            #expect(!grammar.accepts(text), "\(testCase.pattern) should not match \(text.debugDescription)\n\(gbnf)")
        }
    }

    @Test(arguments: invalidRegexes.indices)
    func unsupportedConstructsThrow(_ index: Int) {
        let (pattern, fragment) = invalidRegexes[index]
        let error = #expect(throws: GrammarError.self) { try RegexGrammar.gbnf(pattern: pattern) }
        #expect(error?.code == .invalidRegex)
        #expect(error?.message.contains(fragment) == true, "\(pattern): \(error?.message ?? "")")
    }

    @Test func prefixesOfMatchesAreViable() throws {
        let grammar = try Grammar(gbnf: RegexGrammar.gbnf(pattern: #"[A-Z]{2}-\d{3}(x|yz)?"#))
        for prefix in ["", "A", "AB", "AB-", "AB-1", "AB-123", "AB-123y"] {
            #expect(grammar.acceptsPrefix(prefix), "\(prefix)")
        }
        for prefix in ["a", "AB1", "AB-1234", "AB-123yx"] {
            #expect(!grammar.acceptsPrefix(prefix), "\(prefix)")
        }
    }

    @Test func grammarIsASCIIAndRootFirst() throws {
        let gbnf = try RegexGrammar.gbnf(pattern: "[é-ü]😀\"\\\\\n")
        #expect(gbnf.hasPrefix("root ::= "))
        #expect(gbnf.unicodeScalars.allSatisfy { $0.isASCII })
        #expect(try Grammar(gbnf: gbnf).accepts("ö😀\"\\\n"))
    }
}
