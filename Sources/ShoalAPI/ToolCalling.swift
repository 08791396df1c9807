import Foundation

/// A function the model may call (`tools[i].function`).
public struct ToolFunction: Sendable, Equatable {
    public var name: String
    public var description: String?
    /// The parameters' JSON schema, as the client wrote it.
    public var parameters: String
}

/// `tool_choice`.
public enum ToolChoice: Sendable, Equatable {
    case none, auto, required
    case function(String)
}

/// Tool calling in Shoal's generic format, for every chat template: the tools are described to the model in a
/// system message, and the answer is constrained to one JSON object, either `{"tool_calls": [{"name": ...,
/// "arguments": {...}}, ...]}` (arguments held to the function's parameter schema) or, with `tool_choice: "auto"`,
/// `{"response": "..."}`. The server turns it back into `message.tool_calls` or `message.content`. (llama.cpp
/// uses the same idea for templates without a native tool format.)
public struct ToolCalling: Sendable, Equatable {
    public var tools: [ToolFunction]
    public var choice: ToolChoice
    /// Whether more than one call may come in one answer (`parallel_tool_calls`, default true).
    public var parallel: Bool

    /// Reads `tools`, `tool_choice` and `parallel_tool_calls`; nil when no tools are given or `tool_choice` is
    /// `"none"` (the model then answers in text and the tools are not shown to it).
    /// - Throws: 400 naming the field for a malformed tool, a duplicate name, or a choice naming no tool.
    public static func read(from body: some Collection<UInt8>) throws(APIError) -> ToolCalling? {
        try read(RawJSONMembers(body))
    }

    /// `read(from:)` over a body's members already read (nil: not a JSON object).
    public static func read(_ members: RawJSONMembers?) throws(APIError) -> ToolCalling? {
        guard let members else { return nil }
        var choice = ToolChoice.auto
        if let raw = members["tool_choice"], raw != Array("null".utf8) {
            if let text = try? JSONDecoder().decode(String.self, from: Data(raw)) {
                switch text {
                case "none": choice = .none
                case "auto": choice = .auto
                case "required": choice = .required
                default: throw .invalid("tool_choice", "tool_choice must be \"none\", \"auto\", \"required\" or a function, got \"\(text)\"")
                }
            } else if let object = RawJSONMembers(raw), let nameRaw = object.value(at: ["function", "name"]),
                      let name = try? JSONDecoder().decode(String.self, from: Data(nameRaw)) {
                choice = .function(name)
            } else {
                throw .invalid("tool_choice", #"tool_choice must be a string or {"type": "function", "function": {"name": ...}}"#)
            }
        }
        var parallel = true
        if let raw = members["parallel_tool_calls"], raw != Array("null".utf8) {
            guard let value = try? JSONDecoder().decode(Bool.self, from: Data(raw)) else {
                throw .invalid("parallel_tool_calls", "parallel_tool_calls must be a boolean")
            }
            parallel = value
        }
        var tools: [ToolFunction] = []
        if let raw = members["tools"], raw != Array("null".utf8) {
            guard let elements = RawJSONMembers.arrayElements(raw) else { throw .invalid("tools", "tools must be an array") }
            for (index, element) in elements.enumerated() {
                let param = "tools[\(index)]"
                guard let tool = RawJSONMembers(element) else { throw .invalid(param, "\(param) must be an object") }
                if let type = tool["type"], (try? JSONDecoder().decode(String.self, from: Data(type))) != "function" {
                    throw .invalid("\(param).type", "\(param).type must be \"function\"")
                }
                guard let function = tool["function"].flatMap({ RawJSONMembers($0) }),
                      let nameRaw = function["name"],
                      let name = try? JSONDecoder().decode(String.self, from: Data(nameRaw)) else {
                    throw .invalid("\(param).function.name", "\(param).function.name is required")
                }
                guard !name.isEmpty, name.count <= 64,
                      name.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }) else {
                    throw .invalid("\(param).function.name", "\(param).function.name must be 1-64 letters, digits, '_' or '-'")
                }
                guard !tools.contains(where: { $0.name == name }) else {
                    throw .invalid("\(param).function.name", "tool name '\(name)' is given twice")
                }
                let description = function["description"].flatMap { try? JSONDecoder().decode(String.self, from: Data($0)) }
                var parameters = #"{"type": "object"}"#
                if let raw = function["parameters"], raw != Array("null".utf8) {
                    guard raw.first == UInt8(ascii: "{") else {
                        throw .invalid("\(param).function.parameters", "\(param).function.parameters must be a JSON schema object")
                    }
                    parameters = String(decoding: raw, as: UTF8.self)
                }
                tools.append(ToolFunction(name: name, description: description, parameters: parameters))
            }
        }
        if case .function(let name) = choice, !tools.contains(where: { $0.name == name }) {
            throw .invalid("tool_choice", "tool_choice names '\(name)', which is not among the tools")
        }
        if choice == .required, tools.isEmpty { throw .invalid("tool_choice", "tool_choice \"required\" needs tools") }
        guard !tools.isEmpty, choice != .none else { return nil }
        return ToolCalling(tools: tools, choice: choice, parallel: parallel)
    }

    /// The tools the answer may call.
    private var callable: [ToolFunction] {
        if case .function(let name) = choice { return tools.filter { $0.name == name } }
        return tools
    }

    /// The JSON schema of the answer (see the type's description).
    public var answerSchema: String {
        let calls = callable.map { tool in
            #"{"type": "object", "properties": {"name": {"const": \#(Self.quoted(tool.name))}, "arguments": \#(tool.parameters)}, "#
                + #""required": ["name", "arguments"], "additionalProperties": false}"#
        }
        let item = calls.count == 1 ? calls[0] : #"{"anyOf": [\#(calls.joined(separator: ", "))]}"#
        let limit = parallel ? "" : #", "maxItems": 1"#
        let toolCalls = #"{"type": "object", "properties": {"tool_calls": {"type": "array", "items": \#(item), "minItems": 1\#(limit)}}, "#
            + #""required": ["tool_calls"], "additionalProperties": false}"#
        guard choice == .auto else { return toolCalls }
        let response = #"{"type": "object", "properties": {"response": {"type": "string"}}, "required": ["response"], "additionalProperties": false}"#
        return #"{"anyOf": [\#(toolCalls), \#(response)]}"#
    }

    /// The system text that describes the tools (unless the template lists them) and the answer's form.
    public func instructions(listingTools: Bool = true) -> String {
        var text = ""
        if listingTools {
            text = "You can call these tools (functions). Each is given with its JSON schema of arguments.\n"
            for tool in callable {
                text += "- \(tool.name)"
                if let description = tool.description, !description.isEmpty { text += ": \(description)" }
                text += "\n  arguments schema: \(tool.parameters)\n"
            }
        }
        let call = #"{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]}"#
        switch choice {
        case .auto:
            text += "Answer with one JSON object: \(call) to call tools, or {\"response\": \"<your answer>\"} to answer the user directly."
        default:
            text += "Answer with one JSON object that calls tools: \(call)."
        }
        return text
    }

    static func quoted(_ text: String) -> String {
        String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }

    /// The envelope an earlier assistant turn's `tool_calls` are shown to the model in (the answer's own form).
    public static func envelope(of calls: JSONValue) -> String? {
        guard case .array(let items) = calls else { return nil }
        var parts: [String] = []
        for item in items {
            guard case .object(let call) = item, case .object(let function)? = call["function"],
                  case .string(let name)? = function["name"] else { continue }
            var arguments = "{}"
            if case .string(let text)? = function["arguments"],
               (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) != nil {
                arguments = text
            }
            parts.append(#"{"name": \#(quoted(name)), "arguments": \#(arguments)}"#)
        }
        return parts.isEmpty ? nil : #"{"tool_calls": [\#(parts.joined(separator: ", "))]}"#
    }
}

/// One call the model made.
public struct ParsedToolCall: Sendable, Equatable {
    public var name: String
    /// The arguments as the JSON text the model wrote.
    public var arguments: String

    public init(name: String, arguments: String) {
        self.name = name
        self.arguments = arguments
    }
}

extension ToolCalling {
    /// The answer read back: its calls, or its text (`{"response": ...}`); nil when the text is not a complete
    /// answer (it ran into `max_tokens`), which the caller returns as plain content.
    public static func parse(_ text: String) -> (content: String?, calls: [ParsedToolCall])? {
        guard let object = RawJSONMembers(Array(text.utf8)) else { return nil }
        if let raw = object["response"] {
            guard let content = try? JSONDecoder().decode(String.self, from: Data(raw)) else { return nil }
            return (content, [])
        }
        guard let raw = object["tool_calls"], let items = RawJSONMembers.arrayElements(raw) else { return nil }
        var calls: [ParsedToolCall] = []
        for item in items {
            guard let call = RawJSONMembers(item), let nameRaw = call["name"], let arguments = call["arguments"],
                  let name = try? JSONDecoder().decode(String.self, from: Data(nameRaw)) else { return nil }
            calls.append(ParsedToolCall(name: name, arguments: String(decoding: arguments, as: UTF8.self)))
        }
        return (nil, calls)
    }

    /// A new call id, OpenAI's shape (`call_` and 24 characters).
    public static func makeCallID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var generator = SystemRandomNumberGenerator()
        return "call_" + String((0..<24).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
    }
}

extension ToolCalling {
    /// The conversation as a template without a tool format can show it: the tools' description in the system
    /// message (merged into the client's own, or first), earlier calls as the answer form the model writes them in,
    /// and tool results as user turns (consecutive user turns merged, so templates that insist on alternating
    /// roles accept them). With no tool calling (`tools` absent or `tool_choice: "none"`) only the history is
    /// rewritten; without `describeTools` (a template that shows the `tools` variable itself) the answer's form
    /// is still described, but not the tools.
    public static func prepare(_ messages: [ChatMessage], for calling: ToolCalling?, describeTools: Bool = true) -> [ChatMessage] {
        var out: [ChatMessage] = []
        func text(_ content: ChatMessageContent?) -> String {
            switch content {
            case .text(let text): return text
            case .parts(let parts): return parts.compactMap(\.text).joined()
            case nil: return ""
            }
        }
        for message in messages {
            var message = message
            if message.role == "assistant", let calls = message.toolCalls, let envelope = envelope(of: calls) {
                let said = text(message.content)
                message = ChatMessage(role: "assistant", content: .text(said.isEmpty ? envelope : said + "\n" + envelope))
            } else if message.role == "tool" {
                let subject = message.name ?? message.toolCallID ?? "a tool call"
                message = ChatMessage(role: "user", content: .text("Result of \(subject): \(text(message.content))"))
            }
            if message.role == "user", let last = out.last, last.role == "user" {
                out[out.count - 1] = ChatMessage(role: "user", content: .text(text(last.content) + "\n\n" + text(message.content)))
            } else {
                out.append(message)
            }
        }
        guard let calling else { return out }
        let instructions = calling.instructions(listingTools: describeTools)
        if let first = out.first, first.role == "system" || first.role == "developer" {
            out[0] = ChatMessage(role: first.role, content: .text(text(first.content) + "\n\n" + instructions))
        } else {
            out.insert(ChatMessage(role: "system", content: .text(instructions)), at: 0)
        }
        return out
    }
}
