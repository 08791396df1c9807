import Foundation
import ShoalAPI
import Testing

@Suite struct JSONValueParsingTests {
    private func decoded(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    @Test func agreesWithJSONDecoderOnDocuments() throws {
        let documents = [
            #"{"model":"m","prompt":"Hello","max_tokens":16,"stream":true,"stop":null}"#,
            #" { "a" : [ 1 , -2.5e3 , 0 , 0.125 , 1E-2 , true , false , null ] , "b" : { } , "c" : [ ] } "#,
            #"{"s":"tab\there \"quoted\" back\\slash \/ \b\f\n\r \u00e9 \u4e2d \ud83d\ude00 é 中 😀"}"#,
            #"[[[["deep"]]], {"k": {"k": {"k": 1}}}]"#,
            #"{"dup":1,"dup":2}"#,
            #""just a string""#, "42", "-0", "3.14159", "1e308", "true", "null",
            #"{"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"logit_bias":{"50256":-100}}"#,
        ]
        for document in documents {
            #expect(try JSONValue.parse(Array(document.utf8)) == decoded(document), "\(document)")
        }
    }

    @Test func roundTripsRandomValues() throws {
        var generator = SystemRandomNumberGenerator()
        func randomString() -> String {
            let pieces = ["a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\u{01}", "é", "中", "😀", "\u{7f}", "0"]
            return (0..<Int.random(in: 0...8, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
        }
        func randomValue(depth: Int) -> JSONValue {
            switch Int.random(in: depth > 3 ? 0...3 : 0...5, using: &generator) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &generator))
            case 2: return .number([0, -1, 1.5, 1e-7, 123456789, -3.25e20].randomElement(using: &generator)!)
            case 3: return .string(randomString())
            case 4: return .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in randomValue(depth: depth + 1) })
            default:
                var members: [String: JSONValue] = [:]
                for _ in 0..<Int.random(in: 0...4, using: &generator) { members[randomString()] = randomValue(depth: depth + 1) }
                return .object(members)
            }
        }
        for _ in 0..<300 {
            let value = randomValue(depth: 0)
            let data = try JSONEncoder().encode(value)
            #expect(try JSONValue.parse(Array(data)) == value)
            #expect(try JSONValue.parse(Array(data)) == JSONDecoder().decode(JSONValue.self, from: data))
        }
    }

    @Test func refusesWhatIsNotJSON() {
        let invalid = [
            "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{'a':1}", "[1 2]", "01", "1.", ".5",
            "+1", "-", "1e", "1e+", "NaN", "Infinity", "tru", "nul", "\"open", "\"bad \\x escape\"",
            "\"lone \\ud800 surrogate\"", "\"reversed \\udc00\\ud800\"", "\"\\u12g4\"", "\"raw \u{01} control\"",
            "1 2", "{} []", "1e400", "[" + String(repeating: "[", count: JSONValue.maxDepth) + String(repeating: "]", count: JSONValue.maxDepth + 1),
        ]
        for text in invalid {
            #expect(throws: JSONValue.ParseError.self, "\(text.prefix(40))") { try JSONValue.parse(Array(text.utf8)) }
        }
        // Bytes that are not UTF-8 inside a string, and an overlong encoding.
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0x61, 0xE4, 0xB8, 0x22]] {
            #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(bytes) }
        }
    }

    @Test func acceptsTheDeepestNestingAllowed() throws {
        let depth = JSONValue.maxDepth
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        var value = try JSONValue.parse(Array(text.utf8))
        var levels = 0
        while case .array(let inner) = value {
            levels += 1
            value = inner.first ?? .null
        }
        #expect(levels == depth)
    }

    @Test func saysWhereTheProblemIs() {
        #expect(throws: JSONValue.ParseError(offset: 8, reason: "expected ',' or '}'")) {
            try JSONValue.parse(Array(#"{"a": 1 "b": 2}"#.utf8))
        }
    }
}
