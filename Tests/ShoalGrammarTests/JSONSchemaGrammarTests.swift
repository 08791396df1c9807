import ShoalGrammar
import ShoalTestSupport
import Testing

// MARK: - Cases
// Every `valid` text validates against its schema and every `invalid` one does not (checked with Python's
// `jsonschema`, Draft 2020-12 with format checking); `outsideBounds` texts are valid JSON Schema instances that the
// grammar rejects on purpose (whitespace beyond the documented bound, extra members where `additionalProperties`
// is absent, integers written as `1.0`).

struct SchemaCase: Sendable, CustomTestStringConvertible {
    var name: String
    var schema: String
    var valid: [String]
    var invalid: [String]
    var outsideBounds: [String] = []

    var testDescription: String { name }
}

let schemaCases: [SchemaCase] = [
    SchemaCase(
        name: "any value",
        schema: #"true"#,
        valid: [#"1"#, #""s""#, #"null"#, #"{"a": [1, {"b": false}]}"#, #"[]"#, #"-0.5e-3"#],
        invalid: [#"{"a" 1}"#, #"[1,]"#, #"01"#, #"tru"#]
    ),
    SchemaCase(
        name: "empty schema",
        schema: #"{}"#,
        valid: [#"{}"#, #"[1, 2]"#, #""x""#, #"true"#],
        invalid: [#"{,}"#, #"'x'"#]
    ),
    SchemaCase(
        name: "primitive types",
        schema: #"{"type": "object", "properties": {"s": {"type": "string"}, "n": {"type": "number"}, "i": {"type": "integer"}, "b": {"type": "boolean"}, "z": {"type": "null"}}, "required": ["s", "n", "i", "b", "z"]}"#,
        valid: [
            #"{"s": "hi", "n": 1.5, "i": -3, "b": true, "z": null}"#,
            #"{"s":"","n":-0.25e+10,"i":0,"b":false,"z":null}"#,
            #"{"s": "esc \" \\ \/ \b \f \n \r \t \u00e9 é 😀", "n": 1E5, "i": 1234567890123456, "b": true, "z": null}"#,
        ],
        invalid: [
            #"{"s": 1, "n": 1.5, "i": -3, "b": true, "z": null}"#,
            #"{"s": "hi", "n": "1", "i": -3, "b": true, "z": null}"#,
            #"{"s": "hi", "n": 1.5, "i": 1.5, "b": true, "z": null}"#,
            #"{"s": "hi", "n": 1.5, "i": -3, "b": "true", "z": null}"#,
            #"{"s": "hi", "n": 1.5, "i": -3, "b": true, "z": 0}"#,
            #"{"s": "hi", "n": 1.5, "i": -3, "b": true}"#,
        ],
        outsideBounds: [
            #"{"s": "hi", "n": 1.5, "i": 3.0, "b": true, "z": null}"#,
            #"{"s": "hi", "n": 12345678901234567, "i": 3, "b": true, "z": null}"#,
            #"{"s": "hi", "n": 1.5, "i": 3, "b": true, "z": null, "extra": 1}"#,
            #"{"n": 1.5, "s": "hi", "i": 3, "b": true, "z": null}"#,
        ]
    ),
    SchemaCase(
        name: "nested objects with optional fields",
        schema: #"{"type": "object", "properties": {"id": {"type": "integer"}, "user": {"type": "object", "properties": {"name": {"type": "string"}, "email": {"type": "string"}, "address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "string"}}, "required": ["city"], "additionalProperties": false}}, "required": ["name"], "additionalProperties": false}, "note": {"type": "string"}}, "required": ["user"], "additionalProperties": false}"#,
        valid: [
            #"{"user": {"name": "a"}}"#,
            #"{"id": 7, "user": {"name": "a", "address": {"city": "x"}}}"#,
            #"{"id": 7, "user": {"name": "a", "email": "e", "address": {"city": "x", "zip": "1"}}, "note": "n"}"#,
            #"{"user": {"name": "a"}, "note": "n"}"#,
        ],
        invalid: [
            #"{}"#,
            #"{"id": 7}"#,
            #"{"user": {}}"#,
            #"{"user": {"name": "a", "address": {"zip": "1"}}}"#,
            #"{"user": {"name": "a", "phone": "1"}}"#,
            #"{"user": {"name": "a"}, "extra": true}"#,
            #"{"user": {"name": 1}}"#,
            #"{"user": {"name": "a"},}"#,
        ],
        outsideBounds: [#"{"user": {"name": "a"}, "id": 7}"#]
    ),
    SchemaCase(
        name: "all properties optional",
        schema: #"{"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}, "c": {"type": "integer"}}, "additionalProperties": false}"#,
        valid: [#"{}"#, #"{ }"#, #"{"a": 1}"#, #"{"b": 1}"#, #"{"c": 1}"#, #"{"a": 1, "c": 3}"#, #"{"b": 2, "c": 3}"#, #"{"a": 1, "b": 2, "c": 3}"#],
        invalid: [#"{"d": 1}"#, #"{"a": "1"}"#, #"{,}"#, #"{"a": 1,}"#],
        outsideBounds: [#"{"c": 3, "a": 1}"#, #"{"a": 1, "a": 2}"#]
    ),
    SchemaCase(
        name: "optional between required",
        schema: #"{"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}, "c": {"type": "integer"}, "d": {"type": "integer"}}, "required": ["b", "d"], "additionalProperties": false}"#,
        valid: [#"{"b": 1, "d": 2}"#, #"{"a": 0, "b": 1, "d": 2}"#, #"{"b": 1, "c": 5, "d": 2}"#, #"{"a": 0, "b": 1, "c": 5, "d": 2}"#],
        invalid: [#"{"a": 0, "b": 1}"#, #"{"a": 0, "c": 5, "d": 2}"#, #"{"b": 1, "d": 2, "e": 3}"#]
    ),
    SchemaCase(
        name: "additionalProperties true",
        schema: #"{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": true}"#,
        valid: [#"{"a": "x"}"#, #"{"a": "x", "b": [1, {"c": null}]}"#, #"{"a": "x", "ab": 1, "": 2}"#],
        invalid: [#"{"b": 1}"#, #"{"a": 1, "b": 1}"#]
    ),
    SchemaCase(
        name: "additionalProperties schema",
        schema: #"{"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}"#,
        valid: [#"{}"#, #"{"x": 1}"#, #"{"x": 1, "y": 20}"#],
        invalid: [#"{"x": -1}"#, #"{"x": "1"}"#, #"[]"#]
    ),
    SchemaCase(
        name: "required without properties",
        schema: #"{"type": "object", "required": ["k"]}"#,
        valid: [#"{"k": 1}"#, #"{"k": {"deep": [true]}}"#],
        invalid: [#"{}"#, #"{"j": 1}"#]
    ),
    SchemaCase(
        name: "arrays with min and max items",
        schema: #"{"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 4}"#,
        valid: [#"[1, 2]"#, #"[1,2,3]"#, #"[1, 2, 3, 4]"#, "[\n  1,\n  2\n]"],
        invalid: [#"[]"#, #"[1]"#, #"[1, 2, 3, 4, 5]"#, #"[1, "2"]"#, #"[1, 2,]"#, #"{}"#]
    ),
    SchemaCase(
        name: "array without bounds",
        schema: #"{"type": "array", "items": {"type": "string", "maxLength": 2}}"#,
        valid: [#"[]"#, #"[ ]"#, #"["a"]"#, #"["ab", "", "c"]"#],
        invalid: [#"["abc"]"#, #"[1]"#, #"[,]"#]
    ),
    SchemaCase(
        name: "prefixItems",
        schema: #"{"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false, "minItems": 1}"#,
        valid: [#"["a"]"#, #"["a", 1]"#],
        invalid: [#"[]"#, #"[1]"#, #"["a", "b"]"#, #"["a", 1, 2]"#]
    ),
    SchemaCase(
        name: "prefixItems then items",
        schema: #"{"type": "array", "prefixItems": [{"const": "head"}], "items": {"type": "boolean"}, "maxItems": 3}"#,
        valid: [#"[]"#, #"["head"]"#, #"["head", true]"#, #"["head", true, false]"#],
        invalid: [#"[true]"#, #"["head", true, false, true]"#, #"["head", "head"]"#]
    ),
    SchemaCase(
        name: "enum of mixed values",
        schema: #"{"enum": ["red", "green", 42, 1.5, null, true, [1, "a"], {"k": "v"}]}"#,
        valid: [#""red""#, #""green""#, #"42"#, #"1.5"#, #"null"#, #"true"#, #"[1, "a"]"#, #"[1,"a"]"#, #"{"k": "v"}"#],
        invalid: [#""blue""#, #"43"#, #"false"#, #"["a", 1]"#, #"{"k": "w"}"#, #""Red""#],
        outsideBounds: [#"42.0"#, #"15e-1"#]
    ),
    SchemaCase(
        name: "enum filtered by type",
        schema: #"{"type": "string", "enum": ["a", "b", 1]}"#,
        valid: [#""a""#, #""b""#],
        invalid: [#"1"#, #""c""#]
    ),
    SchemaCase(
        name: "const",
        schema: #"{"type": "object", "properties": {"kind": {"const": "circle"}, "meta": {"const": {"v": 1, "tags": ["x"]}}}, "required": ["kind"], "additionalProperties": false}"#,
        valid: [#"{"kind": "circle"}"#, #"{"kind": "circle", "meta": {"v": 1, "tags": ["x"]}}"#, #"{"kind":"circle","meta":{ "v" : 1 , "tags" : [ "x" ] }}"#],
        invalid: [#"{"kind": "square"}"#, #"{"kind": "circle", "meta": {"v": 2, "tags": ["x"]}}"#, #"{}"#]
    ),
    SchemaCase(
        name: "anyOf and type lists",
        schema: #"{"type": "object", "properties": {"value": {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "integer", "minimum": 10}]}, "maybe": {"type": ["string", "null"]}}, "required": ["value", "maybe"], "additionalProperties": false}"#,
        valid: [#"{"value": "abc", "maybe": null}"#, #"{"value": 10, "maybe": "x"}"#, #"{"value": 999, "maybe": ""}"#],
        invalid: [#"{"value": "abcd", "maybe": null}"#, #"{"value": 9, "maybe": null}"#, #"{"value": true, "maybe": null}"#, #"{"value": "a", "maybe": 1}"#]
    ),
    SchemaCase(
        name: "oneOf of objects",
        schema: #"{"oneOf": [{"type": "object", "properties": {"cat": {"type": "string"}}, "required": ["cat"], "additionalProperties": false}, {"type": "object", "properties": {"dog": {"type": "integer"}}, "required": ["dog"], "additionalProperties": false}]}"#,
        valid: [#"{"cat": "tom"}"#, #"{"dog": 3}"#],
        invalid: [#"{"cat": 3}"#, #"{"dog": "rex"}"#, #"{}"#]
    ),
    SchemaCase(
        name: "allOf merging objects",
        schema: ##"{"$defs": {"named": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}, "allOf": [{"$ref": "#/$defs/named"}, {"type": "object", "properties": {"age": {"type": "integer"}}}]}"##,
        valid: [#"{"name": "a"}"#, #"{"name": "a", "age": 3}"#],
        invalid: [#"{"age": 3}"#, #"{"name": 1}"#, #"{"name": "a", "age": "3"}"#],
        outsideBounds: [#"{"name": "a", "extra": 1}"#]
    ),
    SchemaCase(
        name: "recursive tree via $ref",
        schema: ##"{"$ref": "#/$defs/node", "$defs": {"node": {"type": "object", "properties": {"value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["value"], "additionalProperties": false}}}"##,
        valid: [
            #"{"value": 1}"#,
            #"{"value": 1, "children": []}"#,
            #"{"value": 1, "children": [{"value": 2}, {"value": 3, "children": [{"value": 4, "children": []}]}]}"#,
        ],
        invalid: [#"{"value": 1, "children": [{}]}"#, #"{"value": 1, "children": [{"value": "2"}]}"#, #"{"children": []}"#]
    ),
    SchemaCase(
        name: "recursion through the root and definitions",
        schema: ##"{"type": "object", "properties": {"name": {"type": "string"}, "next": {"anyOf": [{"$ref": "#"}, {"$ref": "#/definitions/end"}]}}, "required": ["name", "next"], "additionalProperties": false, "definitions": {"end": {"type": "null"}}}"##,
        valid: [#"{"name": "a", "next": null}"#, #"{"name": "a", "next": {"name": "b", "next": null}}"#],
        invalid: [#"{"name": "a"}"#, #"{"name": "a", "next": {"name": "b"}}"#, #"{"name": "a", "next": 1}"#]
    ),
    SchemaCase(
        name: "integer range with negatives",
        schema: #"{"type": "integer", "minimum": -123, "maximum": 4567}"#,
        valid: ["-123", "-100", "-99", "-10", "-9", "-1", "0", "1", "9", "10", "99", "100", "999", "1000", "4499", "4560", "4567"],
        invalid: ["-124", "-1000", "4568", "4600", "5000", "10000", "-0.5", "01", "-", "+1", "1.5"],
        outsideBounds: ["-0", "1.0", "1e2"]
    ),
    SchemaCase(
        name: "integer exclusive bounds",
        schema: #"{"type": "integer", "exclusiveMinimum": -10, "exclusiveMaximum": -2}"#,
        valid: ["-9", "-5", "-3"],
        invalid: ["-10", "-2", "-1", "0", "5", "-11"]
    ),
    SchemaCase(
        name: "integer minimum only",
        schema: #"{"type": "integer", "minimum": 18}"#,
        valid: ["18", "19", "20", "99", "100", "123456789", "9999999999999999"],
        invalid: ["17", "9", "0", "-18", "1"],
        outsideBounds: ["10000000000000000"]
    ),
    SchemaCase(
        name: "integer maximum only",
        schema: #"{"type": "integer", "exclusiveMaximum": 0}"#,
        valid: ["-1", "-9", "-10", "-123456"],
        invalid: ["0", "1", "100"]
    ),
    SchemaCase(
        name: "number with whole bounds",
        schema: #"{"type": "number", "minimum": -1, "exclusiveMaximum": 2}"#,
        valid: ["-1", "-1.0", "-0.5", "0", "0.25", "1", "1.999", "-0.0001"],
        invalid: ["-1.5", "-2", "2", "2.0", "2.5", "10"],
        outsideBounds: ["-0", "1e0", "-1.00000000000000000"]
    ),
    SchemaCase(
        name: "number exclusive minimum zero",
        schema: #"{"type": "number", "exclusiveMinimum": 0, "maximum": 1}"#,
        valid: ["0.1", "0.001", "1", "1.0", "0.5"],
        invalid: ["0", "0.0", "-0.1", "1.1", "1.0001", "2"]
    ),
    SchemaCase(
        name: "string lengths",
        schema: #"{"type": "string", "minLength": 2, "maxLength": 4}"#,
        valid: [#""ab""#, #""abcd""#, #""\n\t""#, #""ééé""#, #""\u0041bc""#],
        invalid: [#""a""#, #""abcde""#, #""""#, #"12"#, "\"a\nb\""]
    ),
    SchemaCase(
        name: "pattern (anchored)",
        schema: #"{"type": "string", "pattern": "^[A-Z]{3}-\\d{2,4}$"}"#,
        valid: [#""ABC-12""#, #""XYZ-1234""#],
        invalid: [#""AB-12""#, #""ABC-1""#, #""abc-12""#, #""ABC-12345""#, #""xABC-12""#]
    ),
    SchemaCase(
        name: "pattern (unanchored search)",
        schema: #"{"type": "string", "pattern": "ab+c"}"#,
        valid: [#""abc""#, #""xxabbbcyy""#, #""\"abc\"""#],
        invalid: [#""ac""#, #""abx""#, #""""#]
    ),
    SchemaCase(
        name: "pattern with characters JSON escapes",
        schema: #"{"type": "string", "pattern": "^a\"b\\\\c\\n[^x]$"}"#,
        valid: [#""a\"b\\c\nd""#, #""a\"b\\c\n\"""#, #""a\"b\\c\n\\""#],
        invalid: [#""a\"b\\c\nx""#, #""a\"b\\c\n""#, #""a\"b\\c\nde""#]
    ),
    SchemaCase(
        name: "formats",
        schema: #"{"type": "object", "properties": {"d": {"type": "string", "format": "date"}, "t": {"type": "string", "format": "time"}, "dt": {"type": "string", "format": "date-time"}, "u": {"type": "string", "format": "uuid"}, "e": {"type": "string", "format": "email"}}, "additionalProperties": false}"#,
        valid: [
            #"{"d": "2024-02-29", "t": "23:59:59Z", "dt": "1999-12-31T00:00:00.123+05:30", "u": "123e4567-e89b-12d3-a456-426614174000", "e": "a@b.c"}"#,
            #"{"d": "2023-04-30", "t": "00:00:00-08:00", "u": "ABCDEF01-2345-6789-ABCD-EF0123456789"}"#,
        ],
        invalid: [
            #"{"d": "2024-13-01"}"#,
            #"{"d": "2024-04-31"}"#,
            #"{"d": "24-01-01"}"#,
            #"{"t": "24:00:00Z"}"#,
            #"{"u": "123e4567e89b12d3a456426614174000"}"#,
            #"{"u": "123e4567-e89b-12d3-a456-42661417400g"}"#,
            #"{"d": 20240101}"#,
        ]
    ),
    SchemaCase(
        name: "types inferred from keywords",
        schema: #"{"properties": {"a": {"minLength": 1}, "b": {"items": {"type": "null"}}}, "required": ["a", "b"]}"#,
        valid: [#"{"a": "x", "b": []}"#, #"{"a": "x", "b": [null, null]}"#],
        invalid: [#"{"a": "", "b": []}"#, #"{"a": "x", "b": [1]}"#]
    ),
    SchemaCase(
        name: "whitespace bound",
        schema: #"{"type": "object", "properties": {"a": {"type": "array", "items": {"type": "integer"}}}, "required": ["a"], "additionalProperties": false}"#,
        valid: [
            #"{"a":[1,2]}"#,
            #"{ "a" : [ 1 , 2 ] }"#,
            "{\n  \"a\": [\n    1,\n    2\n  ]\n}",
            "{\n\t\"a\":\n\t\t[1,\n\t\t 2]\n}",
            "{\n                    \"a\": []}",
        ],
        invalid: [#"{"a": [1 2]}"#],
        outsideBounds: [
            #"{"a":  [1]}"#,
            "{\n\n\"a\": [1]}",
            "{\n                     \"a\": []}",
            #" {"a": [1]}"#,
            #"{"a": [1]} "#,
            "{\"a\":\r\n[1]}",
        ]
    ),
]

/// Schemas using constructs Shoal does not enforce, with the keyword and pointer the error must name.
let unsupportedSchemas: [(schema: String, keyword: String, pointer: String)] = [
    (##"{"type": "object", "patternProperties": {"^a": {}}}"##, "patternProperties", "#"),
    (##"{"type": "object", "properties": {"a": {"not": {"type": "string"}}}}"##, "not", "#/properties/a"),
    (##"{"if": {"type": "string"}, "then": {"minLength": 1}}"##, "if", "#"),
    (##"{"type": "object", "dependentRequired": {"a": ["b"]}}"##, "dependentRequired", "#"),
    (##"{"type": "array", "items": {"type": "integer"}, "uniqueItems": true}"##, "uniqueItems", "#"),
    (##"{"type": "integer", "multipleOf": 5}"##, "multipleOf", "#"),
    (##"{"type": "object", "minProperties": 1}"##, "minProperties", "#"),
    (##"{"type": "array", "items": {"properties": {"x": {"$ref": "https://example.com/s.json"}}}}"##, "https://example.com/s.json", "#/items/properties/x"),
    (##"{"type": "number", "minimum": 0.5}"##, "minimum", "#"),
    (##"{"type": "array", "contains": {"type": "string"}}"##, "contains", "#"),
    (##"{"allOf": [{"type": "string"}, {"maxLength": 3}]}"##, "allOf", "#"),
    (##"{"type": "string", "pattern": "^a+$", "maxLength": 3}"##, "pattern", "#"),
    (##"{"allOf": [{"properties": {"a": {}}}], "properties": {"b": {}}, "additionalProperties": false}"##, "additionalProperties", "#"),
]

/// Schemas that are not valid JSON Schema (or that nothing satisfies).
let invalidSchemas: [String] = [
    #"{"type": "strin"}"#,
    #"{"type": 3}"#,
    #"{"type": "object", "properties": []}"#,
    #"{"type": "object", "required": "a"}"#,
    #"{"type": "string", "minLength": -1}"#,
    #"{"type": "array", "maxItems": "3"}"#,
    ##"{"$ref": "#/$defs/missing"}"##,
    ##"{"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}, {"type": "null"}]}}, "$ref": "#/$defs/a"}"##,
    #"{"type": "integer", "minimum": 5, "maximum": 4}"#,
    #"{"enum": 3}"#,
    #"{"type": "object""#,
    #"[1, 2]"#,
    #"false"#,
]

// MARK: Generated instances


/// Random spellings of valid instances, within the documented whitespace and digit bounds.
struct InstanceWriter {
    var random: SeededGenerator

    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &random) < probability }

    mutating func space() -> String {
        switch Int.random(in: 0..<4, using: &random) {
        case 0: return " "
        case 1: return "\n" + String((0..<Int.random(in: 0...20, using: &random)).map { _ in chance(0.8) ? " " : "\t" })
        default: return ""
        }
    }

    mutating func object(_ members: [(String, String)]) -> String {
        if members.isEmpty { return "{" + space() + "}" }
        let body = members.map { name, value in "\"\(name)\"" + space() + ":" + space() + value }
        return "{" + space() + body.joined(separator: space() + "," + space()) + space() + "}"
    }

    mutating func array(_ elements: [String]) -> String {
        if elements.isEmpty { return "[" + space() + "]" }
        var parts: [String] = []
        for element in elements { parts.append(element) }
        var text = "[" + space() + parts[0]
        for element in parts.dropFirst() { text += space() + "," + space() + element }
        return text + space() + "]"
    }

    mutating func string(maxLength: Int = 12, minLength: Int = 0) -> String {
        let pieces = ["a", "Z", "0", " ", "é", "漢", "😀", "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\u00e9", "\\u001F", "-", "'", "{", "]"]
        let count = Int.random(in: minLength...maxLength, using: &random)
        return "\"" + (0..<count).map { _ in pieces.randomElement(using: &random)! }.joined() + "\""
    }

    mutating func integer(_ range: ClosedRange<Int64>) -> String { String(Int64.random(in: range, using: &random)) }

    mutating func number() -> String {
        var text = chance(0.3) ? "-" : ""
        text += chance(0.3) ? "0" : String(Int64.random(in: 1...999_999, using: &random))
        if chance(0.5) { text += "." + String(Int.random(in: 0...99999, using: &random)) }
        if chance(0.3) { text += (chance(0.5) ? "e" : "E") + (chance(0.5) ? "-" : "") + String(Int.random(in: 0...300, using: &random)) }
        return text
    }
}

/// Fixed so that runs are reproducible; change it locally to explore.
let generativeSeed: UInt64 = 0x5EED_2024

struct GenerativeCase: Sendable, CustomTestStringConvertible {
    var name: String
    var schema: String
    var write: @Sendable (inout InstanceWriter) -> String

    var testDescription: String { name }
}

let generativeCases: [GenerativeCase] = [
    GenerativeCase(
        name: "person",
        schema: #"{"type": "object", "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 12}, "age": {"type": "integer", "minimum": 0, "maximum": 150}, "email": {"type": "string"}, "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 3}, "score": {"type": "number"}}, "required": ["name", "age"], "additionalProperties": false}"#,
        write: { writer in
            var members: [(String, String)] = [("name", writer.string(minLength: 1)), ("age", writer.integer(0...150))]
            if writer.chance(0.5) { members.append(("email", writer.string())) }
            if writer.chance(0.5) {
                let count = Int.random(in: 0...3, using: &writer.random)
                var tags: [String] = []
                for _ in 0..<count { tags.append(["\"a\"", "\"b\"", "\"c\""].randomElement(using: &writer.random)!) }
                members.append(("tags", writer.array(tags)))
            }
            if writer.chance(0.5) { members.append(("score", writer.number())) }
            return writer.object(members)
        }
    ),
    GenerativeCase(
        name: "tree",
        schema: ##"{"$defs": {"node": {"type": "object", "properties": {"label": {"type": "string"}, "weight": {"type": "integer", "minimum": -1000, "exclusiveMaximum": 1000}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["label", "weight"], "additionalProperties": false}}, "$ref": "#/$defs/node"}"##,
        write: { writer in
            func node(_ writer: inout InstanceWriter, depth: Int) -> String {
                var members: [(String, String)] = [("label", writer.string()), ("weight", writer.integer(-1000...999))]
                if depth < 3, writer.chance(0.6) {
                    var kids: [String] = []
                    for _ in 0..<Int.random(in: 0...3, using: &writer.random) { kids.append(node(&writer, depth: depth + 1)) }
                    members.append(("kids", writer.array(kids)))
                }
                return writer.object(members)
            }
            return node(&writer, depth: 0)
        }
    ),
    GenerativeCase(
        name: "matrix",
        schema: #"{"type": "array", "items": {"type": "array", "items": {"type": "number", "minimum": -5, "maximum": 5}, "minItems": 1, "maxItems": 4}, "maxItems": 5}"#,
        write: { writer in
            var rows: [String] = []
            for _ in 0..<Int.random(in: 0...5, using: &writer.random) {
                var cells: [String] = []
                for _ in 0..<Int.random(in: 1...4, using: &writer.random) {
                    let whole = Int.random(in: -5...5, using: &writer.random)
                    var cell = String(whole)
                    if abs(whole) == 5 {
                        if writer.chance(0.5) { cell += ".000" }
                    } else if writer.chance(0.6) {
                        cell += "." + String(Int.random(in: 0...999, using: &writer.random))
                    }
                    cells.append(cell)
                }
                rows.append(writer.array(cells))
            }
            return writer.array(rows)
        }
    ),
    GenerativeCase(
        name: "event",
        schema: #"{"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "kind": {"enum": ["start", "stop", 3, null]}, "at": {"type": "string", "format": "date-time"}, "meta": {"type": "object", "additionalProperties": {"type": ["string", "boolean"]}}, "code": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{1,3}$"}}, "required": ["id", "kind", "at"], "additionalProperties": false}"#,
        write: { writer in
            let hex = Array("0123456789abcdefABCDEF")
            func hexRun(_ writer: inout InstanceWriter, _ count: Int) -> String {
                String((0..<count).map { _ in hex.randomElement(using: &writer.random)! })
            }
            let uuid = [8, 4, 4, 4, 12].map { hexRun(&writer, $0) }.joined(separator: "-")
            let month = Int.random(in: 1...12, using: &writer.random)
            let day = Int.random(in: 1...28, using: &writer.random)
            func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
            var at = "\(Int.random(in: 1000...2999, using: &writer.random))-\(two(month))-\(two(day))T"
            at += "\(two(Int.random(in: 0...23, using: &writer.random))):\(two(Int.random(in: 0...59, using: &writer.random))):\(two(Int.random(in: 0...59, using: &writer.random)))"
            if writer.chance(0.5) { at += "." + String(Int.random(in: 0...999, using: &writer.random)) }
            at += writer.chance(0.5) ? "Z" : "+\(two(Int.random(in: 0...23, using: &writer.random))):30"
            var members: [(String, String)] = [
                ("id", "\"\(uuid)\""), ("kind", ["\"start\"", "\"stop\"", "3", "null"].randomElement(using: &writer.random)!), ("at", "\"\(at)\""),
            ]
            if writer.chance(0.5) {
                var meta: [(String, String)] = []
                for index in 0..<Int.random(in: 0...3, using: &writer.random) {
                    meta.append(("k\(index)", writer.chance(0.5) ? writer.string() : (writer.chance(0.5) ? "true" : "false")))
                }
                members.append(("meta", writer.object(meta)))
            }
            if writer.chance(0.5) {
                let letters = Array("ABCXYZ")
                let code = String((0..<2).map { _ in letters.randomElement(using: &writer.random)! })
                    + String(Int.random(in: 0...999, using: &writer.random))
                members.append(("code", "\"\(code)\""))
            }
            return writer.object(members)
        }
    ),
]

// MARK: - Tests

@Suite struct JSONSchemaGrammarTests {
    @Test(arguments: schemaCases)
    func acceptsValidAndRejectsInvalid(_ testCase: SchemaCase) throws {
        let gbnf = try JSONSchemaGrammar.gbnf(schemaJSON: testCase.schema)
        let grammar = try Grammar(gbnf: gbnf)
        for text in testCase.valid {
            #expect(grammar.accepts(text), "valid instance rejected: \(text)\n\(gbnf)")
        }
        for text in testCase.invalid {
            #expect(!grammar.accepts(text), "invalid instance accepted: \(text)\n\(gbnf)")
        }
        for text in testCase.outsideBounds {
            #expect(!grammar.accepts(text), "instance outside the documented spelling accepted: \(text)\n\(gbnf)")
        }
    }

    @Test func validPrefixesAreViable() throws {
        let schema = schemaCases.first { $0.name == "nested objects with optional fields" }!
        let grammar = try Grammar(gbnf: JSONSchemaGrammar.gbnf(schemaJSON: schema.schema))
        let text = schema.valid[2]
        for end in text.indices {
            #expect(grammar.acceptsPrefix(String(text[..<end])), "prefix rejected: \(text[..<end])")
        }
        #expect(!grammar.acceptsPrefix(#"{"usr"#))
        #expect(!grammar.acceptsPrefix(#"{"user": {"name": "a"}, "id""#))
    }

    @Test func anyJSONObjectAcceptsObjectsOnly() throws {
        let grammar = try Grammar(gbnf: JSONSchemaGrammar.anyJSONObject)
        for text in [#"{}"#, #"{"a": 1}"#, #"{"a": {"b": [1, "x", null, true, 2.5e3]}, "c": "d"}"#, "{\n  \"k\": []\n}"] {
            #expect(grammar.accepts(text), "rejected: \(text)")
        }
        for text in [#"[]"#, #""s""#, #"1"#, #"null"#, #"{"a": }"#, #"{"a": 1,}"#, #"{a: 1}"#] {
            #expect(!grammar.accepts(text), "accepted: \(text)")
        }
    }

    @Test(arguments: unsupportedSchemas.indices)
    func unsupportedKeywordsThrow(_ index: Int) {
        let (schema, keyword, pointer) = unsupportedSchemas[index]
        let error = #expect(throws: GrammarError.self) { try JSONSchemaGrammar.gbnf(schemaJSON: schema) }
        #expect(error?.code == .unsupportedSchema, "\(schema)")
        #expect(error?.message.contains(keyword) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("at \(pointer)") == true, "\(error?.message ?? "")")
    }

    @Test(arguments: invalidSchemas)
    func invalidSchemasThrow(_ schema: String) {
        let error = #expect(throws: GrammarError.self) { try JSONSchemaGrammar.gbnf(schemaJSON: schema) }
        #expect(error?.code == .invalidSchema, "\(error?.message ?? "")")
    }

    @Test func invalidPatternThrowsInvalidRegexNamingThePointer() {
        let error = #expect(throws: GrammarError.self) {
            try JSONSchemaGrammar.gbnf(schemaJSON: #"{"properties": {"p": {"type": "string", "pattern": "(a"}}}"#)
        }
        #expect(error?.code == .invalidRegex)
        #expect(error?.message.contains("#/properties/p") == true, "\(error?.message ?? "")")
    }

    @Test func ruleNamesAreReadableAndUnique() throws {
        let gbnf = try JSONSchemaGrammar.gbnf(
            schemaJSON: #"{"type": "object", "properties": {"first name": {"type": "string", "maxLength": 5}, "first-name": {"type": "string", "maxLength": 6}, "string": {"enum": ["x"]}}, "required": ["first name"]}"#
        )
        let names = gbnf.split(separator: "\n").compactMap { line -> Substring? in
            guard let range = line.firstRange(of: " ::= ") else { return nil }
            return line[..<range.lowerBound]
        }
        #expect(names.first == "root")
        #expect(Set(names).count == names.count, "duplicate rule names in\n\(gbnf)")
        #expect(names.allSatisfy { $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") } })
        #expect(names.contains("first-name"))
        _ = try Grammar(gbnf: gbnf)
    }

    @Test func manyOptionalPropertiesStayLinear() throws {
        let properties = (0..<60).map { #""p\#($0)": {"type": "integer"}"# }.joined(separator: ", ")
        let gbnf = try JSONSchemaGrammar.gbnf(schemaJSON: #"{"type": "object", "properties": {\#(properties)}, "additionalProperties": false}"#)
        #expect(gbnf.utf8.count < 60_000, "grammar has \(gbnf.utf8.count) bytes")
        let grammar = try Grammar(gbnf: gbnf)
        #expect(grammar.accepts(#"{"p3": 1, "p17": 2, "p59": 3}"#))
        #expect(grammar.accepts(#"{"p59": 3}"#))
        #expect(grammar.accepts("{}"))
        #expect(!grammar.accepts(#"{"p17": 2, "p3": 1}"#))
    }

    @Test(arguments: generativeCases)
    func generatedInstancesAreAccepted(_ testCase: GenerativeCase) throws {
        let grammar = try Grammar(gbnf: JSONSchemaGrammar.gbnf(schemaJSON: testCase.schema))
        let seed = generativeSeed
        var writer = InstanceWriter(random: SeededGenerator(seed: seed))
        for index in 0..<60 {
            let text = testCase.write(&writer)
            #expect(grammar.accepts(text), "seed \(seed), instance \(index) rejected: \(text)")
        }
    }
}
