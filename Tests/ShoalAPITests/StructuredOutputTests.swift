import ShoalAPI
import ShoalGrammar
import Testing

@Suite struct StructuredOutputTests {
    private func read(_ fields: String) throws(APIError) -> StructuredOutput? {
        try StructuredOutput.read(from: Array(#"{"messages": [], \#(fields)}"#.utf8))
    }

    private func refusal(_ fields: String) -> APIError? {
        do { _ = try read(fields); return nil } catch { return error }
    }

    @Test func everySpellingOfAConstraintIsRead() throws {
        let schema = #"{"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "integer"}}}"#
        let cases: [(String, OutputFormat, String)] = [
            (#""response_format": {"type": "json_object"}"#, .jsonObject, "response_format"),
            (#""response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": \#(schema), "strict": true}}"#,
             .jsonSchema(schema), "response_format"),
            (#""guided_json": \#(schema)"#, .jsonSchema(schema), "guided_json"),
            (#""guided_json": "{\"type\": \"string\"}""#, .jsonSchema(#"{"type": "string"}"#), "guided_json"),
            (#""guided_regex": "[a-z]+""#, .regex("[a-z]+"), "guided_regex"),
            (#""guided_grammar": "root ::= \"x\"""#, .grammar(#"root ::= "x""#), "guided_grammar"),
            (#""guided_choice": ["yes", "no"]"#, .choice(["yes", "no"]), "guided_choice"),
            (#""structured_outputs": {"regex": "a|b"}"#, .regex("a|b"), "structured_outputs"),
            (#""structured_outputs": {"json_object": true}"#, .jsonObject, "structured_outputs"),
            (#""grammar": "root ::= [0-9]+""#, .grammar("root ::= [0-9]+"), "grammar"),
            (#""json_schema": {"type": "boolean"}"#, .jsonSchema(#"{"type": "boolean"}"#), "json_schema"),
        ]
        for (fields, format, param) in cases {
            let output = try #require(try read(fields), "\(fields)")
            #expect(output.format == format, "\(fields)")
            #expect(output.param == param)
            #expect(output.resumeTokens == 0)
        }
    }

    @Test func schemaKeepsTheClientsMemberOrder() throws {
        // JSONValue's dictionaries would reorder "zeta" and "alpha"; the output's keys follow the schema's order.
        let schema = #"{"properties": {"zeta": {}, "alpha": {}, "mid": {}}}"#
        let output = try #require(try read(#""guided_json": \#(schema)"#))
        guard case .jsonSchema(let text) = output.format else { Issue.record("not a schema"); return }
        #expect(text == schema)
    }

    @Test func unconstrainedRequestsReadNothing() throws {
        #expect(try read(#""temperature": 1"#) == nil)
        #expect(try read(#""response_format": {"type": "text"}"#) == nil)
        #expect(try read(#""guided_json": null"#) == nil)
    }

    @Test func resumeTokensAreRead() throws {
        let output = try #require(try read(#""guided_regex": "a+", "constraint_resume_tokens": 3"#))
        #expect(output.resumeTokens == 3)
    }

    @Test(arguments: [
        (#""response_format": {"type": "xml"}"#, "response_format.type"),
        (#""response_format": {"type": "json_schema", "json_schema": {"name": "x"}}"#, "response_format.json_schema"),
        (#""response_format": "json""#, "response_format"),
        (#""guided_json": 3"#, "guided_json"),
        (#""guided_regex": ["a"]"#, "guided_regex"),
        (#""guided_choice": []"#, "guided_choice"),
        (#""guided_regex": "a", "grammar": "root ::= \"a\"""#, "grammar"),
        (#""structured_outputs": {"xml": "a"}"#, "structured_outputs.xml"),
        (#""constraint_resume_tokens": 2"#, "constraint_resume_tokens"),
        (#""guided_regex": "a", "constraint_resume_tokens": -1"#, "constraint_resume_tokens"),
    ])
    func malformedConstraintsAreRefusedByField(fields: String, param: String) {
        let error = refusal(fields)
        #expect(error?.status == 400, "\(fields)")
        #expect(error?.param == param, "\(fields): \(error?.message ?? "")")
    }

    @Test func choicesAreMatchedExactly() throws {
        let options = ["say \"hi\"", "a\\b", "line\nbreak", "é"]
        let grammar = try Grammar(gbnf: try OutputFormat.choice(options).grammarText())
        for option in options { #expect(grammar.accepts(option), "\(option)") }
        #expect(!grammar.accepts("say hi"))
        #expect(!grammar.accepts("a\\bc"))
    }
}
