import Foundation
import ShoalAPI
import ShoalGrammar
import Testing

@Suite struct ToolCallingTests {
    static let body = #"""
        {"messages": [], "tools": [
          {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
                          "required": ["city", "days"]}}},
          {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}},
                          "required": ["zone"]}}}]
        """#

    private func calling(_ extra: String = "") throws(APIError) -> ToolCalling? {
        try ToolCalling.read(from: Array((Self.body + extra + "}").utf8))
    }

    @Test func toolsAndChoicesAreRead() throws {
        let auto = try #require(try calling())
        #expect(auto.tools.map(\.name) == ["get_weather", "get_time"])
        #expect(auto.choice == .auto && auto.parallel)
        #expect(try calling(#", "tool_choice": "none""#) == nil)
        #expect(try calling(#", "tool_choice": "required", "parallel_tool_calls": false"#)?.parallel == false)
        #expect(try calling(#", "tool_choice": {"type": "function", "function": {"name": "get_time"}}"#)?.choice == .function("get_time"))
    }

    @Test(arguments: [
        (#", "tool_choice": {"type": "function", "function": {"name": "nope"}}"#, "tool_choice"),
        (#", "tool_choice": "sometimes""#, "tool_choice"),
        (#", "parallel_tool_calls": "yes""#, "parallel_tool_calls"),
    ])
    func badChoicesAreRefusedByField(extra: String, param: String) {
        do {
            _ = try calling(extra)
            Issue.record("accepted \(extra)")
        } catch {
            #expect(error.param == param)
        }
    }

    @Test func badToolsAreRefusedByField() {
        let cases = [
            (#"{"tools": [{"type": "function", "function": {"description": "x"}}]}"#, "tools[0].function.name"),
            (#"{"tools": [{"type": "function", "function": {"name": "a b"}}]}"#, "tools[0].function.name"),
            (#"{"tools": [{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "a"}}]}"#, "tools[1].function.name"),
            (#"{"tools": [{"type": "retrieval", "function": {"name": "a"}}]}"#, "tools[0].type"),
            (#"{"tools": {"name": "a"}}"#, "tools"),
            (#"{"tool_choice": "required"}"#, "tool_choice"),
        ]
        for (body, param) in cases {
            do {
                _ = try ToolCalling.read(from: Array(body.utf8))
                Issue.record("accepted \(body)")
            } catch {
                #expect(error.param == param, "\(body): \(error.message)")
            }
        }
    }

    /// The answer schema admits exactly the envelope: calls to the listed tools with valid arguments, or (auto) a
    /// response; a named choice admits only that tool; without parallel calls, one.
    @Test func answerSchemaHoldsTheEnvelope() throws {
        let auto = try Grammar(gbnf: try JSONSchemaGrammar.gbnf(schemaJSON: try #require(try calling()).answerSchema))
        #expect(auto.accepts(#"{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo", "days": 2}}]}"#))
        #expect(auto.accepts(#"{"tool_calls": [{"name": "get_time", "arguments": {"zone": "UTC"}}, {"name": "get_weather", "arguments": {"city": "Rome", "days": 1}}]}"#))
        #expect(auto.accepts(#"{"response": "Hello!"}"#))
        #expect(!auto.accepts(#"{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo", "days": 0}}]}"#))
        #expect(!auto.accepts(#"{"tool_calls": [{"name": "get_news", "arguments": {}}]}"#))
        #expect(!auto.accepts(#"{"tool_calls": []}"#))
        let named = try Grammar(gbnf: try JSONSchemaGrammar.gbnf(schemaJSON: try #require(
            try calling(#", "tool_choice": {"type": "function", "function": {"name": "get_time"}}, "parallel_tool_calls": false"#)).answerSchema))
        #expect(named.accepts(#"{"tool_calls": [{"name": "get_time", "arguments": {"zone": "CET"}}]}"#))
        #expect(!named.accepts(#"{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo", "days": 2}}]}"#))
        #expect(!named.accepts(#"{"tool_calls": [{"name": "get_time", "arguments": {"zone": "CET"}}, {"name": "get_time", "arguments": {"zone": "UTC"}}]}"#))
        #expect(!named.accepts(#"{"response": "Hello!"}"#))
    }

    @Test func answersAreReadBack() throws {
        let calls = try #require(ToolCalling.parse(#"{"tool_calls": [{"name": "get_time", "arguments": {"zone": "UTC"}}, {"name": "f", "arguments": {}}]}"#))
        #expect(calls.content == nil)
        #expect(calls.calls == [ParsedToolCall(name: "get_time", arguments: #"{"zone": "UTC"}"#), ParsedToolCall(name: "f", arguments: "{}")])
        #expect(ToolCalling.parse(#"{"response": "Hi \"there\"\n"}"#)?.content == "Hi \"there\"\n")
        #expect(ToolCalling.parse(#"{"tool_calls": [{"name": "get_time", "argu"#) == nil)
    }

    /// However the text is cut into pieces, the stream's events reassemble to what `parse` reads from the whole.
    @Test(arguments: [
        #"{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo \"N\"", "days": 2, "x": [1, {"y": "}"}]}}, {"name": "get_time", "arguments": {"zone": "UTC"}}]}"#,
        "{\"tool_calls\": [\n{\"name\": \"get_time\",\n \"arguments\": {\n  \"zone\": \"CET\"\n}}\n]}",
        #"{"response": "Caf\u00e9 \ud83d\ude00 says \"hi\"\nbye"}"#,
        #"{"response": ""}"#,
    ])
    func streamedPiecesReassemble(text: String) throws {
        let whole = try #require(ToolCalling.parse(text))
        var random = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            var stream = ToolCallStream()
            var content = ""
            var names: [String] = []
            var arguments: [String] = []
            var rest = Substring(text)
            while !rest.isEmpty {
                let take = Int.random(in: 1...min(6, rest.count), using: &random)
                for event in stream.append(String(rest.prefix(take))) {
                    switch event {
                    case .content(let piece): content += piece
                    case .callStarted(let index, let name):
                        #expect(index == names.count)
                        names.append(name)
                        arguments.append("")
                    case .arguments(let index, let fragment): arguments[index] += fragment
                    }
                }
                rest = rest.dropFirst(take)
            }
            #expect(names == whole.calls.map(\.name))
            #expect(arguments == whole.calls.map(\.arguments))
            #expect(content == (whole.content ?? ""))
        }
    }

    @Test func historyIsShownInTheAnswerForm() throws {
        let messages = [
            ChatMessage(role: "user", "Weather in Oslo?"),
            ChatMessage(role: "assistant", content: nil, toolCalls: .array([.object([
                "id": .string("call_1"), "type": .string("function"),
                "function": .object(["name": .string("get_weather"), "arguments": .string(#"{"city": "Oslo", "days": 1}"#)])])])),
            ChatMessage(role: "tool", content: .text("Sunny"), toolCallID: "call_1"),
            ChatMessage(role: "user", "And tomorrow?"),
        ]
        let prepared = ToolCalling.prepare(messages, for: try calling())
        #expect(prepared.map(\.role) == ["system", "user", "assistant", "user"])
        #expect(prepared[2].content == .text(#"{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo", "days": 1}}]}"#))
        #expect(prepared[3].content == .text("Result of call_1: Sunny\n\nAnd tomorrow?"))
        guard case .text(let system)? = prepared[0].content else { Issue.record("no system text"); return }
        #expect(system.contains("get_weather: Weather in a city"))
        // A template that shows `tools` itself gets only the answer's form.
        let native = ToolCalling.prepare([ChatMessage(role: "system", "Be brief."), ChatMessage(role: "user", "Hi")],
                                         for: try calling(), describeTools: false)
        guard case .text(let brief)? = native[0].content else { Issue.record("no system text"); return }
        #expect(brief.hasPrefix("Be brief.\n\n"))
        #expect(!brief.contains("Weather in a city"))
        #expect(brief.contains(#"{"tool_calls": "#))
    }
}
