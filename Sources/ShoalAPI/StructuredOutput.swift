public import ShoalGrammar
import Foundation

/// What a request asks its output to look like, in any of the spellings clients use: OpenAI's `response_format`,
/// vLLM's `guided_json` / `guided_regex` / `guided_grammar` / `guided_choice` and `structured_outputs`, and
/// llama-server's `grammar` / `json_schema`.
public enum OutputFormat: Hashable, Sendable {
    /// Any JSON object (`{"type": "json_object"}`).
    case jsonObject
    /// JSON valid against this schema (its text, members in the client's order).
    case jsonSchema(String)
    /// Text fully matching this regular expression.
    case regex(String)
    /// Text in this GBNF grammar's language.
    case grammar(String)
    /// Exactly one of these strings.
    case choice([String])

    /// The GBNF grammar the output is held to.
    /// - Throws: `GrammarError` naming what in the schema, expression or grammar cannot be enforced.
    public func grammarText() throws(GrammarError) -> String {
        switch self {
        case .jsonObject: return JSONSchemaGrammar.anyJSONObject
        case .jsonSchema(let schema): return try JSONSchemaGrammar.gbnf(schemaJSON: schema)
        case .regex(let pattern): return try RegexGrammar.gbnf(pattern: pattern)
        case .grammar(let text): return text
        case .choice(let options): return RegexGrammar.gbnf(choices: options)
        }
    }
}

/// A request's output constraint: the format, the field that asked for it, and how many of the prompt's last
/// tokens were already generated under it (`constraint_resume_tokens`, which the router sets when it moves a
/// stream to another replica, so that the grammar resumes where the broken stream stopped).
public struct StructuredOutput: Sendable, Equatable {
    public var format: OutputFormat
    /// The request field it came from, for error messages.
    public var param: String
    public var resumeTokens: Int

    public init(format: OutputFormat, param: String, resumeTokens: Int = 0) {
        self.format = format
        self.param = param
        self.resumeTokens = resumeTokens
    }

    /// Request fields that constrain the output (the router carries them into a migrated stream's continuation).
    public static let fields = [
        "response_format", "guided_json", "guided_regex", "guided_grammar", "guided_choice", "structured_outputs",
        "grammar", "json_schema",
    ]
    /// Shoal's field for a resumed constraint.
    public static let resumeField = "constraint_resume_tokens"

    /// Reads the constraint fields of a request body (either endpoint); nil when the output is unconstrained
    /// (none given, or `response_format` of type `text`).
    /// - Throws: 400 naming the field when one is malformed or more than one constraint is given.
    public static func read(from body: some Collection<UInt8>) throws(APIError) -> StructuredOutput? {
        try read(RawJSONMembers(body))
    }

    /// `read(from:)` over a body's members already read (nil: not a JSON object, which the strict decoder reports).
    public static func read(_ members: RawJSONMembers?) throws(APIError) -> StructuredOutput? {
        guard let members else { return nil }
        var found: [(OutputFormat, String)] = []
        for field in fields {
            guard let raw = members[field], !isNull(raw) else { continue }
            if let format = try format(field: field, raw: raw) { found.append((format, field)) }
        }
        var resume = 0
        if let raw = members[resumeField], !isNull(raw) {
            guard let value = try? JSONDecoder().decode(Int.self, from: Data(raw)), value >= 0 else {
                throw .invalid(resumeField, "\(resumeField) must be a non-negative integer")
            }
            resume = value
        }
        guard let (format, param) = found.first else {
            if resume > 0 { throw .invalid(resumeField, "\(resumeField) needs an output constraint to resume") }
            return nil
        }
        if found.count > 1 {
            throw .invalid(found[1].1, "only one output constraint may be given; found \(found.map { $0.1 }.joined(separator: " and "))")
        }
        return StructuredOutput(format: format, param: param, resumeTokens: resume)
    }

    private static func isNull(_ raw: [UInt8]) -> Bool { raw == Array("null".utf8) }

    private static func string(_ raw: [UInt8], _ param: String) throws(APIError) -> String {
        guard let text = try? JSONDecoder().decode(String.self, from: Data(raw)) else {
            throw .invalid(param, "\(param) must be a string")
        }
        return text
    }

    /// A schema given as an object (or `true`), or as a string holding one (vLLM accepts both).
    private static func schema(_ raw: [UInt8], _ param: String) throws(APIError) -> OutputFormat {
        if raw.first == UInt8(ascii: "\"") { return .jsonSchema(try string(raw, param)) }
        guard raw.first == UInt8(ascii: "{") || raw == Array("true".utf8) else {
            throw .invalid(param, "\(param) must be a JSON schema (an object)")
        }
        return .jsonSchema(String(decoding: raw, as: UTF8.self))
    }

    private static func choices(_ raw: [UInt8], _ param: String) throws(APIError) -> OutputFormat {
        guard let options = try? JSONDecoder().decode([String].self, from: Data(raw)), !options.isEmpty else {
            throw .invalid(param, "\(param) must be a non-empty array of strings")
        }
        return .choice(options)
    }

    private static func format(field: String, raw: [UInt8]) throws(APIError) -> OutputFormat? {
        switch field {
        case "response_format":
            guard let object = RawJSONMembers(raw), let typeRaw = object["type"] else {
                throw .invalid(field, "response_format must be an object with a \"type\"")
            }
            switch try string(typeRaw, "response_format.type") {
            case "text": return nil
            case "json_object": return .jsonObject
            case "json_schema":
                guard let schemaRaw = object.value(at: ["json_schema", "schema"]) else {
                    throw .invalid("response_format.json_schema", "response_format of type json_schema needs json_schema.schema")
                }
                return try schema(schemaRaw, "response_format.json_schema.schema")
            case let other:
                throw .invalid("response_format.type",
                               "response_format.type must be \"text\", \"json_object\" or \"json_schema\", got \"\(other)\"")
            }
        case "guided_json", "json_schema":
            return try schema(raw, field)
        case "guided_regex":
            return .regex(try string(raw, field))
        case "guided_grammar", "grammar":
            return .grammar(try string(raw, field))
        case "guided_choice":
            return try choices(raw, field)
        case "structured_outputs":
            guard let object = RawJSONMembers(raw) else { throw .invalid(field, "structured_outputs must be an object") }
            var formats: [OutputFormat] = []
            for member in object.members where !isNull(member.value) {
                let param = "structured_outputs.\(member.key)"
                switch member.key {
                case "json": formats.append(try schema(member.value, param))
                case "regex": formats.append(.regex(try string(member.value, param)))
                case "grammar": formats.append(.grammar(try string(member.value, param)))
                case "choice": formats.append(try choices(member.value, param))
                case "json_object":
                    if member.value == Array("true".utf8) { formats.append(.jsonObject) }
                default:
                    throw .invalid(param, "\(param) is not supported; use json, regex, grammar, choice or json_object")
                }
            }
            guard formats.count <= 1 else { throw .invalid(field, "structured_outputs must give one constraint") }
            return formats.first
        default:
            return nil
        }
    }
}

extension StructuredOutput {
    /// `body` encoded as JSON, with every constraint field present in it taken byte for byte from `original` (the
    /// client's body), so that a schema's member order, which `JSONValue` does not keep, survives a proxy.
    public static func encode(_ body: [String: JSONValue], keepingConstraintsOf original: some Collection<UInt8>) throws -> [UInt8] {
        var rest = body
        var raw: [(String, [UInt8])] = []
        if let members = RawJSONMembers(original) {
            for field in fields where rest[field] != nil {
                guard let value = members[field] else { continue }
                rest[field] = nil
                raw.append((field, value))
            }
        }
        var bytes = Array(try ServerSentEvents.makeEncoder().encode(JSONValue.object(rest)))
        guard !raw.isEmpty, bytes.last == UInt8(ascii: "}") else { return bytes }
        bytes.removeLast()
        for (field, value) in raw {
            if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
            bytes += Array("\"\(field)\":".utf8) + value
        }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}
