import ShoalGrammar
import ShoalTestSupport
import Testing

@Suite struct GrammarTests {
    @Test func literalsClassesAndRepetition() throws {
        let g = try Grammar(gbnf: #"""
            # a greeting, then digits
            root ::= "hi" ws? name ("," ws? name)* digits
            name ::= [a-z]+
            ws ::= " "
            digits ::= [0-9]{2,3}
            """#)
        for text in ["hibob12", "hi bob, al123", "hibob,al,cy99"] { #expect(g.accepts(text), "\(text)") }
        for text in ["hi", "hibob1", "hibob1234", "hi  bob12", "hiBob12", "hibob,12"] { #expect(!g.accepts(text), "\(text)") }
        #expect(g.acceptsPrefix("hi bo"))
        #expect(g.acceptsPrefix("hibob,al12"))
        #expect(!g.acceptsPrefix("hx"))
    }

    @Test func rulesMaySpanLinesAndNestGroups() throws {
        let g = try Grammar(gbnf: """
            root ::=
              ( "a" | "b"
                | "c" ( "d" | "e" )* )
              "!"
            """)
        for text in ["a!", "b!", "c!", "cdede!"] { #expect(g.accepts(text), "\(text)") }
        for text in ["ab!", "d!", "c"] { #expect(!g.accepts(text), "\(text)") }
    }

    @Test func escapesAndNegatedClasses() throws {
        let g = try Grammar(gbnf: #"""
            root ::= "\"" [^"\\\n]* "\"" "\t" "\x41\u00e9"
            """#)
        #expect(g.accepts("\"abc d\"\tAé"))
        #expect(g.accepts("\"\"\tAé"))
        #expect(!g.accepts("\"a\"b\"\tAé"))
        #expect(!g.accepts("\"a\nb\"\tAé"))
    }

    @Test func nonASCIICharactersMatchTheirUTF8Bytes() throws {
        let g = try Grammar(gbnf: #"root ::= [α-ω]+ "·" . [^a-z]"#)
        #expect(g.accepts("αβω·x€"))
        #expect(g.accepts("λ·😀😀"))
        #expect(!g.accepts("λ·xa"))
        #expect(!g.accepts("a·xx"))
        // A prefix that ends inside a character's bytes is viable only if some character of the class starts so.
        let lambda = Array("λ".utf8)
        #expect(g.acceptsPrefix(bytes: [lambda[0]]))
        #expect(!g.acceptsPrefix(bytes: [0xD0]))  // Cyrillic lead byte: no Greek small letter starts with it
        #expect(!g.acceptsPrefix(bytes: [0xFF]))
    }

    @Test func badGrammarsAreRefusedWithTheirLine() {
        func message(_ text: String) -> String? {
            do { _ = try Grammar(gbnf: text); return nil } catch { return error.message }
        }
        #expect(message("root ::= a\n") == "rule 'a' is used but never defined")
        #expect(message("start ::= \"x\"") == "the grammar has no rule named 'root'")
        #expect(message("root ::= \"x\"\nroot ::= \"y\"")?.contains("defined twice") == true)
        #expect(message("root ::= \"x\"\n  ( \"y\"")?.contains("line 2") == true)
        #expect(message("root ::= [z-a]")?.contains("backwards") == true)
        #expect(message("root ::= \"a\"{3,1}")?.contains("maximum below") == true)
        #expect(message("root ::= expr\nexpr ::= expr \"+\" \"1\" | \"1\"")?.contains("left recursion: expr -> expr") == true)
        #expect(message("root ::= a\na ::= b? a \"x\" | \"y\"\nb ::= \"b\"")?.contains("left recursion") == true)
    }

    @Test func rightRecursionKeepsTheAutomatonSmall() throws {
        // A long run of a repeated item reuses states: the automaton must not grow with the input.
        let g = try Grammar(gbnf: #"root ::= "[" item ("," item)* "]"  item ::= [a-z]+"#)
        let vocabulary = ConstraintVocabulary(tokenBytes: ["[", "]", ",", "a", "bc"].map { Array($0.utf8) }, endTokens: [])
        let constraint = try CompiledConstraint(grammar: g, vocabulary: vocabulary)
        var state = constraint.initialState
        state = try constraint.next(state, token: 0)
        for _ in 0..<1000 {
            state = try constraint.next(state, token: 3)
            state = try constraint.next(state, token: 2)
        }
        state = try constraint.next(state, token: 4)
        let before = constraint.stateCount
        state = try constraint.next(state, token: 1)
        #expect(constraint.mayEnd(state))
        #expect(constraint.mustEnd(state))
        #expect(before < 20)
    }
}

@Suite struct TokenMaskTests {
    /// Grammars with recursion, optional parts, repetition bounds and non-ASCII classes.
    static let grammars = [
        #"root ::= "{" ws (pair ("," ws pair)*)? "}"  pair ::= key ":" ws value  key ::= "\"" [a-c]{1,3} "\""  value ::= [0-9]+ | "true" | root  ws ::= " "?"#,
        #"root ::= ([a-z] | "é" | "ü")* ("." | "!")"#,
        #"root ::= "(" root ")" root | """#,
        #"root ::= "ab"? "abc"* ("x"{2,4} | [0-9] [0-9]?)"#,
    ]

    /// A vocabulary over the grammars' bytes: single bytes, pairs, longer runs, and multi-byte characters cut
    /// between tokens.
    static func vocabulary(seed: UInt64) -> [[UInt8]] {
        var random = SeededGenerator(seed: seed)
        let alphabet = Array(#"{}" :,abcx0129true().!é"#.utf8) + Array("ü".utf8) + [Array("é".utf8)[0], Array("ü".utf8)[1]]
        var tokens = Set(alphabet.map { [$0] })
        while tokens.count < 300 {
            let length = 2 + Int(random.next() % 5)
            tokens.insert((0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
        }
        return tokens.sorted { $0.lexicographicallyPrecedes($1) }
    }

    @Test(arguments: 0..<grammars.count)
    func masksAllowExactlyTheTokensThatKeepTheOutputViable(_ index: Int) throws {
        let grammar = try Grammar(gbnf: Self.grammars[index])
        let reference = EarleyReference(grammar: grammar)
        for seed in UInt64(1)...3 {
            var tokens = Self.vocabulary(seed: seed &* 7 &+ UInt64(index))
            tokens.append([])  // a special token: never allowed by the grammar
            let end = Int32(tokens.count)
            tokens.append([])  // the end token
            let vocabulary = ConstraintVocabulary(tokenBytes: tokens, endTokens: [end])
            let constraint = try CompiledConstraint(grammar: grammar, vocabulary: vocabulary)
            var random = SeededGenerator(seed: seed)
            var state = constraint.initialState
            var text: [UInt8] = []
            for step in 0..<40 {
                let mask = try constraint.allowedTokens(in: state)
                var allowed: [Int32] = []
                for id in 0..<tokens.count {
                    let isAllowed = mask[id / 64] >> UInt64(id % 64) & 1 == 1
                    let expected = Int32(id) == end ? reference.complete(text)
                        : !tokens[id].isEmpty && reference.viable(text + tokens[id])
                    #expect(isAllowed == expected, "grammar \(index) seed \(seed) step \(step) after \(String(decoding: text, as: UTF8.self)) token \(String(decoding: tokens[id], as: UTF8.self))")
                    if isAllowed { allowed.append(Int32(id)) }
                }
                #expect(constraint.mayEnd(state) == reference.complete(text))
                guard !allowed.isEmpty else { break }
                let pick = allowed[Int(random.next() % UInt64(allowed.count))]
                if pick == end { break }
                state = try constraint.next(state, token: pick)
                text += tokens[Int(pick)]
                #expect(!constraint.isDead(state))
            }
        }
    }
}

/// Masks of grammars compiled from random JSON schemas, checked token by token against the Earley reference along
/// random walks (the walk picks among the allowed tokens, so it goes deep into the schema).
@Suite struct SchemaMaskTests {
    static func randomSchema(_ random: inout SeededGenerator, depth: Int) -> String {
        let kind = depth == 0 ? 4 + random.next() % 2 : depth > 2 ? random.next() % 4 : random.next() % 6
        switch kind {
        case 0: return #"{"type": "integer", "minimum": \#(Int(random.next() % 5) - 2), "maximum": \#(Int(random.next() % 30) + 3)}"#
        case 1: return #"{"type": "string", "maxLength": \#(random.next() % 4 + 1)}"#
        case 2: return #"{"enum": ["ab", "b\"c", 7, null]}"#
        case 3: return #"{"type": "boolean"}"#
        case 4:
            let count = Int(random.next() % 3) + 1
            let properties = (0..<count).map { #""p\#($0)": \#(randomSchema(&random, depth: depth + 1))"# }
            let required = (0..<count).filter { _ in random.next() % 4 != 0 }.map { #""p\#($0)""# }
            return #"{"type": "object", "properties": {\#(properties.joined(separator: ", "))}, "required": [\#(required.joined(separator: ", "))]}"#
        default:
            return #"{"type": "array", "items": \#(randomSchema(&random, depth: depth + 1)), "minItems": 1, "maxItems": \#(random.next() % 3 + 1)}"#
        }
    }

    static let fragments = [
        "{", "}", "[", "]", ",", ":", " ", "\n", "\"", "\\\"", "\\", "p0", "p1", "p2", "\"p0\"", "\"p1\":", "\": ",
        "true", "false", "null", "nu", "ll", "tr", "-", "0", "1", "2", "12", "30", "-2", "a", "b", "ab", "\"ab\"",
        "c", "7", ", \"", "{\"", "\"}", "[]", "{}", "x", "\u{e9}", "\u{1F600}", "u", "e", "ue", "rue", "al", "se", "s",
        "f", "t", "n", "l", "3", "8",
    ]

    @Test(arguments: 0..<20)
    func masksOfRandomSchemasMatchTheReference(_ seed: Int) throws {
        var random = SeededGenerator(seed: UInt64(seed) &* 0x9E37_79B9)
        let schema = Self.randomSchema(&random, depth: 0)
        let grammar = try Grammar(gbnf: try JSONSchemaGrammar.gbnf(schemaJSON: schema))
        let reference = EarleyReference(grammar: grammar)
        var tokens = Self.fragments.map { Array($0.utf8) }
        tokens += [Array("\u{e9}".utf8).prefix(1).map { $0 }, Array("\u{1F600}".utf8).suffix(3).map { $0 }]
        let end = Int32(tokens.count)
        tokens.append([])
        let constraint = try CompiledConstraint(grammar: grammar, vocabulary: ConstraintVocabulary(tokenBytes: tokens, endTokens: [end]))
        var state = constraint.initialState
        var text: [UInt8] = []
        for step in 0..<30 {
            let mask = try constraint.allowedTokens(in: state)
            var allowed: [Int32] = []
            for id in tokens.indices {
                let isAllowed = mask[id / 64] >> UInt64(id % 64) & 1 == 1
                let expected = Int32(id) == end ? reference.complete(text) : reference.viable(text + tokens[id])
                #expect(isAllowed == expected, "schema \(schema) step \(step) after \(String(decoding: text, as: UTF8.self)) token \(String(decoding: tokens[id], as: UTF8.self))")
                if isAllowed { allowed.append(Int32(id)) }
            }
            // End only when nothing else is allowed, to walk deep.
            let going = allowed.filter { $0 != end }
            guard !going.isEmpty else { break }
            let pick = going[Int(random.next() % UInt64(going.count))]
            state = try constraint.next(state, token: pick)
            text += tokens[Int(pick)]
        }
    }
}
