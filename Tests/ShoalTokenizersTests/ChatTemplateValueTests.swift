import Foundation
import ShoalTokenizers
import Testing

/// TemplateValue: literals, ordered JSON parsing, and JSON output in Python's `json.dumps` format.
struct ChatTemplateValueTests {
    @Test func literalsBuildTheRightCases() {
        let value: TemplateValue = ["role": "user", "n": 3, "x": 1.5, "ok": true, "none": nil, "list": [1, "a"]]
        #expect(value["role"] == .string("user"))
        #expect(value["n"] == .int(3))
        #expect(value["x"] == .double(1.5))
        #expect(value["ok"] == .bool(true))
        #expect(value["none"] == .null)
        #expect(value["list"]?[1] == .string("a"))
        #expect(value["missing"] == nil)
        #expect(value["list"]?[5] == nil)
        #expect(value["role"]?.stringValue == "user")
    }

    @Test func objectEqualityIsOrderSensitive() {
        let ab: TemplateValue = ["a": 1, "b": 2]
        let ba: TemplateValue = ["b": 2, "a": 1]
        #expect(ab == ["a": 1, "b": 2])
        #expect(ab != ba)
        #expect(TemplateValue.int(1) != .double(1))
    }

    @Test func parsingKeepsKeyOrderAndTypes() throws {
        let value = try TemplateValue(jsonString: #"{"zeta": 1, "alpha": [true, null, 2.5, -3, "é\n\u00e9\ud83d\ude00"], "mid": {"b": {}, "a": []}, "big": 1e400}"#)
        guard case .object(let pairs) = value else {
            Issue.record("not an object")
            return
        }
        #expect(pairs.map(\.key) == ["zeta", "alpha", "mid", "big"])
        #expect(value["alpha"] == [true, nil, 2.5, -3, "é\né😀"])
        #expect(value["big"] == .double(.infinity))
        #expect(value.jsonString() == #"{"zeta": 1, "alpha": [true, null, 2.5, -3, "é\né😀"], "mid": {"b": {}, "a": []}, "big": Infinity}"#)
    }

    @Test func duplicateKeysKeepTheLastValueInTheFirstPosition() throws {
        let value = try TemplateValue(jsonString: #"{"a": 1, "b": 2, "a": 3}"#)
        #expect(value == ["a": 3, "b": 2])
    }

    @Test(arguments: [
        ("", "invalid JSON at byte 0: unexpected end of input"),
        ("{", "invalid JSON at byte 1: expected a string key"),
        ("[1,]", "invalid JSON at byte 3: unexpected character"),
        ("{\"a\" 1}", "invalid JSON at byte 5: expected ':'"),
        ("\"tab\there\"", "invalid JSON at byte 4: control character in a string"),
        ("01", "invalid JSON at byte 1: unexpected data after the JSON value"),
        ("[1] x", "invalid JSON at byte 4: unexpected data after the JSON value"),
        ("\"\\q\"", "invalid JSON at byte 3: unknown escape '\\q'"),
        ("tru", "invalid JSON at byte 0: expected 'true'"),
    ])
    func badJSONIsASyntaxError(_ text: String, _ message: String) {
        let error = #expect(throws: ChatTemplateError.self) { try TemplateValue(jsonString: text) }
        #expect(error?.code == .syntax)
        #expect(error?.message == message)
    }

    @Test func jsonStringMatchesPythonJsonDumps() {
        // Outputs recorded from Python: json.dumps(value, ensure_ascii=False, indent=...).
        let value: TemplateValue = ["name": "get_weather", "args": ["city": "Zürich", "days": 3, "ratio": 0.1], "tags": [], "meta": [:], "q": "say \"hi\"\\"]
        #expect(value.jsonString() == #"{"name": "get_weather", "args": {"city": "Zürich", "days": 3, "ratio": 0.1}, "tags": [], "meta": {}, "q": "say \"hi\"\\"}"#)
        #expect(value.jsonString(indent: 2) == """
            {
              "name": "get_weather",
              "args": {
                "city": "Zürich",
                "days": 3,
                "ratio": 0.1
              },
              "tags": [],
              "meta": {},
              "q": "say \\"hi\\"\\\\"
            }
            """)
        let floats: TemplateValue = [1.0, 1e16, 1e15, 0.0001, 0.00001, 1.5e-7, -0.0, 123456789.125, .double(.nan)]
        #expect(floats.jsonString() == "[1.0, 1e+16, 1000000000000000.0, 0.0001, 1e-05, 1.5e-07, -0.0, 123456789.125, NaN]")
        #expect(TemplateValue.string("\u{1}\u{8}\u{c}\u{1f}\u{7f}").jsonString() == #""\u0001\b\f\u001f\#u{7f}""#)
    }

    @Test func foundationObjectsConvert() throws {
        let data = Data(#"{"b": [true, 1, 2.5, "s", null], "a": {"x": false}}"#.utf8)
        let object = try JSONSerialization.jsonObject(with: data)
        let value = try TemplateValue(json: object)
        // Foundation dictionaries have no order, so keys come out sorted.
        #expect(value == ["a": ["x": false], "b": [true, 1, 2.5, "s", nil]])
        #expect(try TemplateValue(json: ["k": [1, 2]] as [String: Any]) == ["k": [1, 2]])
        #expect(throws: ChatTemplateError.self) { try TemplateValue(json: Date()) }
    }
}
