/// Compiles JSON Schemas into GBNF grammars for structured output (`response_format` of type `json_schema` and
/// `json_object`).
///
/// The grammar's `root` matches JSON texts that validate against the schema, spelled as follows:
///
/// - Whitespace: between any two tokens, at most one of nothing, one space, or a newline followed by up to 20 spaces
///   or tabs (`ws ::= ( " " | "\n" [ \t]{0,20} )?`). No whitespace before or after the top-level value.
/// - Strings: JSON string characters, no raw control characters (U+0000–U+001F), escapes `\" \\ \/ \b \f \n \r \t`
///   and `\uXXXX`. Unbounded length unless `maxLength` says otherwise.
/// - Numbers: JSON numbers with at most 16 digits before the point, at most 16 after it, and an exponent of at most
///   3 digits; no leading zeros. Integers (`"type": "integer"`) are written without fraction or exponent (`1.0` and
///   `1e2` are integers to JSON Schema but not accepted here) and have at most 16 digits: a bound beyond
///   ±9999999999999999 is clamped to it (a minimum above it is unsupported). Bounded numbers (`minimum` … on
///   `"type": "number"`) are written without an exponent, and `-0` is not written.
/// - Objects: members in the order of `properties`, required and optional alike; optional ones may be left out.
///   `additionalProperties` follows llama.cpp's convention: **absent means `false`** (no members beyond `properties`;
///   faster grammars, fewer hallucinated keys); `true` or a schema allows extra members, whose keys are not among the
///   listed names, after the listed ones. Names listed in `required` but not in `properties` are added at the end
///   with any value.
/// - `const` and `enum` values are written canonically: members and elements in the order given, numbers in their
///   shortest form (`1.0` becomes `1`), strings with only the escapes JSON needs; whitespace between tokens as above.
///
/// Supported keywords: `type` (one or a list), `properties`, `required`, `additionalProperties`, `enum`, `const`,
/// `items` (a schema, `false`, or the legacy array form with `additionalItems`), `prefixItems`, `minItems`,
/// `maxItems`, `uniqueItems: false`, `anyOf` and `oneOf` (both as alternation: `oneOf`'s exclusivity is not
/// enforced), `allOf` of one schema or of object schemas with disjoint `properties` (merged), `$ref` to any local
/// JSON pointer (`#`, `#/$defs/…`, `#/definitions/…`, recursion included), `minLength`, `maxLength`, `pattern` (see
/// ``RegexGrammar``; JSON Schema's unanchored semantics), `format` (`date`, `time`, `date-time`, `uuid` enforced;
/// every other format, such as `email`, `uri`, `hostname`, `ipv4`, `ipv6`, `duration`, is a plain string),
/// `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum` (draft 4's boolean form too) on integers exactly
/// and on numbers when the bounds are whole numbers. Ignored annotations: `description`, `title`, `$schema`,
/// `default`, `examples`, `$id`, `$comment`, `$anchor`, `readOnly`, `writeOnly`, `deprecated`, `$defs`,
/// `definitions`, and keywords JSON Schema does not define. A schema without `type` takes its types from the
/// keywords it uses (`properties` means an object, `items` an array, …) and is any JSON value if it uses none.
///
/// Thrown as ``GrammarError/Code/unsupportedSchema`` (naming the keyword and its JSON pointer): `patternProperties`,
/// `propertyNames`, `not`, `if`/`then`/`else`, `dependentRequired`, `dependentSchemas`, `dependencies`,
/// `uniqueItems: true`, `contains`, `minContains`, `maxContains`, `multipleOf`, `minProperties`, `maxProperties`,
/// `unevaluatedProperties`, `unevaluatedItems`, `$dynamicRef`, `$recursiveRef`, remote or anchor `$ref`s, `$ref`,
/// `enum`, `const`, `anyOf` or `oneOf` next to other constraining keywords, `pattern` together with a length or an
/// enforced format, fractional number bounds, and counts (`maxLength`, `maxItems` …) above
/// ``maximumRepetitionCount``.
public enum JSONSchemaGrammar {
    /// The largest `minLength`, `maxLength`, `minItems` or `maxItems` the grammar spells out.
    public static let maximumRepetitionCount = 10_000

    /// A complete GBNF grammar whose `root` rule matches the JSON texts that validate against a schema.
    ///
    /// - Parameter schemaJSON: The schema as JSON text: an object, or `true` (any JSON value).
    /// - Returns: GBNF text; the first rule is `root`.
    /// - Throws: ``GrammarError`` with code `.invalidSchema` (not JSON, a keyword of the wrong type, a dangling
    ///   `$ref`, a schema nothing satisfies), `.unsupportedSchema` (a constraint Shoal does not enforce) or
    ///   `.invalidRegex` (a `pattern` that does not parse); the message names the keyword and its JSON pointer.
    public static func gbnf(schemaJSON: String) throws(GrammarError) -> String {
        let schema: JSONValue
        do {
            schema = try JSONText.parse(schemaJSON.utf8)
        } catch {
            throw GrammarError(.invalidSchema, "schema is not valid JSON: \(error)")
        }
        var compiler = SchemaCompiler(root: schema)
        return try compiler.compile()
    }

    /// A grammar for OpenAI's `{"type": "json_object"}` mode: `root` is any JSON object, its values any JSON.
    public static let anyJSONObject: String = {
        var builder = GBNFBuilder()
        builder.define("root", builder.primitive(.object))
        return builder.text()
    }()
}

// MARK: - JSON values

extension JSONSchemaGrammar {
    /// A schema as parsed: object members in order, numbers as written.
    typealias JSONValue = JSONText.Value

    // MARK: Grammar text

    /// Collects named rules and the shared primitives they use.
    struct GBNFBuilder {
        enum Primitive: String, CaseIterable {
            case ws, value, object, member, array, string, char, escape, number, integer, boolean, null
            case fractionNonzero = "fraction-nonzero"
            case date, time
            case dateTime = "date-time"
            case uuid

            var body: String {
                switch self {
                case .ws: return #"( " " | "\n" [ \t]{0,20} )?"#
                case .value: return "object | array | string | number | boolean | null"
                case .object: return #""{" ws ( member ( ws "," ws member )* ws )? "}""#
                case .member: return #"string ws ":" ws value"#
                case .array: return #""[" ws ( value ( ws "," ws value )* ws )? "]""#
                case .string: return #""\"" char* "\"""#
                case .char: return #"[^"\\\x00-\x1F] | escape"#
                case .escape: return #""\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )"#
                case .number: return #""-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?"#
                case .integer: return #""-"? ( "0" | [1-9] [0-9]{0,15} )"#
                case .boolean: return #""true" | "false""#
                case .null: return #""null""#
                case .fractionNonzero:
                    // 1 to 16 digits, not all zero, written by the position of the first non-zero digit.
                    return (0..<16).map { zeros in
                        (zeros == 0 ? "" : "\"\(String(repeating: "0", count: zeros))\" ") + "[1-9]"
                            + (zeros == 15 ? "" : " [0-9]{0,\(15 - zeros)}")
                    }.joined(separator: " | ")
                case .date:
                    return #"[0-9]{4} "-" ( ( "0" [13578] | "1" [02] ) "-" ( "0" [1-9] | [12] [0-9] | "3" [01] ) | ( "0" [469] | "11" ) "-" ( "0" [1-9] | [12] [0-9] | "30" ) | "02-" ( "0" [1-9] | [12] [0-9] ) )"#
                case .time:
                    return #"( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,9} )? ( "Z" | [+-] ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )"#
                case .dateTime: return #"date "T" time"#
                case .uuid: return #"[0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12}"#
                }
            }

            var dependencies: [Primitive] {
                switch self {
                case .value: return [.object, .array, .string, .number, .boolean, .null]
                case .object: return [.ws, .member]
                case .member: return [.string, .ws, .value]
                case .array: return [.ws, .value]
                case .string: return [.char]
                case .char: return [.escape]
                case .dateTime: return [.date, .time]
                default: return []
                }
            }
        }

        private var rules: [(name: String, body: String)] = []
        private var definedPrimitives: [Primitive] = []
        private var usedNames: Set<String> = Set(Primitive.allCases.map(\.rawValue) + ["root"])

        /// References `primitive`, adding its rule (and those it uses) to the grammar.
        @discardableResult
        mutating func primitive(_ primitive: Primitive) -> String {
            if !definedPrimitives.contains(primitive) {
                definedPrimitives.append(primitive)
                for dependency in primitive.dependencies { self.primitive(dependency) }
            }
            return primitive.rawValue
        }

        /// A fresh rule name made readable from `hint` (`[a-zA-Z0-9-]+`).
        mutating func reserveName(_ hint: String) -> String {
            var base = ""
            var lastWasDash = true
            for scalar in hint.unicodeScalars {
                if scalar.isASCII, scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                    base.unicodeScalars.append(scalar)
                    lastWasDash = false
                } else if !lastWasDash {
                    base += "-"
                    lastWasDash = true
                }
            }
            while base.hasSuffix("-") { base.removeLast() }
            if base.count > 48 { base = String(base.prefix(48)) }
            if base.isEmpty { base = "rule" }
            var name = base
            var counter = 2
            while usedNames.contains(name) {
                name = "\(base)-\(counter)"
                counter += 1
            }
            usedNames.insert(name)
            return name
        }

        mutating func define(_ name: String, _ body: String) {
            usedNames.insert(name)
            rules.append((name, body))
        }

        func text() -> String {
            var lines: [String] = []
            for rule in rules where rule.name == "root" { lines.append("root ::= \(rule.body)") }
            for rule in rules where rule.name != "root" { lines.append("\(rule.name) ::= \(rule.body)") }
            for primitive in Primitive.allCases where definedPrimitives.contains(primitive) {
                lines.append("\(primitive.rawValue) ::= \(primitive.body)")
            }
            return lines.joined(separator: "\n") + "\n"
        }
    }
}

extension JSONText.Value {
    /// The member named `key` (the last one, when the schema repeats it).
    subscript(key: String) -> JSONText.Value? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

// MARK: - Compiler

private typealias JSONValue = JSONSchemaGrammar.JSONValue
private typealias GBNFBuilder = JSONSchemaGrammar.GBNFBuilder
private typealias GBNFSpelling = RegexGrammar.GBNFSpelling
private typealias ScalarSet = RegexGrammar.ScalarSet

private let ignoredKeywords: Set<String> = [
    "description", "title", "$schema", "default", "examples", "$id", "$comment", "$anchor", "readOnly", "writeOnly",
    "deprecated", "$defs", "definitions",
]

private let unsupportedKeywords: Set<String> = [
    "patternProperties", "propertyNames", "not", "if", "then", "else", "dependentRequired", "dependentSchemas",
    "dependencies", "contains", "minContains", "maxContains", "multipleOf", "minProperties", "maxProperties",
    "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef",
]

private let objectKeywords: Set<String> = ["properties", "required", "additionalProperties"]
private let arrayKeywords: Set<String> = ["items", "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems"]
private let stringKeywords: Set<String> = ["minLength", "maxLength", "pattern", "format"]
private let numberKeywords: Set<String> = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]
private let combinatorKeywords: Set<String> = ["enum", "const", "anyOf", "oneOf", "allOf", "$ref", "type"]
private let constrainingKeywords = objectKeywords.union(arrayKeywords).union(stringKeywords).union(numberKeywords)
    .union(combinatorKeywords).union(unsupportedKeywords)

/// The largest magnitude of an integer part: 16 digits.
private let integerPartLimit: Int64 = 9_999_999_999_999_999

private struct SchemaCompiler {
    let root: JSONValue
    var builder = GBNFBuilder()
    /// Rule names of `$ref` targets by JSON pointer ("" is the root).
    var refRules: [String: String] = [:]
    /// `$ref`s entered since the last token was consumed: meeting one again is left recursion.
    var refsWithoutProgress: Set<String> = []

    init(root: JSONValue) { self.root = root }

    mutating func compile() throws(GrammarError) -> String {
        refRules[""] = "root"
        refsWithoutProgress = [""]
        if case .bool(false) = root {
            throw GrammarError(.invalidSchema, "schema 'false' at # matches nothing")
        }
        builder.define("root", try body(root, path: "#", hint: "root"))
        return builder.text()
    }

    // MARK: Schema dispatch

    /// The right-hand side of a rule for `schema`.
    mutating func body(_ schema: JSONValue, path: String, hint: String) throws(GrammarError) -> String {
        let members: [(key: String, value: JSONValue)]
        switch schema {
        case .bool(true): return builder.primitive(.value)
        case .bool(false): throw GrammarError(.unsupportedSchema, "schema 'false' (matches nothing) at \(path)")
        case .object(let list): members = list
        default: throw GrammarError(.invalidSchema, "schema at \(path) must be an object or a boolean, not \(schema.typeName)")
        }
        let keys = members.map(\.key)
        for key in keys where unsupportedKeywords.contains(key) {
            throw GrammarError(.unsupportedSchema, "unsupported JSON Schema keyword '\(key)' at \(path)")
        }
        if let unique = schema["uniqueItems"] {
            guard case .bool(let value) = unique else {
                throw GrammarError(.invalidSchema, "'uniqueItems' at \(path) must be a boolean")
            }
            if value { throw GrammarError(.unsupportedSchema, "unsupported JSON Schema keyword 'uniqueItems' (true) at \(path)") }
        }
        let constraining = keys.filter { constrainingKeywords.contains($0) && $0 != "uniqueItems" }

        if let ref = schema["$ref"] {
            if let other = constraining.first(where: { $0 != "$ref" }) {
                throw GrammarError(.unsupportedSchema, "unsupported JSON Schema keyword '\(other)' next to '$ref' at \(path)")
            }
            guard case .string(let target) = ref else { throw GrammarError(.invalidSchema, "'$ref' at \(path) must be a string") }
            return try refBody(target, path: path)
        }
        if schema["const"] != nil || schema["enum"] != nil {
            return try constantsBody(schema, constraining: constraining, path: path, hint: hint)
        }
        for keyword in ["anyOf", "oneOf"] {
            guard let value = schema[keyword] else { continue }
            if let other = constraining.first(where: { $0 != keyword }) {
                throw GrammarError(.unsupportedSchema, "unsupported JSON Schema keyword '\(other)' next to '\(keyword)' at \(path)")
            }
            guard case .array(let branches) = value, !branches.isEmpty else {
                throw GrammarError(.invalidSchema, "'\(keyword)' at \(path) must be a non-empty array of schemas")
            }
            var alternatives: [String] = []
            for (index, branch) in branches.enumerated() {
                if case .bool(false) = branch { continue }
                let name = try reference(branch, path: "\(path)/\(keyword)/\(index)", hint: "\(hint)-\(index)")
                if !alternatives.contains(name) { alternatives.append(name) }
            }
            if alternatives.isEmpty { throw GrammarError(.invalidSchema, "'\(keyword)' at \(path) has no satisfiable branch") }
            return alternatives.joined(separator: " | ")
        }
        if schema["allOf"] != nil {
            return try allOfBody(schema, constraining: constraining, path: path, hint: hint)
        }
        return try typedBody(schema, path: path, hint: hint)
    }

    /// A rule name (or primitive) for `schema`, defining a rule named from `hint` when needed.
    mutating func reference(_ schema: JSONValue, path: String, hint: String) throws(GrammarError) -> String {
        let text = try body(schema, path: path, hint: hint)
        if text.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) { return text }
        let name = builder.reserveName(hint)
        builder.define(name, text)
        return name
    }

    /// A reference to a schema inside brackets: a token is consumed before it, so recursion there is fine.
    mutating func nestedReference(_ schema: JSONValue, path: String, hint: String) throws(GrammarError) -> String {
        let saved = refsWithoutProgress
        refsWithoutProgress = []
        defer { refsWithoutProgress = saved }
        return try reference(schema, path: path, hint: hint)
    }

    mutating func refBody(_ ref: String, path: String) throws(GrammarError) -> String {
        guard ref.hasPrefix("#") else {
            throw GrammarError(.unsupportedSchema, "unsupported remote '$ref' '\(ref)' at \(path)")
        }
        let fragment = String(ref.dropFirst())
        guard fragment.isEmpty || fragment.hasPrefix("/") else {
            throw GrammarError(.unsupportedSchema, "unsupported anchor '$ref' '\(ref)' at \(path)")
        }
        let pointer = percentDecoded(fragment)
        if let name = refRules[pointer] {
            if refsWithoutProgress.contains(pointer) {
                throw GrammarError(.invalidSchema, "'$ref' '\(ref)' at \(path) refers to itself without consuming input (left recursion)")
            }
            return name
        }
        var target = root
        var hint = "ref"
        for token in pointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let key = pointerToken(token)
            switch target {
            case .object:
                guard let next = target[key] else {
                    throw GrammarError(.invalidSchema, "dangling '$ref' '\(ref)' at \(path)")
                }
                target = next
            case .array(let elements):
                guard let index = Int(key), elements.indices.contains(index) else {
                    throw GrammarError(.invalidSchema, "dangling '$ref' '\(ref)' at \(path)")
                }
                target = elements[index]
            default:
                throw GrammarError(.invalidSchema, "dangling '$ref' '\(ref)' at \(path)")
            }
            hint = key
        }
        let name = builder.reserveName(hint)
        refRules[pointer] = name
        refsWithoutProgress.insert(pointer)
        if case .bool(false) = target {
            throw GrammarError(.invalidSchema, "'$ref' '\(ref)' at \(path) refers to schema 'false', which matches nothing")
        }
        let text = try body(target, path: "#" + pointer, hint: name)
        refsWithoutProgress.remove(pointer)
        builder.define(name, text)
        return name
    }

    // MARK: enum and const

    mutating func constantsBody(_ schema: JSONValue, constraining: [String], path: String, hint: String) throws(GrammarError) -> String {
        if let other = constraining.first(where: { !["enum", "const", "type"].contains($0) }) {
            let keyword = schema["const"] != nil ? "const" : "enum"
            throw GrammarError(.unsupportedSchema, "unsupported JSON Schema keyword '\(other)' next to '\(keyword)' at \(path)")
        }
        var values: [JSONValue] = []
        if let constant = schema["const"] { values = [constant] }
        if let list = schema["enum"] {
            guard case .array(let elements) = list else { throw GrammarError(.invalidSchema, "'enum' at \(path) must be an array") }
            if schema["const"] != nil {
                let constant = canonical(values[0])
                values = elements.contains { canonical($0) == constant } ? values : []
            } else {
                values = elements
            }
        }
        if schema["type"] != nil {
            let types = try declaredTypes(schema, path: path)
            values = values.filter { value in
                switch value {
                case .number(let text):
                    return types.contains("number") || (types.contains("integer") && Self.integerValue(text) != nil)
                default: return types.contains(value.typeName)
                }
            }
        }
        var alternatives: [String] = []
        for value in values {
            let text = constantExpression(value)
            if !alternatives.contains(text) { alternatives.append(text) }
        }
        if alternatives.isEmpty { throw GrammarError(.invalidSchema, "'enum'/'const' at \(path) allows no value") }
        return alternatives.joined(separator: " | ")
    }

    /// The exact integer a number literal denotes, if it is a whole number of at most 18 digits.
    static func integerValue(_ text: String) -> Int64? {
        if let exact = Int64(text), abs(exact) < 1_000_000_000_000_000_000 { return exact }
        // A truncating conversion and a comparison: `rounded()` and `Int64(exactly:)` would need libm.
        guard let double = Double(text), abs(double) < 1e18 else { return nil }
        let truncated = Int64(double)
        return Double(truncated) == double ? truncated : nil
    }

    func canonicalNumber(_ text: String) -> String {
        if let integer = Self.integerValue(text) { return String(integer) }
        guard let double = Double(text), double.isFinite else { return text }
        return "\(double)"
    }

    /// The canonical compact JSON text of `value` (used to compare constants).
    func canonical(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let text): return canonicalNumber(text)
        case .string(let text): return jsonQuoted(text)
        case .array(let elements): return "[" + elements.map(canonical).joined(separator: ",") + "]"
        case .object(let members):
            return "{" + members.map { jsonQuoted($0.key) + ":" + canonical($0.value) }.joined(separator: ",") + "}"
        }
    }

    /// A GBNF sequence for the canonical spelling of `value`, whitespace allowed between tokens.
    mutating func constantExpression(_ value: JSONValue) -> String {
        switch value {
        case .array(let elements):
            let ws = builder.primitive(.ws)
            if elements.isEmpty { return "\"[\" \(ws) \"]\"" }
            let inner = elements.map { constantExpression($0) }.joined(separator: " \(ws) \",\" \(ws) ")
            return "\"[\" \(ws) \(inner) \(ws) \"]\""
        case .object(let members):
            let ws = builder.primitive(.ws)
            if members.isEmpty { return "\"{\" \(ws) \"}\"" }
            let inner = members.map { member in
                GBNFSpelling.literal(jsonQuoted(member.key)) + " \(ws) \":\" \(ws) " + constantExpression(member.value)
            }.joined(separator: " \(ws) \",\" \(ws) ")
            return "\"{\" \(ws) \(inner) \(ws) \"}\""
        default:
            return GBNFSpelling.literal(canonical(value))
        }
    }

    // MARK: allOf

    mutating func allOfBody(_ schema: JSONValue, constraining: [String], path: String, hint: String) throws(GrammarError) -> String {
        guard case .array(let parts) = schema["allOf"]!, !parts.isEmpty else {
            throw GrammarError(.invalidSchema, "'allOf' at \(path) must be a non-empty array of schemas")
        }
        let siblings = constraining.filter { $0 != "allOf" }
        if parts.count == 1, siblings.isEmpty {
            return try body(parts[0], path: "\(path)/allOf/0", hint: hint)
        }
        // Trivial merge: every part (and the schema's own keywords) is an object schema with disjoint properties.
        // `additionalProperties` would only see its own schema's properties, so it makes the merge non-trivial.
        if schema["additionalProperties"] != nil {
            throw GrammarError(.unsupportedSchema, "unsupported 'additionalProperties' next to 'allOf' at \(path)")
        }
        var components: [(schema: JSONValue, path: String)] = []
        for (index, part) in parts.enumerated() {
            components.append((try resolved(part, path: "\(path)/allOf/\(index)"), "\(path)/allOf/\(index)"))
        }
        var ownMembers: [(key: String, value: JSONValue)] = []
        if case .object(let members) = schema { ownMembers = members.filter { $0.key != "allOf" } }
        components.append((.object(ownMembers), path))
        var properties: [(key: String, value: JSONValue)] = []
        var required: [JSONValue] = []
        for component in components {
            guard case .object(let members) = component.schema else {
                throw GrammarError(.unsupportedSchema, "unsupported 'allOf' at \(path): \(component.path) is not an object schema")
            }
            for member in members where !ignoredKeywords.contains(member.key) {
                switch member.key {
                case "type":
                    guard case .string("object") = member.value else {
                        throw GrammarError(.unsupportedSchema, "unsupported 'allOf' at \(path): only object schemas are merged ('type' at \(component.path))")
                    }
                case "properties":
                    guard case .object(let list) = member.value else {
                        throw GrammarError(.invalidSchema, "'properties' at \(component.path) must be an object")
                    }
                    for property in list {
                        if properties.contains(where: { $0.key == property.key }) {
                            throw GrammarError(.unsupportedSchema, "unsupported 'allOf' at \(path): property '\(property.key)' is defined twice")
                        }
                        properties.append(property)
                    }
                case "required":
                    guard case .array(let names) = member.value else {
                        throw GrammarError(.invalidSchema, "'required' at \(component.path) must be an array of strings")
                    }
                    required += names
                default:
                    if constrainingKeywords.contains(member.key) {
                        throw GrammarError(.unsupportedSchema, "unsupported JSON Schema keyword '\(member.key)' in 'allOf' at \(component.path) (only object schemas with disjoint properties are merged)")
                    }
                }
            }
        }
        let merged: [(key: String, value: JSONValue)] = [("type", .string("object")), ("properties", .object(properties)), ("required", .array(required))]
        return try typedBody(.object(merged), path: path, hint: hint)
    }

    /// Follows `$ref`s (for merging `allOf`).
    func resolved(_ schema: JSONValue, path: String) throws(GrammarError) -> JSONValue {
        var current = schema
        var seen: Set<String> = []
        while case .string(let ref) = current["$ref"] {
            guard ref.hasPrefix("#"), ref == "#" || ref.hasPrefix("#/") else {
                throw GrammarError(.unsupportedSchema, "unsupported '$ref' '\(ref)' at \(path)")
            }
            if case .object(let members) = current, members.contains(where: { constrainingKeywords.contains($0.key) && $0.key != "$ref" }) {
                throw GrammarError(.unsupportedSchema, "unsupported keyword next to '$ref' at \(path)")
            }
            guard seen.insert(ref).inserted else { throw GrammarError(.invalidSchema, "'$ref' cycle at \(path)") }
            var target = root
            for token in percentDecoded(ref.dropFirst()).split(separator: "/").map(String.init) {
                let key = pointerToken(token)
                if case .array(let elements) = target, let index = Int(key), elements.indices.contains(index) {
                    target = elements[index]
                } else if let next = target[key] {
                    target = next
                } else {
                    throw GrammarError(.invalidSchema, "dangling '$ref' '\(ref)' at \(path)")
                }
            }
            current = target
        }
        return current
    }

    // MARK: Types

    func declaredTypes(_ schema: JSONValue, path: String) throws(GrammarError) -> [String] {
        let valid = ["null", "boolean", "object", "array", "number", "integer", "string"]
        var names: [String]
        switch schema["type"] {
        case .string(let name)?: names = [name]
        case .array(let list)?:
            names = []
            for element in list {
                guard case .string(let name) = element else {
                    throw GrammarError(.invalidSchema, "'type' at \(path) must be a string or an array of strings")
                }
                names.append(name)
            }
            if names.isEmpty { throw GrammarError(.invalidSchema, "'type' at \(path) must not be an empty array") }
        case nil: return []
        default: throw GrammarError(.invalidSchema, "'type' at \(path) must be a string or an array of strings")
        }
        for name in names where !valid.contains(name) {
            throw GrammarError(.invalidSchema, "unknown type '\(name)' in 'type' at \(path)")
        }
        return names
    }

    mutating func typedBody(_ schema: JSONValue, path: String, hint: String) throws(GrammarError) -> String {
        var types = try declaredTypes(schema, path: path)
        if types.isEmpty {
            guard case .object(let members) = schema else { return builder.primitive(.value) }
            let keys = Set(members.map(\.key))
            if !keys.isDisjoint(with: objectKeywords) { types.append("object") }
            if !keys.isDisjoint(with: arrayKeywords.subtracting(["uniqueItems"])) { types.append("array") }
            if !keys.isDisjoint(with: stringKeywords) { types.append("string") }
            if !keys.isDisjoint(with: numberKeywords) { types.append("number") }
            if types.isEmpty { return builder.primitive(.value) }
        }
        if types.contains("number") { types.removeAll { $0 == "integer" } }
        var seen: Set<String> = []
        types = types.filter { seen.insert($0).inserted }
        var alternatives: [String] = []
        for type in types {
            let typeHint = types.count == 1 ? hint : "\(hint)-\(type)"
            let text: String
            switch type {
            case "null": text = builder.primitive(.null)
            case "boolean": text = builder.primitive(.boolean)
            case "string": text = try stringBody(schema, path: path)
            case "integer": text = try integerBody(schema, path: path)
            case "number": text = try numberBody(schema, path: path)
            case "object": text = try objectBody(schema, path: path, hint: hint)
            default: text = try arrayBody(schema, path: path, hint: hint)
            }
            if types.count == 1 { return text }
            if text.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) {
                alternatives.append(text)
            } else {
                let name = builder.reserveName(typeHint)
                builder.define(name, text)
                alternatives.append(name)
            }
        }
        return alternatives.joined(separator: " | ")
    }

    func count(_ schema: JSONValue, _ keyword: String, path: String) throws(GrammarError) -> Int? {
        guard let value = schema[keyword] else { return nil }
        guard case .number(let text) = value, let integer = Self.integerValue(text), integer >= 0 else {
            throw GrammarError(.invalidSchema, "'\(keyword)' at \(path) must be a non-negative integer")
        }
        if integer > JSONSchemaGrammar.maximumRepetitionCount {
            if keyword.hasPrefix("max") { return nil }  // Beyond what any generation reaches: checked by the caller.
            throw GrammarError(.unsupportedSchema, "unsupported '\(keyword)' \(integer) at \(path) (above \(JSONSchemaGrammar.maximumRepetitionCount))")
        }
        return Int(integer)
    }

    /// Like `count`, but a maximum above the limit is unsupported rather than dropped.
    func maximumCount(_ schema: JSONValue, _ keyword: String, path: String) throws(GrammarError) -> Int? {
        let value = try count(schema, keyword, path: path)
        if value == nil, schema[keyword] != nil {
            throw GrammarError(.unsupportedSchema, "unsupported '\(keyword)' at \(path) (above \(JSONSchemaGrammar.maximumRepetitionCount))")
        }
        return value
    }

    // MARK: Strings

    mutating func stringBody(_ schema: JSONValue, path: String) throws(GrammarError) -> String {
        let minimum = try count(schema, "minLength", path: path) ?? 0
        let maximum = try maximumCount(schema, "maxLength", path: path)
        if let maximum, maximum < minimum {
            throw GrammarError(.invalidSchema, "'maxLength' \(maximum) is below 'minLength' \(minimum) at \(path)")
        }
        let hasLength = schema["minLength"] != nil || schema["maxLength"] != nil
        var format: GBNFBuilder.Primitive?
        if let value = schema["format"] {
            guard case .string(let name) = value else { throw GrammarError(.invalidSchema, "'format' at \(path) must be a string") }
            switch name {
            case "date": format = .date
            case "time": format = .time
            case "date-time": format = .dateTime
            case "uuid": format = .uuid
            default: format = nil
            }
        }
        if let value = schema["pattern"] {
            guard case .string(let pattern) = value else { throw GrammarError(.invalidSchema, "'pattern' at \(path) must be a string") }
            if hasLength {
                throw GrammarError(.unsupportedSchema, "unsupported 'pattern' together with 'minLength'/'maxLength' at \(path)")
            }
            if format != nil {
                throw GrammarError(.unsupportedSchema, "unsupported 'pattern' together with 'format' at \(path)")
            }
            let content: String
            do {
                content = try RegexGrammar.jsonStringContent(pattern: pattern, anyCharacterRule: builder.primitive(.char))
            } catch {
                throw GrammarError(error.code, "\(error.message) ('pattern' at \(path))")
            }
            return content.isEmpty ? #""\"\"""# : #""\"" "# + content + #" "\"""#
        }
        if let format {
            if hasLength {
                throw GrammarError(.unsupportedSchema, "unsupported 'minLength'/'maxLength' together with 'format' at \(path)")
            }
            return #""\"" "# + builder.primitive(format) + #" "\"""#
        }
        if !hasLength { return builder.primitive(.string) }
        let char = builder.primitive(.char)
        let repetition: String
        switch (minimum, maximum) {
        case (_, 0?): return #""\"\"""#
        case (0, nil): repetition = "\(char)*"
        case (1, nil): repetition = "\(char)+"
        case (let low, nil): repetition = "\(char){\(low),}"
        case (0, 1?): repetition = "\(char)?"
        case (let low, let high?) where low == high: repetition = "\(char){\(low)}"
        case (let low, let high?): repetition = "\(char){\(low),\(high)}"
        }
        return #""\"" "# + repetition + #" "\"""#
    }

    // MARK: Numbers

    struct Bound {
        var value: Int64
        var exclusive: Bool
    }

    /// Reads a numeric keyword: its value as a Double and, if whole, as an exact integer.
    func numericKeyword(_ schema: JSONValue, _ keyword: String, path: String) throws(GrammarError) -> (double: Double, integer: Int64?)? {
        guard let value = schema[keyword] else { return nil }
        guard case .number(let text) = value, let double = Double(text) else {
            throw GrammarError(.invalidSchema, "'\(keyword)' at \(path) must be a number")
        }
        return (double, Self.integerValue(text))
    }

    /// The lower and upper bounds (`minimum`/`exclusiveMinimum`, `maximum`/`exclusiveMaximum`, the most restrictive
    /// of each pair), for integers rounded to inclusive whole numbers.
    func bounds(_ schema: JSONValue, path: String, integer: Bool) throws(GrammarError) -> (lower: Bound?, upper: Bound?) {
        var lowerCandidates: [(double: Double, integer: Int64?, exclusive: Bool, keyword: String)] = []
        var upperCandidates: [(double: Double, integer: Int64?, exclusive: Bool, keyword: String)] = []
        var draft4ExclusiveMinimum = false
        var draft4ExclusiveMaximum = false
        for keyword in ["exclusiveMinimum", "exclusiveMaximum"] {
            if case .bool(let flag)? = schema[keyword] {
                if keyword == "exclusiveMinimum" { draft4ExclusiveMinimum = flag } else { draft4ExclusiveMaximum = flag }
            }
        }
        if let value = try numericKeyword(schema, "minimum", path: path) {
            lowerCandidates.append((value.double, value.integer, draft4ExclusiveMinimum, "minimum"))
        }
        if let value = try numericKeyword(schema, "maximum", path: path) {
            upperCandidates.append((value.double, value.integer, draft4ExclusiveMaximum, "maximum"))
        }
        if case .number? = schema["exclusiveMinimum"], let value = try numericKeyword(schema, "exclusiveMinimum", path: path) {
            lowerCandidates.append((value.double, value.integer, true, "exclusiveMinimum"))
        }
        if case .number? = schema["exclusiveMaximum"], let value = try numericKeyword(schema, "exclusiveMaximum", path: path) {
            upperCandidates.append((value.double, value.integer, true, "exclusiveMaximum"))
        }
        for keyword in ["exclusiveMinimum", "exclusiveMaximum"] {
            if let value = schema[keyword] {
                switch value {
                case .bool, .number: break
                default: throw GrammarError(.invalidSchema, "'\(keyword)' at \(path) must be a number")
                }
            }
        }

        func convert(_ candidate: (double: Double, integer: Int64?, exclusive: Bool, keyword: String), lower: Bool) throws(GrammarError) -> Bound? {
            // Beyond the 16-digit limit on this side: no bound needed, or nothing fits.
            if candidate.double > Double(integerPartLimit) {
                if lower { throw GrammarError(.unsupportedSchema, "unsupported '\(candidate.keyword)' \(candidate.double) at \(path) (beyond the 16-digit limit on numbers)") }
                return nil
            }
            if candidate.double < -Double(integerPartLimit) {
                if !lower { throw GrammarError(.unsupportedSchema, "unsupported '\(candidate.keyword)' \(candidate.double) at \(path) (beyond the 16-digit limit on numbers)") }
                return nil
            }
            if integer {
                var value: Int64
                var exclusive = candidate.exclusive
                if let exact = candidate.integer {
                    value = exact
                } else {
                    // Ceiling or floor without libm: truncate, then step towards the allowed side.
                    value = Int64(candidate.double)
                    if lower, Double(value) < candidate.double { value += 1 }
                    if !lower, Double(value) > candidate.double { value -= 1 }
                    exclusive = false
                }
                if exclusive { value += lower ? 1 : -1 }
                return Bound(value: value, exclusive: false)
            }
            guard let exact = candidate.integer else {
                throw GrammarError(.unsupportedSchema, "unsupported fractional '\(candidate.keyword)' \(candidate.double) on a number at \(path) (only whole-number bounds are enforced)")
            }
            return Bound(value: exact, exclusive: candidate.exclusive)
        }

        var lower: Bound?
        for candidate in lowerCandidates {
            guard let bound = try convert(candidate, lower: true) else { continue }
            if let current = lower, current.value > bound.value || (current.value == bound.value && current.exclusive) { continue }
            lower = bound
        }
        var upper: Bound?
        for candidate in upperCandidates {
            guard let bound = try convert(candidate, lower: false) else { continue }
            if let current = upper, current.value < bound.value || (current.value == bound.value && current.exclusive) { continue }
            upper = bound
        }
        return (lower, upper)
    }

    mutating func integerBody(_ schema: JSONValue, path: String) throws(GrammarError) -> String {
        let (lowerBound, upperBound) = try bounds(schema, path: path, integer: true)
        if lowerBound == nil, upperBound == nil { return builder.primitive(.integer) }
        let low = lowerBound.map { max($0.value, -integerPartLimit) } ?? -integerPartLimit
        let high = upperBound.map { min($0.value, integerPartLimit) } ?? integerPartLimit
        guard low <= high else {
            throw GrammarError(.invalidSchema, "no integer satisfies the bounds at \(path)")
        }
        return Self.integerRange(low, high).joined(separator: " | ")
    }

    /// Alternatives matching exactly the integers in `low...high`, written without leading zeros (and no `-0`).
    static func integerRange(_ low: Int64, _ high: Int64) -> [String] {
        var alternatives: [String] = []
        if low < 0 {
            let magnitudes = digitRange(UInt64(high < 0 ? -high : 1), UInt64(-low))
            alternatives.append("\"-\" " + parenthesized(magnitudes))
        }
        if high >= 0 {
            alternatives += digitRange(UInt64(max(low, 0)), UInt64(high))
        }
        return alternatives
    }

    static func parenthesized(_ alternatives: [String]) -> String {
        alternatives.count == 1 && !alternatives[0].contains(" ") ? alternatives[0] : "(" + alternatives.joined(separator: " | ") + ")"
    }

    /// Alternatives matching exactly the decimal numerals (no leading zeros) of `low...high`.
    static func digitRange(_ low: UInt64, _ high: UInt64) -> [String] {
        var alternatives: [String] = []
        let lowDigits = String(low).count
        let highDigits = String(high).count
        for digits in lowDigits...highDigits {
            let from = digits == lowDigits ? low : power10(digits - 1)
            let to = digits == highDigits ? high : power10(digits) - 1
            alternatives.append(sameLengthRange(Array(String(from)), Array(String(to))))
        }
        return alternatives
    }

    static func power10(_ exponent: Int) -> UInt64 {
        var result: UInt64 = 1
        for _ in 0..<exponent { result *= 10 }
        return result
    }

    /// A sequence matching the numerals of `from...to`, both of the same length (the result has no top-level `|`).
    static func sameLengthRange(_ from: [Character], _ to: [Character]) -> String {
        var index = 0
        while index < from.count, from[index] == to[index] { index += 1 }
        let prefix = String(from[0..<index])
        if index == from.count { return GBNFSpelling.literal(prefix) }
        func digitClass(_ low: Int, _ high: Int) -> String { low == high ? "[\(low)]" : "[\(low)-\(high)]" }
        let first = from[index].wholeNumberValue!
        let last = to[index].wholeNumberValue!
        let rest = from.count - index - 1
        var alternatives: [String] = []
        if rest == 0 {
            alternatives.append(digitClass(first, last))
        } else {
            let fromTail = Array(from[(index + 1)...])
            let toTail = Array(to[(index + 1)...])
            let fromTailIsZeros = fromTail.allSatisfy { $0 == "0" }
            let toTailIsNines = toTail.allSatisfy { $0 == "9" }
            let middleLow = fromTailIsZeros ? first : first + 1
            let middleHigh = toTailIsNines ? last : last - 1
            let anyDigits = rest == 1 ? "[0-9]" : "[0-9]{\(rest)}"
            if !fromTailIsZeros {
                alternatives.append("[\(first)] " + sameLengthRange(fromTail, Array(repeating: "9", count: rest)))
            }
            if middleLow <= middleHigh {
                alternatives.append(digitClass(middleLow, middleHigh) + " " + anyDigits)
            }
            if !toTailIsNines {
                alternatives.append("[\(last)] " + sameLengthRange(Array(repeating: "0", count: rest), toTail))
            }
        }
        let core = alternatives.count == 1 ? alternatives[0] : "(" + alternatives.joined(separator: " | ") + ")"
        return prefix.isEmpty ? core : GBNFSpelling.literal(prefix) + " " + core
    }

    mutating func numberBody(_ schema: JSONValue, path: String) throws(GrammarError) -> String {
        let (lower, upper) = try bounds(schema, path: path, integer: false)
        if lower == nil, upper == nil { return builder.primitive(.number) }
        var alternatives: [String] = []
        // Non-negative side: magnitudes from max(lower, 0).
        if upper.map({ $0.value > 0 || ($0.value == 0 && !$0.exclusive) }) ?? true {
            let start = lower.map { $0.value >= 0 ? $0 : Bound(value: 0, exclusive: false) } ?? Bound(value: 0, exclusive: false)
            alternatives += magnitudes(from: start, to: upper)
        }
        // Negative side: magnitudes of values below zero.
        if lower.map({ $0.value < 0 }) ?? true {
            let start = upper.map { $0.value < 0 ? Bound(value: -$0.value, exclusive: $0.exclusive) : Bound(value: 0, exclusive: true) }
                ?? Bound(value: 0, exclusive: true)
            let end = lower.map { Bound(value: -$0.value, exclusive: $0.exclusive) }
            let negative = magnitudes(from: start, to: end)
            if !negative.isEmpty { alternatives.append("\"-\" " + "(" + negative.joined(separator: " | ") + ")") }
        }
        if alternatives.isEmpty { throw GrammarError(.invalidSchema, "no number satisfies the bounds at \(path)") }
        return alternatives.joined(separator: " | ")
    }

    /// Alternatives for unsigned decimals (no exponent) whose value lies between `start` and `end` (nil: the
    /// 16-digit limit), each bound inclusive unless marked exclusive.
    mutating func magnitudes(from start: Bound, to end: Bound?) -> [String] {
        let anyFraction = #"( "." [0-9]{1,16} )?"#
        let zeroFraction = #"( "." "0"{1,16} )?"#
        let nonzeroFraction = #""." "# + builder.primitive(.fractionNonzero)
        if let end, end.value < start.value { return [] }
        if let end, end.value == start.value {
            return start.exclusive || end.exclusive ? [] : [GBNFSpelling.literal(String(start.value)) + " " + zeroFraction]
        }
        var alternatives: [String] = []
        if start.exclusive {
            alternatives.append(GBNFSpelling.literal(String(start.value)) + " " + nonzeroFraction)
        }
        let wholeLow = start.exclusive ? start.value + 1 : start.value
        let wholeHigh = end.map { $0.value - 1 } ?? integerPartLimit
        if wholeLow <= wholeHigh {
            alternatives.append(Self.parenthesized(Self.digitRange(UInt64(wholeLow), UInt64(wholeHigh))) + " " + anyFraction)
        }
        if let end, !end.exclusive {
            alternatives.append(GBNFSpelling.literal(String(end.value)) + " " + zeroFraction)
        }
        return alternatives
    }

    // MARK: Objects

    mutating func objectBody(_ schema: JSONValue, path: String, hint: String) throws(GrammarError) -> String {
        var properties: [(name: String, schema: JSONValue)] = []
        if let value = schema["properties"] {
            guard case .object(let members) = value else { throw GrammarError(.invalidSchema, "'properties' at \(path) must be an object") }
            properties = members.map { ($0.key, $0.value) }
        }
        var required: Set<String> = []
        if let value = schema["required"] {
            guard case .array(let names) = value else { throw GrammarError(.invalidSchema, "'required' at \(path) must be an array of strings") }
            for name in names {
                guard case .string(let text) = name else { throw GrammarError(.invalidSchema, "'required' at \(path) must be an array of strings") }
                required.insert(text)
                if !properties.contains(where: { $0.name == text }) { properties.append((text, .bool(true))) }
            }
        }
        var kept: [(name: String, schema: JSONValue)] = []
        for property in properties {
            if case .bool(false) = property.schema {
                if required.contains(property.name) {
                    throw GrammarError(.invalidSchema, "required property '\(property.name)' at \(path) has schema 'false'")
                }
                continue
            }
            kept.append(property)
        }
        var additional: JSONValue?
        switch schema["additionalProperties"] {
        case nil, .bool(false)?: additional = nil
        case let value?:
            guard case .object = value else {
                if case .bool(true) = value { additional = value; break }
                throw GrammarError(.invalidSchema, "'additionalProperties' at \(path) must be a boolean or a schema")
            }
            additional = value
        }
        let ws = builder.primitive(.ws)
        if kept.isEmpty, case .bool(true)? = additional { return builder.primitive(.object) }

        let separator = "\(ws) \",\" \(ws)"
        var pairs: [String] = []
        for property in kept {
            let propertyHint = hint == "root" ? property.name : "\(hint)-\(property.name)"
            let pointer = property.name.replacing("~", with: "~0").replacing("/", with: "~1")
            let value = try nestedReference(property.schema, path: "\(path)/properties/\(pointer)", hint: propertyHint)
            pairs.append(GBNFSpelling.literal(jsonQuoted(property.name)) + " \(ws) \":\" \(ws) " + value)
        }
        var extraPair: String?
        if let additional {
            let extraHint = "\(hint)-additional"
            let value: String
            if case .bool(true) = additional {
                value = builder.primitive(.value)
            } else {
                value = try nestedReference(additional, path: "\(path)/additionalProperties", hint: "\(extraHint)-value")
            }
            let key: String
            if kept.isEmpty {
                key = builder.primitive(.string)
            } else {
                key = builder.reserveName("\(extraHint)-key")
                builder.define(key, excludedKeys(kept.map { jsonQuotedContent($0.name) }))
            }
            extraPair = "\(key) \(ws) \":\" \(ws) \(value)"
        }
        if kept.isEmpty && extraPair == nil { return "\"{\" \(ws) \"}\"" }

        // tail(i): members i... after at least one member was written; optional ones may be left out.
        let extraTail = extraPair.map { "( \(separator) \($0) )*" }
        func tailParts(_ start: Int) -> [String] {
            var parts: [String] = []
            for index in start..<kept.count {
                let item = "\(separator) \(pairs[index])"
                parts.append(required.contains(kept[index].name) ? item : "( \(item) )?")
            }
            if let extraTail { parts.append(extraTail) }
            return parts
        }
        let firstRequired = kept.firstIndex { required.contains($0.name) }
        let lastStart = firstRequired ?? kept.count - 1
        // The first member written is one of kept[0...lastStart] (or, with nothing required, an extra member).
        // Tails shared by several starts become chained rules so the grammar stays linear in the property count.
        var tailNames: [Int: String] = [:]
        if lastStart >= 1 {
            var following = tailParts(lastStart + 1).joined(separator: " ")
            for start in stride(from: lastStart, through: 1, by: -1) {
                let item = "\(separator) \(pairs[start])"
                let head = required.contains(kept[start].name) ? item : "( \(item) )?"
                let name = builder.reserveName("\(hint)-after-\(kept[start - 1].name)")
                builder.define(name, following.isEmpty ? head : "\(head) \(following)")
                tailNames[start] = name
                following = name
            }
        }
        var alternatives: [String] = []
        for start in 0...max(lastStart, 0) where !kept.isEmpty {
            let tail = start + 1 <= lastStart ? [tailNames[start + 1]!] : tailParts(start + 1)
            alternatives.append(([pairs[start]] + tail).joined(separator: " "))
        }
        if firstRequired == nil, let extraPair, let extraTail {
            alternatives.append("\(extraPair) \(extraTail)")
        }
        let content = alternatives.count == 1 ? alternatives[0] : "( " + alternatives.joined(separator: " | ") + " )"
        if firstRequired != nil {
            return "\"{\" \(ws) \(content) \(ws) \"}\""
        }
        return "\"{\" \(ws) ( \(content) \(ws) )? \"}\""
    }

    /// A JSON string (with quotes) whose spelling is none of `names` (each given as spelled inside the quotes).
    mutating func excludedKeys(_ names: [String]) -> String {
        let char = builder.primitive(.char)
        let spelled = names.map { Array($0.unicodeScalars) }
        func node(_ prefix: [Unicode.Scalar]) -> String {
            let matching = spelled.filter { $0.count > prefix.count && Array($0[0..<prefix.count]) == prefix }
            var nextScalars: [Unicode.Scalar] = []
            for name in matching where !nextScalars.contains(name[prefix.count]) { nextScalars.append(name[prefix.count]) }
            nextScalars.sort { $0.value < $1.value }
            var alternatives: [String] = []
            if !spelled.contains(prefix) { alternatives.append(#""\"""#) }
            for scalar in nextScalars {
                alternatives.append(GBNFSpelling.literal(scalars: [scalar.value]) + " " + node(prefix + [scalar]))
            }
            // Any other character, then anything.
            var other = ScalarSet.jsonUnescaped
            for scalar in nextScalars { other = other.subtracting(.single(scalar.value)) }
            var otherAlternatives = [GBNFSpelling.characterClass(other)]
            if !nextScalars.contains("\\") {
                otherAlternatives.append(builder.primitive(.escape))
            }
            alternatives.append("( " + otherAlternatives.joined(separator: " | ") + " ) \(char)* \"\\\"\"")
            return "( " + alternatives.joined(separator: " | ") + " )"
        }
        return #""\"" "# + node([])
    }

    // MARK: Arrays

    mutating func arrayBody(_ schema: JSONValue, path: String, hint: String) throws(GrammarError) -> String {
        var prefix: [JSONValue] = []
        var prefixPath = "\(path)/prefixItems"
        var items: JSONValue? = schema["items"]
        var itemsPath = "\(path)/items"
        if let value = schema["prefixItems"] {
            guard case .array(let list) = value else { throw GrammarError(.invalidSchema, "'prefixItems' at \(path) must be an array of schemas") }
            prefix = list
        }
        if case .array(let list)? = items {
            // Draft 4–2019 tuple form: items [...] with additionalItems.
            prefix = list
            prefixPath = "\(path)/items"
            items = schema["additionalItems"]
            itemsPath = "\(path)/additionalItems"
        }
        if let items {
            switch items {
            case .object, .bool: break
            default: throw GrammarError(.invalidSchema, "'items' at \(path) must be a schema")
            }
        }
        var itemsAllowed = true
        if case .bool(false)? = items { itemsAllowed = false }
        var minimum = try count(schema, "minItems", path: path) ?? 0
        var maximum = try maximumCount(schema, "maxItems", path: path)
        // A prefix schema `false` ends the array before it.
        if let falseIndex = prefix.firstIndex(where: { if case .bool(false) = $0 { return true } else { return false } }) {
            prefix = Array(prefix[0..<falseIndex])
            itemsAllowed = false
        }
        if !itemsAllowed { maximum = min(maximum ?? prefix.count, prefix.count) }
        if let maximum, minimum > maximum {
            throw GrammarError(.invalidSchema, "no array satisfies 'minItems' \(minimum) and 'maxItems'/'items' at \(path)")
        }
        minimum = max(minimum, 0)
        let ws = builder.primitive(.ws)
        if maximum == 0 { return "\"[\" \(ws) \"]\"" }

        var elementNames: [String] = []
        for (index, element) in prefix.enumerated() {
            elementNames.append(try nestedReference(element, path: "\(prefixPath)/\(index)", hint: "\(hint)-\(index)"))
        }
        var itemName: String?
        if itemsAllowed {
            itemName = try nestedReference(items ?? .bool(true), path: itemsPath, hint: "\(hint)-item")
        }
        let separator = "\(ws) \",\" \(ws)"
        func element(_ index: Int) -> String { index < elementNames.count ? elementNames[index] : itemName! }
        // rest(i): elements i..., after i elements were written.
        func rest(_ index: Int) -> String {
            if let maximum, index >= maximum { return "" }
            if index < elementNames.count {
                let following = rest(index + 1)
                let segment = "\(separator) \(element(index))" + (following.isEmpty ? "" : " \(following)")
                return index < minimum ? segment : "( \(segment) )?"
            }
            let low = max(0, minimum - index)
            let high = maximum.map { $0 - index }
            let unit = "( \(separator) \(itemName!) )"
            switch (low, high) {
            case (0, nil): return unit + "*"
            case (1, nil): return unit + "+"
            case (_, nil): return unit + "{\(low),}"
            case (0, 1?): return unit + "?"
            case (_, let high?) where high == low: return low == 1 ? unit : unit + "{\(low)}"
            case (_, let high?): return unit + "{\(low),\(high)}"
            }
        }
        let following = rest(1)
        let content = element(0) + (following.isEmpty ? "" : " \(following)")
        if minimum >= 1 { return "\"[\" \(ws) \(content) \(ws) \"]\"" }
        return "\"[\" \(ws) ( \(content) \(ws) )? \"]\""
    }
}

// MARK: - Helpers

/// `text` as a JSON string literal, with only the escapes JSON requires.
private func jsonQuoted(_ text: String) -> String { "\"" + jsonQuotedContent(text) + "\"" }

private func jsonQuotedContent(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        default:
            if scalar.value < 0x20 {
                out += "\\u00" + GBNFSpelling.hex(scalar.value, width: 2).lowercased()
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}

/// Decodes `%XX` sequences (the URI fragment encoding of a JSON pointer) where well formed.
private func percentDecoded(_ text: some StringProtocol) -> String {
    var bytes: [UInt8] = []
    let utf8 = Array(text.utf8)
    var index = 0
    while index < utf8.count {
        if utf8[index] == UInt8(ascii: "%"), index + 2 < utf8.count,
            let value = UInt8(String(decoding: utf8[(index + 1)...(index + 2)], as: UTF8.self), radix: 16)
        {
            bytes.append(value)
            index += 3
        } else {
            bytes.append(utf8[index])
            index += 1
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Unescapes a JSON pointer token (`~1` is `/`, `~0` is `~`).
private func pointerToken(_ token: some StringProtocol) -> String {
    String(token).replacing("~1", with: "/").replacing("~0", with: "~")
}
