// Expected strings in this file were produced by jinja2 3.1.6 with Hugging Face's chat-template
// environment (trim_blocks, lstrip_blocks, loopcontrols, HF's tojson/raise_exception/strftime_now),
// with strftime_now fixed at 2024-07-26 12:00 UTC, bos_token "<s>" and eos_token "</s>".
import Testing
import ShoalTokenizers

/// Real chat templates (Qwen, Llama, Gemma, Mistral, DeepSeek, Hermes, Phi, Functionary) against jinja2.
struct ChatTemplateModelTests {
    enum Expected: Sendable {
        case output(String)
        /// `raise_exception` with this message.
        case raised(String)
        /// A Python TypeError (`.runtime`) or UndefinedError (`.undefined`) in jinja2.
        case failed(ChatTemplateError.Code)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let template: String
        let conversation: String
        let addGenerationPrompt: Bool
        /// How many of `tools` the request offers (0: `tools` is none).
        let toolCount: Int
        let expected: Expected
        var testDescription: String {
            "\(template) \(conversation)\(addGenerationPrompt ? "" : " no-generation-prompt")\(toolCount > 0 ? " tools" : "")"
        }
    }

    /// Renders a case the way `apply_chat_template` would, with the clock fixed.
    static func render(_ c: Case) throws -> String {
        let template = try ChatTemplate(try #require(Self.templates[c.template]))
        guard case .array(let messages) = try TemplateValue(jsonString: try #require(Self.conversations[c.conversation])) else {
            Issue.record("conversation \(c.conversation) is not an array")
            return ""
        }
        var extra: [String: TemplateValue] = [:]
        if c.toolCount > 0, case .array(let all) = try TemplateValue(jsonString: Self.tools) {
            extra["tools"] = .array(Array(all.prefix(c.toolCount)))
        }
        let context = ChatTemplate.context(
            messages: messages, addGenerationPrompt: c.addGenerationPrompt, bosToken: "<s>", eosToken: "</s>", extra: extra)
        return try template.render(context, secondsSince1970: 1_721_995_200)
    }

    @Test(arguments: Self.cases)
    func rendersLikeJinja2(_ c: Case) throws {
        switch c.expected {
        case .output(let expected):
            #expect(try Self.render(c) == expected)
        case .raised(let message):
            let error = #expect(throws: ChatTemplateError.self) { try Self.render(c) }
            #expect(error?.code == .raisedException)
            #expect(error?.message == message)
        case .failed(let code):
            let error = #expect(throws: ChatTemplateError.self) { try Self.render(c) }
            #expect(error?.code == code)
        }
    }

    static let tools = #"[{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather in a city (température actuelle)", "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name, e.g. \"Paris\""}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"}, "days": {"type": "integer", "description": "Days ahead"}}, "required": ["city"]}}}, {"type": "function", "function": {"name": "search", "description": "Search the web", "parameters": {"type": "object", "properties": {"query": {"type": "string", "description": "  The query  "}, "limit": {"type": ["integer", "null"], "description": "Max results"}, "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags"}}, "required": ["query"]}}}]"#

    static let conversations: [String: String] = [
        "single-user": #"[{"role": "user", "content": "Hello!"}]"#,
        "system-user": #"[{"role": "system", "content": "You are a terse assistant."}, {"role": "user", "content": "What is 2+2?"}]"#,
        "multi-turn": #"[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a color."}, {"role": "assistant", "content": "Blue."}, {"role": "user", "content": "Another one?"}]"#,
        "no-system-multi-turn": #"[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}, {"role": "user", "content": "Tell me a joke."}]"#,
        "whitespace-unicode": #"[{"role": "user", "content": "  Ünïcödé 😀 \"quotes\", back\\slash\ttab\n\n"}, {"role": "assistant", "content": "\n<think>\nplan\n</think>\n\nSure: 你好 "}, {"role": "user", "content": "line1\nline2  "}]"#,
        "roles-not-alternating": #"[{"role": "user", "content": "one"}, {"role": "user", "content": "two"}]"#,
        "tool-call": #"[{"role": "system", "content": "You can use tools."}, {"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "content": "", "tool_calls": [{"id": "call12345", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius", "days": 2}}}]}, {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"}, {"role": "user", "content": "Thanks"}]"#,
    ]

    static let cases: [Case] = [
        Case(template: "qwen25", conversation: "single-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "qwen25", conversation: "single-user", addGenerationPrompt: false, toolCount: 0,
             expected: .output("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n")),
        Case(template: "qwen25", conversation: "single-user", addGenerationPrompt: true, toolCount: 2,
             expected: .output("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather in a city (température actuelle)\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name, e.g. \\\"Paris\\\"\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"], \"description\": \"Temperature unit\"}, \"days\": {\"type\": \"integer\", \"description\": \"Days ahead\"}}, \"required\": [\"city\"]}}}\n{\"type\": \"function\", \"function\": {\"name\": \"search\", \"description\": \"Search the web\", \"parameters\": {\"type\": \"object\", \"properties\": {\"query\": {\"type\": \"string\", \"description\": \"  The query  \"}, \"limit\": {\"type\": [\"integer\", \"null\"], \"description\": \"Max results\"}, \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}, \"description\": \"Tags\"}}, \"required\": [\"query\"]}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "qwen25", conversation: "system-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|im_start|>system\nYou are a terse assistant.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "qwen25", conversation: "multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nName a color.<|im_end|>\n<|im_start|>assistant\nBlue.<|im_end|>\n<|im_start|>user\nAnother one?<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "qwen25", conversation: "no-system-multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello! How can I help?<|im_end|>\n<|im_start|>user\nTell me a joke.<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "qwen25", conversation: "whitespace-unicode", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\n  Ünïcödé 😀 \"quotes\", back\\slash\ttab\n\n<|im_end|>\n<|im_start|>assistant\n\n<think>\nplan\n</think>\n\nSure: 你好 <|im_end|>\n<|im_start|>user\nline1\nline2  <|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "qwen25", conversation: "roles-not-alternating", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\none<|im_end|>\n<|im_start|>user\ntwo<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "qwen25", conversation: "tool-call", addGenerationPrompt: true, toolCount: 2,
             expected: .output("<|im_start|>system\nYou can use tools.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather in a city (température actuelle)\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name, e.g. \\\"Paris\\\"\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"], \"description\": \"Temperature unit\"}, \"days\": {\"type\": \"integer\", \"description\": \"Days ahead\"}}, \"required\": [\"city\"]}}}\n{\"type\": \"function\", \"function\": {\"name\": \"search\", \"description\": \"Search the web\", \"parameters\": {\"type\": \"object\", \"properties\": {\"query\": {\"type\": \"string\", \"description\": \"  The query  \"}, \"limit\": {\"type\": [\"integer\", \"null\"], \"description\": \"Max results\"}, \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}, \"description\": \"Tags\"}}, \"required\": [\"query\"]}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\", \"days\": 2}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temperature\": 21.5, \"sky\": \"clear\"}\n</tool_response><|im_end|>\n<|im_start|>user\nThanks<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "qwen3", conversation: "single-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "qwen3", conversation: "single-user", addGenerationPrompt: false, toolCount: 0,
             expected: .output("<|im_start|>user\nHello!<|im_end|>\n")),
        Case(template: "qwen3", conversation: "single-user", addGenerationPrompt: true, toolCount: 2,
             expected: .output("<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather in a city (température actuelle)\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name, e.g. \\\"Paris\\\"\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"], \"description\": \"Temperature unit\"}, \"days\": {\"type\": \"integer\", \"description\": \"Days ahead\"}}, \"required\": [\"city\"]}}}\n{\"type\": \"function\", \"function\": {\"name\": \"search\", \"description\": \"Search the web\", \"parameters\": {\"type\": \"object\", \"properties\": {\"query\": {\"type\": \"string\", \"description\": \"  The query  \"}, \"limit\": {\"type\": [\"integer\", \"null\"], \"description\": \"Max results\"}, \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}, \"description\": \"Tags\"}}, \"required\": [\"query\"]}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "qwen3", conversation: "system-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|im_start|>system\nYou are a terse assistant.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "qwen3", conversation: "multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nName a color.<|im_end|>\n<|im_start|>assistant\nBlue.<|im_end|>\n<|im_start|>user\nAnother one?<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "qwen3", conversation: "no-system-multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello! How can I help?<|im_end|>\n<|im_start|>user\nTell me a joke.<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "qwen3", conversation: "whitespace-unicode", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|im_start|>user\n  Ünïcödé 😀 \"quotes\", back\\slash\ttab\n\n<|im_end|>\n<|im_start|>assistant\nSure: 你好 <|im_end|>\n<|im_start|>user\nline1\nline2  <|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "qwen3", conversation: "roles-not-alternating", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|im_start|>user\none<|im_end|>\n<|im_start|>user\ntwo<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "qwen3", conversation: "tool-call", addGenerationPrompt: true, toolCount: 2,
             expected: .output("<|im_start|>system\nYou can use tools.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather in a city (température actuelle)\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name, e.g. \\\"Paris\\\"\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"], \"description\": \"Temperature unit\"}, \"days\": {\"type\": \"integer\", \"description\": \"Days ahead\"}}, \"required\": [\"city\"]}}}\n{\"type\": \"function\", \"function\": {\"name\": \"search\", \"description\": \"Search the web\", \"parameters\": {\"type\": \"object\", \"properties\": {\"query\": {\"type\": \"string\", \"description\": \"  The query  \"}, \"limit\": {\"type\": [\"integer\", \"null\"], \"description\": \"Max results\"}, \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}, \"description\": \"Tags\"}}, \"required\": [\"query\"]}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\", \"days\": 2}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temperature\": 21.5, \"sky\": \"clear\"}\n</tool_response><|im_end|>\n<|im_start|>user\nThanks<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "llama3", conversation: "single-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama3", conversation: "single-user", addGenerationPrompt: false, toolCount: 0,
             expected: .output("<s><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>")),
        Case(template: "llama3", conversation: "system-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nYou are a terse assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama3", conversation: "multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nName a color.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nBlue.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother one?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama3", conversation: "no-system-multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello! How can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nTell me a joke.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama3", conversation: "whitespace-unicode", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>user<|end_header_id|>\n\nÜnïcödé 😀 \"quotes\", back\\slash\ttab<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n<think>\nplan\n</think>\n\nSure: 你好<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nline1\nline2<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama3", conversation: "roles-not-alternating", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>user<|end_header_id|>\n\none<|eot_id|><|start_header_id|>user<|end_header_id|>\n\ntwo<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama31", conversation: "single-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama31", conversation: "single-user", addGenerationPrompt: false, toolCount: 0,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>")),
        Case(template: "llama31", conversation: "single-user", addGenerationPrompt: true, toolCount: 2,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\nRespond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n        \"description\": \"Get the current weather in a city (température actuelle)\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"city\": {\n                    \"type\": \"string\",\n                    \"description\": \"City name, e.g. \\\"Paris\\\"\"\n                },\n                \"unit\": {\n                    \"type\": \"string\",\n                    \"enum\": [\n                        \"celsius\",\n                        \"fahrenheit\"\n                    ],\n                    \"description\": \"Temperature unit\"\n                },\n                \"days\": {\n                    \"type\": \"integer\",\n                    \"description\": \"Days ahead\"\n                }\n            },\n            \"required\": [\n                \"city\"\n            ]\n        }\n    }\n}\n\n{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"search\",\n        \"description\": \"Search the web\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"query\": {\n                    \"type\": \"string\",\n                    \"description\": \"  The query  \"\n                },\n                \"limit\": {\n                    \"type\": [\n                        \"integer\",\n                        \"null\"\n                    ],\n                    \"description\": \"Max results\"\n                },\n                \"tags\": {\n                    \"type\": \"array\",\n                    \"items\": {\n                        \"type\": \"string\"\n                    },\n                    \"description\": \"Tags\"\n                }\n            },\n            \"required\": [\n                \"query\"\n            ]\n        }\n    }\n}\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama31", conversation: "system-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are a terse assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama31", conversation: "multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nName a color.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nBlue.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother one?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama31", conversation: "no-system-multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello! How can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nTell me a joke.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama31", conversation: "whitespace-unicode", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nÜnïcödé 😀 \"quotes\", back\\slash\ttab<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n<think>\nplan\n</think>\n\nSure: 你好<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nline1\nline2<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama31", conversation: "roles-not-alternating", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\none<|eot_id|><|start_header_id|>user<|end_header_id|>\n\ntwo<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama31", conversation: "tool-call", addGenerationPrompt: true, toolCount: 2,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou can use tools.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\nRespond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n        \"description\": \"Get the current weather in a city (température actuelle)\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"city\": {\n                    \"type\": \"string\",\n                    \"description\": \"City name, e.g. \\\"Paris\\\"\"\n                },\n                \"unit\": {\n                    \"type\": \"string\",\n                    \"enum\": [\n                        \"celsius\",\n                        \"fahrenheit\"\n                    ],\n                    \"description\": \"Temperature unit\"\n                },\n                \"days\": {\n                    \"type\": \"integer\",\n                    \"description\": \"Days ahead\"\n                }\n            },\n            \"required\": [\n                \"city\"\n            ]\n        }\n    }\n}\n\n{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"search\",\n        \"description\": \"Search the web\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"query\": {\n                    \"type\": \"string\",\n                    \"description\": \"  The query  \"\n                },\n                \"limit\": {\n                    \"type\": [\n                        \"integer\",\n                        \"null\"\n                    ],\n                    \"description\": \"Max results\"\n                },\n                \"tags\": {\n                    \"type\": \"array\",\n                    \"items\": {\n                        \"type\": \"string\"\n                    },\n                    \"description\": \"Tags\"\n                }\n            },\n            \"required\": [\n                \"query\"\n            ]\n        }\n    }\n}\n\nWeather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"unit\": \"celsius\", \"days\": 2}}<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n\n\"{\\\"temperature\\\": 21.5, \\\"sky\\\": \\\"clear\\\"}\"<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nThanks<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama32", conversation: "single-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama32", conversation: "single-user", addGenerationPrompt: false, toolCount: 0,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>")),
        Case(template: "llama32", conversation: "single-user", addGenerationPrompt: true, toolCount: 2,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\nRespond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n        \"description\": \"Get the current weather in a city (température actuelle)\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"city\": {\n                    \"type\": \"string\",\n                    \"description\": \"City name, e.g. \\\"Paris\\\"\"\n                },\n                \"unit\": {\n                    \"type\": \"string\",\n                    \"enum\": [\n                        \"celsius\",\n                        \"fahrenheit\"\n                    ],\n                    \"description\": \"Temperature unit\"\n                },\n                \"days\": {\n                    \"type\": \"integer\",\n                    \"description\": \"Days ahead\"\n                }\n            },\n            \"required\": [\n                \"city\"\n            ]\n        }\n    }\n}\n\n{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"search\",\n        \"description\": \"Search the web\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"query\": {\n                    \"type\": \"string\",\n                    \"description\": \"  The query  \"\n                },\n                \"limit\": {\n                    \"type\": [\n                        \"integer\",\n                        \"null\"\n                    ],\n                    \"description\": \"Max results\"\n                },\n                \"tags\": {\n                    \"type\": \"array\",\n                    \"items\": {\n                        \"type\": \"string\"\n                    },\n                    \"description\": \"Tags\"\n                }\n            },\n            \"required\": [\n                \"query\"\n            ]\n        }\n    }\n}\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama32", conversation: "system-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are a terse assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama32", conversation: "multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nName a color.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nBlue.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother one?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama32", conversation: "no-system-multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello! How can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nTell me a joke.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama32", conversation: "whitespace-unicode", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nÜnïcödé 😀 \"quotes\", back\\slash\ttab<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n<think>\nplan\n</think>\n\nSure: 你好<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nline1\nline2<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama32", conversation: "roles-not-alternating", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\none<|eot_id|><|start_header_id|>user<|end_header_id|>\n\ntwo<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "llama32", conversation: "tool-call", addGenerationPrompt: true, toolCount: 2,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou can use tools.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\nRespond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n        \"description\": \"Get the current weather in a city (température actuelle)\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"city\": {\n                    \"type\": \"string\",\n                    \"description\": \"City name, e.g. \\\"Paris\\\"\"\n                },\n                \"unit\": {\n                    \"type\": \"string\",\n                    \"enum\": [\n                        \"celsius\",\n                        \"fahrenheit\"\n                    ],\n                    \"description\": \"Temperature unit\"\n                },\n                \"days\": {\n                    \"type\": \"integer\",\n                    \"description\": \"Days ahead\"\n                }\n            },\n            \"required\": [\n                \"city\"\n            ]\n        }\n    }\n}\n\n{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"search\",\n        \"description\": \"Search the web\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"query\": {\n                    \"type\": \"string\",\n                    \"description\": \"  The query  \"\n                },\n                \"limit\": {\n                    \"type\": [\n                        \"integer\",\n                        \"null\"\n                    ],\n                    \"description\": \"Max results\"\n                },\n                \"tags\": {\n                    \"type\": \"array\",\n                    \"items\": {\n                        \"type\": \"string\"\n                    },\n                    \"description\": \"Tags\"\n                }\n            },\n            \"required\": [\n                \"query\"\n            ]\n        }\n    }\n}\n\nWeather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"unit\": \"celsius\", \"days\": 2}}<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n\n\"{\\\"temperature\\\": 21.5, \\\"sky\\\": \\\"clear\\\"}\"<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nThanks<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "gemma2", conversation: "single-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><start_of_turn>user\nHello!<end_of_turn>\n<start_of_turn>model\n")),
        Case(template: "gemma2", conversation: "single-user", addGenerationPrompt: false, toolCount: 0,
             expected: .output("<s><start_of_turn>user\nHello!<end_of_turn>\n")),
        Case(template: "gemma2", conversation: "system-user", addGenerationPrompt: true, toolCount: 0,
             expected: .raised("System role not supported")),
        Case(template: "gemma2", conversation: "multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .raised("System role not supported")),
        Case(template: "gemma2", conversation: "no-system-multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello! How can I help?<end_of_turn>\n<start_of_turn>user\nTell me a joke.<end_of_turn>\n<start_of_turn>model\n")),
        Case(template: "gemma2", conversation: "whitespace-unicode", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><start_of_turn>user\nÜnïcödé 😀 \"quotes\", back\\slash\ttab<end_of_turn>\n<start_of_turn>model\n<think>\nplan\n</think>\n\nSure: 你好<end_of_turn>\n<start_of_turn>user\nline1\nline2<end_of_turn>\n<start_of_turn>model\n")),
        Case(template: "gemma2", conversation: "roles-not-alternating", addGenerationPrompt: true, toolCount: 0,
             expected: .raised("Conversation roles must alternate user/assistant/user/assistant/...")),
        Case(template: "gemma3", conversation: "single-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><start_of_turn>user\nHello!<end_of_turn>\n<start_of_turn>model\n")),
        Case(template: "gemma3", conversation: "single-user", addGenerationPrompt: false, toolCount: 0,
             expected: .output("<s><start_of_turn>user\nHello!<end_of_turn>\n")),
        Case(template: "gemma3", conversation: "system-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><start_of_turn>user\nYou are a terse assistant.\n\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n")),
        Case(template: "gemma3", conversation: "multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><start_of_turn>user\nBe brief.\n\nName a color.<end_of_turn>\n<start_of_turn>model\nBlue.<end_of_turn>\n<start_of_turn>user\nAnother one?<end_of_turn>\n<start_of_turn>model\n")),
        Case(template: "gemma3", conversation: "no-system-multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello! How can I help?<end_of_turn>\n<start_of_turn>user\nTell me a joke.<end_of_turn>\n<start_of_turn>model\n")),
        Case(template: "gemma3", conversation: "whitespace-unicode", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><start_of_turn>user\nÜnïcödé 😀 \"quotes\", back\\slash\ttab<end_of_turn>\n<start_of_turn>model\n<think>\nplan\n</think>\n\nSure: 你好<end_of_turn>\n<start_of_turn>user\nline1\nline2<end_of_turn>\n<start_of_turn>model\n")),
        Case(template: "gemma3", conversation: "roles-not-alternating", addGenerationPrompt: true, toolCount: 0,
             expected: .raised("Conversation roles must alternate user/assistant/user/assistant/...")),
        Case(template: "mistral01", conversation: "single-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s>[INST] Hello! [/INST]")),
        Case(template: "mistral01", conversation: "single-user", addGenerationPrompt: false, toolCount: 0,
             expected: .output("<s>[INST] Hello! [/INST]")),
        Case(template: "mistral01", conversation: "system-user", addGenerationPrompt: true, toolCount: 0,
             expected: .raised("Conversation roles must alternate user/assistant/user/assistant/...")),
        Case(template: "mistral01", conversation: "multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .raised("Conversation roles must alternate user/assistant/user/assistant/...")),
        Case(template: "mistral01", conversation: "no-system-multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s>[INST] Hi [/INST]Hello! How can I help?</s>[INST] Tell me a joke. [/INST]")),
        Case(template: "mistral01", conversation: "whitespace-unicode", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s>[INST]   Ünïcödé 😀 \"quotes\", back\\slash\ttab\n\n [/INST]\n<think>\nplan\n</think>\n\nSure: 你好 </s>[INST] line1\nline2   [/INST]")),
        Case(template: "mistral01", conversation: "roles-not-alternating", addGenerationPrompt: true, toolCount: 0,
             expected: .raised("Conversation roles must alternate user/assistant/user/assistant/...")),
        Case(template: "mistral03", conversation: "single-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s> [INST] Hello! [/INST]")),
        Case(template: "mistral03", conversation: "single-user", addGenerationPrompt: false, toolCount: 0,
             expected: .output("<s> [INST] Hello! [/INST]")),
        Case(template: "mistral03", conversation: "system-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s> [INST] You are a terse assistant.\n\nWhat is 2+2? [/INST]")),
        Case(template: "mistral03", conversation: "multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s> [INST] Be brief.\n\nName a color. [/INST] Blue.</s> [INST] Another one? [/INST]")),
        Case(template: "mistral03", conversation: "no-system-multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s> [INST] Hi [/INST] Hello! How can I help?</s> [INST] Tell me a joke. [/INST]")),
        Case(template: "mistral03", conversation: "whitespace-unicode", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s> [INST]   Ünïcödé 😀 \"quotes\", back\\slash\ttab\n\n [/INST] \n<think>\nplan\n</think>\n\nSure: 你好 </s> [INST] line1\nline2   [/INST]")),
        Case(template: "mistral03", conversation: "roles-not-alternating", addGenerationPrompt: true, toolCount: 0,
             expected: .raised("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...")),
        Case(template: "mistralNemo", conversation: "single-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s>[INST]Hello![/INST]")),
        Case(template: "mistralNemo", conversation: "single-user", addGenerationPrompt: false, toolCount: 0,
             expected: .output("<s>[INST]Hello![/INST]")),
        Case(template: "mistralNemo", conversation: "single-user", addGenerationPrompt: true, toolCount: 2,
             expected: .output("<s>[AVAILABLE_TOOLS][{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather in a city (température actuelle)\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name, e.g. \\\"Paris\\\"\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"], \"description\": \"Temperature unit\"}, \"days\": {\"type\": \"integer\", \"description\": \"Days ahead\"}}, \"required\": [\"city\"]}}}, {\"type\": \"function\", \"function\": {\"name\": \"search\", \"description\": \"Search the web\", \"parameters\": {\"type\": \"object\", \"properties\": {\"query\": {\"type\": \"string\", \"description\": \"  The query  \"}, \"limit\": {\"type\": [\"integer\", \"null\"], \"description\": \"Max results\"}, \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}, \"description\": \"Tags\"}}, \"required\": [\"query\"]}}}][/AVAILABLE_TOOLS][INST]Hello![/INST]")),
        Case(template: "mistralNemo", conversation: "system-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s>[INST]You are a terse assistant.\n\nWhat is 2+2?[/INST]")),
        Case(template: "mistralNemo", conversation: "multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s>[INST]Name a color.[/INST]Blue.</s>[INST]Be brief.\n\nAnother one?[/INST]")),
        Case(template: "mistralNemo", conversation: "no-system-multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s>[INST]Hi[/INST]Hello! How can I help?</s>[INST]Tell me a joke.[/INST]")),
        Case(template: "mistralNemo", conversation: "whitespace-unicode", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s>[INST]  Ünïcödé 😀 \"quotes\", back\\slash\ttab\n\n[/INST]\n<think>\nplan\n</think>\n\nSure: 你好 </s>[INST]line1\nline2  [/INST]")),
        Case(template: "mistralNemo", conversation: "roles-not-alternating", addGenerationPrompt: true, toolCount: 0,
             expected: .raised("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...")),
        Case(template: "mistralNemo", conversation: "tool-call", addGenerationPrompt: true, toolCount: 2,
             expected: .raised("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...")),
        Case(template: "deepseekR1Distill", conversation: "single-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><｜User｜>Hello!<｜Assistant｜><think>\n")),
        Case(template: "deepseekR1Distill", conversation: "single-user", addGenerationPrompt: false, toolCount: 0,
             expected: .output("<s><｜User｜>Hello!")),
        Case(template: "deepseekR1Distill", conversation: "single-user", addGenerationPrompt: true, toolCount: 2,
             expected: .output("<s><｜User｜>Hello!<｜Assistant｜><think>\n")),
        Case(template: "deepseekR1Distill", conversation: "system-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s>You are a terse assistant.<｜User｜>What is 2+2?<｜Assistant｜><think>\n")),
        Case(template: "deepseekR1Distill", conversation: "multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s>Be brief.<｜User｜>Name a color.<｜Assistant｜>Blue.<｜end▁of▁sentence｜><｜User｜>Another one?<｜Assistant｜><think>\n")),
        Case(template: "deepseekR1Distill", conversation: "no-system-multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><｜User｜>Hi<｜Assistant｜>Hello! How can I help?<｜end▁of▁sentence｜><｜User｜>Tell me a joke.<｜Assistant｜><think>\n")),
        Case(template: "deepseekR1Distill", conversation: "whitespace-unicode", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><｜User｜>  Ünïcödé 😀 \"quotes\", back\\slash\ttab\n\n<｜Assistant｜>\n\nSure: 你好 <｜end▁of▁sentence｜><｜User｜>line1\nline2  <｜Assistant｜><think>\n")),
        Case(template: "deepseekR1Distill", conversation: "roles-not-alternating", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<s><｜User｜>one<｜User｜>two<｜Assistant｜><think>\n")),
        Case(template: "deepseekR1Distill", conversation: "tool-call", addGenerationPrompt: true, toolCount: 2,
             expected: .output("<s>You can use tools.<｜User｜>Weather in Paris?<｜Assistant｜><｜end▁of▁sentence｜><｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{\"temperature\": 21.5, \"sky\": \"clear\"}<｜tool▁output▁end｜><｜User｜>Thanks<｜Assistant｜><think>\n")),
        Case(template: "hermes3", conversation: "single-user", addGenerationPrompt: true, toolCount: 1,
             expected: .output("<s><|im_start|>system\nYou are a function calling AI model. You are provided with function signatures within <tools></tools> XML tags. You may call one or more functions to assist with the user query. Don't make assumptions about what values to plug into functions. Here are the available tools: <tools> {\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"get_weather(city: str, unit: str, days: int) - Get the current weather in a city (température actuelle)\n\n    Args:\n        city(str): City name, e.g. \"Paris\"        unit(str): Temperature unit        days(int): Days ahead\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name, e.g. \\\"Paris\\\"\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"], \"description\": \"Temperature unit\"}, \"days\": {\"type\": \"integer\", \"description\": \"Days ahead\"}}, \"required\": [\"city\"]}} </tools>Use the following pydantic model json schema for each tool call you will make: {\"properties\": {\"name\": {\"title\": \"Name\", \"type\": \"string\"}, \"arguments\": {\"title\": \"Arguments\", \"type\": \"object\"}}, \"required\": [\"name\", \"arguments\"], \"title\": \"FunctionCall\", \"type\": \"object\"}}\nFor each function call return a json object with function name and arguments within <tool_call></tool_call> XML tags as follows:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-dict>}\n</tool_call><|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "hermes3", conversation: "single-user", addGenerationPrompt: false, toolCount: 1,
             expected: .output("<s><|im_start|>system\nYou are a function calling AI model. You are provided with function signatures within <tools></tools> XML tags. You may call one or more functions to assist with the user query. Don't make assumptions about what values to plug into functions. Here are the available tools: <tools> {\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"get_weather(city: str, unit: str, days: int) - Get the current weather in a city (température actuelle)\n\n    Args:\n        city(str): City name, e.g. \"Paris\"        unit(str): Temperature unit        days(int): Days ahead\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name, e.g. \\\"Paris\\\"\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"], \"description\": \"Temperature unit\"}, \"days\": {\"type\": \"integer\", \"description\": \"Days ahead\"}}, \"required\": [\"city\"]}} </tools>Use the following pydantic model json schema for each tool call you will make: {\"properties\": {\"name\": {\"title\": \"Name\", \"type\": \"string\"}, \"arguments\": {\"title\": \"Arguments\", \"type\": \"object\"}}, \"required\": [\"name\", \"arguments\"], \"title\": \"FunctionCall\", \"type\": \"object\"}}\nFor each function call return a json object with function name and arguments within <tool_call></tool_call> XML tags as follows:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-dict>}\n</tool_call><|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n")),
        Case(template: "hermes3", conversation: "single-user", addGenerationPrompt: true, toolCount: 1,
             expected: .output("<s><|im_start|>system\nYou are a function calling AI model. You are provided with function signatures within <tools></tools> XML tags. You may call one or more functions to assist with the user query. Don't make assumptions about what values to plug into functions. Here are the available tools: <tools> {\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"get_weather(city: str, unit: str, days: int) - Get the current weather in a city (température actuelle)\n\n    Args:\n        city(str): City name, e.g. \"Paris\"        unit(str): Temperature unit        days(int): Days ahead\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name, e.g. \\\"Paris\\\"\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"], \"description\": \"Temperature unit\"}, \"days\": {\"type\": \"integer\", \"description\": \"Days ahead\"}}, \"required\": [\"city\"]}} </tools>Use the following pydantic model json schema for each tool call you will make: {\"properties\": {\"name\": {\"title\": \"Name\", \"type\": \"string\"}, \"arguments\": {\"title\": \"Arguments\", \"type\": \"object\"}}, \"required\": [\"name\", \"arguments\"], \"title\": \"FunctionCall\", \"type\": \"object\"}}\nFor each function call return a json object with function name and arguments within <tool_call></tool_call> XML tags as follows:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-dict>}\n</tool_call><|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "hermes3", conversation: "multi-turn", addGenerationPrompt: true, toolCount: 1,
             expected: .output("<s><|im_start|>system\nYou are a function calling AI model. You are provided with function signatures within <tools></tools> XML tags. You may call one or more functions to assist with the user query. Don't make assumptions about what values to plug into functions. Here are the available tools: <tools> {\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"get_weather(city: str, unit: str, days: int) - Get the current weather in a city (température actuelle)\n\n    Args:\n        city(str): City name, e.g. \"Paris\"        unit(str): Temperature unit        days(int): Days ahead\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name, e.g. \\\"Paris\\\"\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"], \"description\": \"Temperature unit\"}, \"days\": {\"type\": \"integer\", \"description\": \"Days ahead\"}}, \"required\": [\"city\"]}} </tools>Use the following pydantic model json schema for each tool call you will make: {\"properties\": {\"name\": {\"title\": \"Name\", \"type\": \"string\"}, \"arguments\": {\"title\": \"Arguments\", \"type\": \"object\"}}, \"required\": [\"name\", \"arguments\"], \"title\": \"FunctionCall\", \"type\": \"object\"}}\nFor each function call return a json object with function name and arguments within <tool_call></tool_call> XML tags as follows:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-dict>}\n</tool_call><|im_end|>\n<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nName a color.<|im_end|>\n<|im_start|>assistant\nBlue.<|im_end|>\n<|im_start|>user\nAnother one?<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "hermes3", conversation: "tool-call", addGenerationPrompt: true, toolCount: 1,
             expected: .output("<s><|im_start|>system\nYou are a function calling AI model. You are provided with function signatures within <tools></tools> XML tags. You may call one or more functions to assist with the user query. Don't make assumptions about what values to plug into functions. Here are the available tools: <tools> {\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"get_weather(city: str, unit: str, days: int) - Get the current weather in a city (température actuelle)\n\n    Args:\n        city(str): City name, e.g. \"Paris\"        unit(str): Temperature unit        days(int): Days ahead\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name, e.g. \\\"Paris\\\"\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"], \"description\": \"Temperature unit\"}, \"days\": {\"type\": \"integer\", \"description\": \"Days ahead\"}}, \"required\": [\"city\"]}} </tools>Use the following pydantic model json schema for each tool call you will make: {\"properties\": {\"name\": {\"title\": \"Name\", \"type\": \"string\"}, \"arguments\": {\"title\": \"Arguments\", \"type\": \"object\"}}, \"required\": [\"name\", \"arguments\"], \"title\": \"FunctionCall\", \"type\": \"object\"}}\nFor each function call return a json object with function name and arguments within <tool_call></tool_call> XML tags as follows:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-dict>}\n</tool_call><|im_end|>\n<|im_start|>system\nYou can use tools.<|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\", \"days\": 2}}\n</tool_call><|im_end|>\n<|im_start|>tool\n<tool_response>\n{\"temperature\": 21.5, \"sky\": \"clear\"}\n</tool_response>\n<|im_end|><|im_start|>user\nThanks<|im_end|>\n<|im_start|>assistant\n")),
        Case(template: "phi35", conversation: "single-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|user|>\nHello!<|end|>\n<|assistant|>\n")),
        Case(template: "phi35", conversation: "single-user", addGenerationPrompt: false, toolCount: 0,
             expected: .output("<|user|>\nHello!<|end|>\n</s>")),
        Case(template: "phi35", conversation: "system-user", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|system|>\nYou are a terse assistant.<|end|>\n<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n")),
        Case(template: "phi35", conversation: "multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|system|>\nBe brief.<|end|>\n<|user|>\nName a color.<|end|>\n<|assistant|>\nBlue.<|end|>\n<|user|>\nAnother one?<|end|>\n<|assistant|>\n")),
        Case(template: "phi35", conversation: "no-system-multi-turn", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|user|>\nHi<|end|>\n<|assistant|>\nHello! How can I help?<|end|>\n<|user|>\nTell me a joke.<|end|>\n<|assistant|>\n")),
        Case(template: "phi35", conversation: "whitespace-unicode", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|user|>\n  Ünïcödé 😀 \"quotes\", back\\slash\ttab\n\n<|end|>\n<|assistant|>\n\n<think>\nplan\n</think>\n\nSure: 你好 <|end|>\n<|user|>\nline1\nline2  <|end|>\n<|assistant|>\n")),
        Case(template: "phi35", conversation: "roles-not-alternating", addGenerationPrompt: true, toolCount: 0,
             expected: .output("<|user|>\none<|end|>\n<|user|>\ntwo<|end|>\n<|assistant|>\n")),
        Case(template: "functionary31", conversation: "single-user", addGenerationPrompt: true, toolCount: 2,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\n\nCutting Knowledge Date: December 2023\n\n\nYou have access to the following functions:\n\nUse the function 'get_weather' to 'Get the current weather in a city (température actuelle)'\n{&#34;name&#34;: &#34;get_weather&#34;, &#34;description&#34;: &#34;Get the current weather in a city (température actuelle)&#34;, &#34;parameters&#34;: {&#34;type&#34;: &#34;object&#34;, &#34;properties&#34;: {&#34;city&#34;: {&#34;type&#34;: &#34;string&#34;, &#34;description&#34;: &#34;City name, e.g. \\&#34;Paris\\&#34;&#34;}, &#34;unit&#34;: {&#34;type&#34;: &#34;string&#34;, &#34;enum&#34;: [&#34;celsius&#34;, &#34;fahrenheit&#34;], &#34;description&#34;: &#34;Temperature unit&#34;}, &#34;days&#34;: {&#34;type&#34;: &#34;integer&#34;, &#34;description&#34;: &#34;Days ahead&#34;}}, &#34;required&#34;: [&#34;city&#34;]}}\n\nUse the function 'search' to 'Search the web'\n{&#34;name&#34;: &#34;search&#34;, &#34;description&#34;: &#34;Search the web&#34;, &#34;parameters&#34;: {&#34;type&#34;: &#34;object&#34;, &#34;properties&#34;: {&#34;query&#34;: {&#34;type&#34;: &#34;string&#34;, &#34;description&#34;: &#34;  The query  &#34;}, &#34;limit&#34;: {&#34;type&#34;: [&#34;integer&#34;, &#34;null&#34;], &#34;description&#34;: &#34;Max results&#34;}, &#34;tags&#34;: {&#34;type&#34;: &#34;array&#34;, &#34;items&#34;: {&#34;type&#34;: &#34;string&#34;}, &#34;description&#34;: &#34;Tags&#34;}}, &#34;required&#34;: [&#34;query&#34;]}}\n\n\nThink very carefully before calling functions.\nIf a you choose to call a function ONLY reply in the following format:\n<{start_tag}={function_name}>{parameters}{end_tag}\nwhere\n\nstart_tag => `<function`\nparameters => a JSON dict with the function argument name as key and function argument value as value.\nend_tag => `</function>`\n\nHere is an example,\n<function=example_function_name>{\"example_name\": \"example_value\"}</function>\n\nReminder:\n- If looking for real time information use relevant functions before falling back to brave_search\n- Function calls MUST follow the specified format, start with <function= and end with </function>\n- Required parameters MUST be specified\n- Only call one function at a time\n- Put the entire function call reply on one line\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "functionary31", conversation: "single-user", addGenerationPrompt: false, toolCount: 2,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\n\nCutting Knowledge Date: December 2023\n\n\nYou have access to the following functions:\n\nUse the function 'get_weather' to 'Get the current weather in a city (température actuelle)'\n{&#34;name&#34;: &#34;get_weather&#34;, &#34;description&#34;: &#34;Get the current weather in a city (température actuelle)&#34;, &#34;parameters&#34;: {&#34;type&#34;: &#34;object&#34;, &#34;properties&#34;: {&#34;city&#34;: {&#34;type&#34;: &#34;string&#34;, &#34;description&#34;: &#34;City name, e.g. \\&#34;Paris\\&#34;&#34;}, &#34;unit&#34;: {&#34;type&#34;: &#34;string&#34;, &#34;enum&#34;: [&#34;celsius&#34;, &#34;fahrenheit&#34;], &#34;description&#34;: &#34;Temperature unit&#34;}, &#34;days&#34;: {&#34;type&#34;: &#34;integer&#34;, &#34;description&#34;: &#34;Days ahead&#34;}}, &#34;required&#34;: [&#34;city&#34;]}}\n\nUse the function 'search' to 'Search the web'\n{&#34;name&#34;: &#34;search&#34;, &#34;description&#34;: &#34;Search the web&#34;, &#34;parameters&#34;: {&#34;type&#34;: &#34;object&#34;, &#34;properties&#34;: {&#34;query&#34;: {&#34;type&#34;: &#34;string&#34;, &#34;description&#34;: &#34;  The query  &#34;}, &#34;limit&#34;: {&#34;type&#34;: [&#34;integer&#34;, &#34;null&#34;], &#34;description&#34;: &#34;Max results&#34;}, &#34;tags&#34;: {&#34;type&#34;: &#34;array&#34;, &#34;items&#34;: {&#34;type&#34;: &#34;string&#34;}, &#34;description&#34;: &#34;Tags&#34;}}, &#34;required&#34;: [&#34;query&#34;]}}\n\n\nThink very carefully before calling functions.\nIf a you choose to call a function ONLY reply in the following format:\n<{start_tag}={function_name}>{parameters}{end_tag}\nwhere\n\nstart_tag => `<function`\nparameters => a JSON dict with the function argument name as key and function argument value as value.\nend_tag => `</function>`\n\nHere is an example,\n<function=example_function_name>{\"example_name\": \"example_value\"}</function>\n\nReminder:\n- If looking for real time information use relevant functions before falling back to brave_search\n- Function calls MUST follow the specified format, start with <function= and end with </function>\n- Required parameters MUST be specified\n- Only call one function at a time\n- Put the entire function call reply on one line\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>")),
        Case(template: "functionary31", conversation: "single-user", addGenerationPrompt: true, toolCount: 2,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\n\nCutting Knowledge Date: December 2023\n\n\nYou have access to the following functions:\n\nUse the function 'get_weather' to 'Get the current weather in a city (température actuelle)'\n{&#34;name&#34;: &#34;get_weather&#34;, &#34;description&#34;: &#34;Get the current weather in a city (température actuelle)&#34;, &#34;parameters&#34;: {&#34;type&#34;: &#34;object&#34;, &#34;properties&#34;: {&#34;city&#34;: {&#34;type&#34;: &#34;string&#34;, &#34;description&#34;: &#34;City name, e.g. \\&#34;Paris\\&#34;&#34;}, &#34;unit&#34;: {&#34;type&#34;: &#34;string&#34;, &#34;enum&#34;: [&#34;celsius&#34;, &#34;fahrenheit&#34;], &#34;description&#34;: &#34;Temperature unit&#34;}, &#34;days&#34;: {&#34;type&#34;: &#34;integer&#34;, &#34;description&#34;: &#34;Days ahead&#34;}}, &#34;required&#34;: [&#34;city&#34;]}}\n\nUse the function 'search' to 'Search the web'\n{&#34;name&#34;: &#34;search&#34;, &#34;description&#34;: &#34;Search the web&#34;, &#34;parameters&#34;: {&#34;type&#34;: &#34;object&#34;, &#34;properties&#34;: {&#34;query&#34;: {&#34;type&#34;: &#34;string&#34;, &#34;description&#34;: &#34;  The query  &#34;}, &#34;limit&#34;: {&#34;type&#34;: [&#34;integer&#34;, &#34;null&#34;], &#34;description&#34;: &#34;Max results&#34;}, &#34;tags&#34;: {&#34;type&#34;: &#34;array&#34;, &#34;items&#34;: {&#34;type&#34;: &#34;string&#34;}, &#34;description&#34;: &#34;Tags&#34;}}, &#34;required&#34;: [&#34;query&#34;]}}\n\n\nThink very carefully before calling functions.\nIf a you choose to call a function ONLY reply in the following format:\n<{start_tag}={function_name}>{parameters}{end_tag}\nwhere\n\nstart_tag => `<function`\nparameters => a JSON dict with the function argument name as key and function argument value as value.\nend_tag => `</function>`\n\nHere is an example,\n<function=example_function_name>{\"example_name\": \"example_value\"}</function>\n\nReminder:\n- If looking for real time information use relevant functions before falling back to brave_search\n- Function calls MUST follow the specified format, start with <function= and end with </function>\n- Required parameters MUST be specified\n- Only call one function at a time\n- Put the entire function call reply on one line\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "functionary31", conversation: "multi-turn", addGenerationPrompt: true, toolCount: 2,
             expected: .output("<s><|start_header_id|>system<|end_header_id|>\n\n\nCutting Knowledge Date: December 2023\n\n\nYou have access to the following functions:\n\nUse the function 'get_weather' to 'Get the current weather in a city (température actuelle)'\n{&#34;name&#34;: &#34;get_weather&#34;, &#34;description&#34;: &#34;Get the current weather in a city (température actuelle)&#34;, &#34;parameters&#34;: {&#34;type&#34;: &#34;object&#34;, &#34;properties&#34;: {&#34;city&#34;: {&#34;type&#34;: &#34;string&#34;, &#34;description&#34;: &#34;City name, e.g. \\&#34;Paris\\&#34;&#34;}, &#34;unit&#34;: {&#34;type&#34;: &#34;string&#34;, &#34;enum&#34;: [&#34;celsius&#34;, &#34;fahrenheit&#34;], &#34;description&#34;: &#34;Temperature unit&#34;}, &#34;days&#34;: {&#34;type&#34;: &#34;integer&#34;, &#34;description&#34;: &#34;Days ahead&#34;}}, &#34;required&#34;: [&#34;city&#34;]}}\n\nUse the function 'search' to 'Search the web'\n{&#34;name&#34;: &#34;search&#34;, &#34;description&#34;: &#34;Search the web&#34;, &#34;parameters&#34;: {&#34;type&#34;: &#34;object&#34;, &#34;properties&#34;: {&#34;query&#34;: {&#34;type&#34;: &#34;string&#34;, &#34;description&#34;: &#34;  The query  &#34;}, &#34;limit&#34;: {&#34;type&#34;: [&#34;integer&#34;, &#34;null&#34;], &#34;description&#34;: &#34;Max results&#34;}, &#34;tags&#34;: {&#34;type&#34;: &#34;array&#34;, &#34;items&#34;: {&#34;type&#34;: &#34;string&#34;}, &#34;description&#34;: &#34;Tags&#34;}}, &#34;required&#34;: [&#34;query&#34;]}}\n\n\nThink very carefully before calling functions.\nIf a you choose to call a function ONLY reply in the following format:\n<{start_tag}={function_name}>{parameters}{end_tag}\nwhere\n\nstart_tag => `<function`\nparameters => a JSON dict with the function argument name as key and function argument value as value.\nend_tag => `</function>`\n\nHere is an example,\n<function=example_function_name>{\"example_name\": \"example_value\"}</function>\n\nReminder:\n- If looking for real time information use relevant functions before falling back to brave_search\n- Function calls MUST follow the specified format, start with <function= and end with </function>\n- Required parameters MUST be specified\n- Only call one function at a time\n- Put the entire function call reply on one line\n\n<|eot_id|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nName a color.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nBlue.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother one?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")),
        Case(template: "functionary31", conversation: "tool-call", addGenerationPrompt: true, toolCount: 2,
             expected: .failed(.runtime)),
    ]

    static let templates: [String: String] = [
        "qwen25": Self.qwen25,
        "qwen3": Self.qwen3,
        "llama3": Self.llama3,
        "llama31": Self.llama31,
        "llama32": Self.llama32,
        "gemma2": Self.gemma2,
        "gemma3": Self.gemma3,
        "mistral01": Self.mistral01,
        "mistral03": Self.mistral03,
        "mistralNemo": Self.mistralNemo,
        "deepseekR1Distill": Self.deepseekR1Distill,
        "hermes3": Self.hermes3,
        "phi35": Self.phi35,
        "functionary31": Self.functionary31,
    ]

    /// llama.cpp models/templates/Qwen-Qwen2.5-7B-Instruct.jinja.
    static let qwen25 = #"""
{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}

"""#

    /// llama.cpp models/templates/Qwen-Qwen3-0.6B.jinja.
    static let qwen3 = #"""
{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set content = message.content %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is defined and message.reasoning_content is not none %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in message.content %}
                {%- set content = message.content.split('</think>')[-1].lstrip('\n') %}
                {%- set reasoning_content = message.content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}
"""#

    /// Llama 3 8B Instruct (typed from tokenizer_config.json).
    static let llama3 = #"""
{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>

'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>

' }}{% endif %}
"""#

    /// llama.cpp models/templates/meta-llama-Llama-3.1-8B-Instruct.jinja.
    static let llama31 = #"""
{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\n\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {#- This means we're in ipython mode #}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}

"""#

    /// llama.cpp models/templates/meta-llama-Llama-3.2-3B-Instruct.jinja.
    static let llama32 = #"""
{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}

"""#

    /// llama.cpp models/templates/google-gemma-2-2b-it.jinja.
    static let gemma2 = #"""
{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '
' + message['content'] | trim + '<end_of_turn>
' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model
'}}{% endif %}
"""#

    /// Gemma 3 (typed from the model's tokenizer_config.json).
    static let gemma3 = #"""
{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}

"""#

    /// Mistral 7B Instruct v0.1 (typed from tokenizer_config.json).
    static let mistral01 = #"""
{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}
"""#

    /// Mistral 7B Instruct v0.3 (typed from tokenizer_config.json).
    static let mistral03 = #"""
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system_message is defined %}
            {{- ' [INST] ' + system_message + '\n\n' + message['content'] + ' [/INST]' }}
        {%- else %}
            {{- ' [INST] ' + message['content'] + ' [/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'assistant' %}
        {{- ' ' + message['content'] + eos_token}}
    {%- else %}
        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}
    {%- endif %}
{%- endfor %}

"""#

    /// llama.cpp models/templates/mistralai-Mistral-Nemo-Instruct-2407.jinja.
    static let mistralNemo = #"""
{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}
{%- set ns = namespace() %}
{%- set ns.index = 0 %}
{%- for message in loop_messages %}
    {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_calls is defined and message.tool_calls is not none)) %}
        {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}
            {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
        {%- endif %}
        {%- set ns.index = ns.index + 1 %}
    {%- endif %}
{%- endfor %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS][" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
            {%- endif %}
        {%- if loop.last and system_message is defined %}
            {{- "[INST]" + system_message + "\n\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST]" + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif (message.tool_calls is defined and message.tool_calls is not none) %}
        {{- "[TOOL_CALLS][" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" + eos_token }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- message["content"] + eos_token}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS]{"content": ' + content|string + ", " }}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
            {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
        {%- endif %}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %}

"""#

    /// llama.cpp models/templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja.
    static let deepseekR1Distill = #"""
{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %}{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}{%- set ns.is_first = true -%}{%- else %}{{'\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}{%- else %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_output_first = false %}{%- else %}{{'\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\n'}}{% endif %}
"""#

    /// llama.cpp models/templates/NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja.
    static let hermes3 = #"""
{%- macro json_to_python_type(json_spec) %}
{%- set basic_type_map = {
    "string": "str",
    "number": "float",
    "integer": "int",
    "boolean": "bool"
} %}

{%- if basic_type_map[json_spec.type] is defined %}
    {{- basic_type_map[json_spec.type] }}
{%- elif json_spec.type == "array" %}
    {{- "list[" +  json_to_python_type(json_spec|items) + "]"}}
{%- elif json_spec.type == "object" %}
    {%- if json_spec.additionalProperties is defined %}
        {{- "dict[str, " + json_to_python_type(json_spec.additionalProperties) + ']'}}
    {%- else %}
        {{- "dict" }}
    {%- endif %}
{%- elif json_spec.type is iterable %}
    {{- "Union[" }}
    {%- for t in json_spec.type %}
      {{- json_to_python_type({"type": t}) }}
      {%- if not loop.last %}
        {{- "," }} 
    {%- endif %}
    {%- endfor %}
    {{- "]" }}
{%- else %}
    {{- "Any" }}
{%- endif %}
{%- endmacro %}


{{- bos_token }}
{{- '<|im_start|>system
' }}
{{- "You are a function calling AI model. You are provided with function signatures within <tools></tools> XML tags. You may call one or more functions to assist with the user query. Don't make assumptions about what values to plug into functions. Here are the available tools: <tools> " }}
{%- for tool in tools %}
    {%- if tool.function is defined %}
        {%- set tool = tool.function %}
    {%- endif %}
    {{- '{"type": "function", "function": ' }}
    {{- '{"name": "' + tool.name + '", ' }}
    {{- '"description": "' + tool.name + '(' }}
    {%- for param_name, param_fields in tool.parameters.properties|items %}
        {{- param_name + ": " + json_to_python_type(param_fields) }}
        {%- if not loop.last %}
            {{- ", " }}
        {%- endif %}
    {%- endfor %}
    {{- ")" }}
    {%- if tool.return is defined %}
        {{- " -> " + json_to_python_type(tool.return) }}
    {%- endif %}
    {{- " - " + tool.description + "

" }}
    {%- for param_name, param_fields in tool.parameters.properties|items %}
        {%- if loop.first %}
            {{- "    Args:
" }}
        {%- endif %}
        {{- "        " + param_name + "(" + json_to_python_type(param_fields) + "): " + param_fields.description|trim }}
    {%- endfor %}
    {%- if tool.return is defined and tool.return.description is defined %}
        {{- "
    Returns:
        " + tool.return.description }}
    {%- endif %}
    {{- '"' }}
    {{- ', "parameters": ' }}
    {%- if tool.parameters.properties | length == 0 %}
        {{- "{}" }}
    {%- else %}
        {{- tool.parameters|tojson }}
    {%- endif %}
    {{- "}" }}
    {%- if not loop.last %}
        {{- "
" }}
    {%- endif %}
{%- endfor %}
{{- " </tools>" }}
{{- 'Use the following pydantic model json schema for each tool call you will make: {"properties": {"name": {"title": "Name", "type": "string"}, "arguments": {"title": "Arguments", "type": "object"}}, "required": ["name", "arguments"], "title": "FunctionCall", "type": "object"}}
' }}
{{- "For each function call return a json object with function name and arguments within <tool_call></tool_call> XML tags as follows:
" }}
{{- "<tool_call>
" }}
{{- '{"name": <function-name>, "arguments": <args-dict>}
' }}
{{- '</tool_call><|im_end|>
' }}
{%- for message in messages %}
    {%- if message.role == "user" or message.role == "system" or (message.role == "assistant" and message.tool_calls is not defined) %}
        {{- '<|im_start|>' + message.role + '
' + message.content + '<|im_end|>' + '
' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
    {%- for tool_call in message.tool_calls %}
       {{- '
<tool_call>
' }}           {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '{' }}
            {{- '"name": "' }}
            {{- tool_call.name }}
            {{- '"' }}
            {{- ', '}}
            {%- if tool_call.arguments is defined %}
                {{- '"arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments|tojson }}
                {%- endif %}
            {%- endif %}
             {{- '}' }}
            {{- '
</tool_call>' }}
    {%- endfor %}
        {{- '<|im_end|>
' }}
    {%- elif message.role == "tool" %}
        {%- if loop.previtem and loop.previtem.role != "tool" %}
            {{- '<|im_start|>tool
' }}
        {%- endif %}
        {{- '<tool_response>
' }}
        {{- message.content }}
        {%- if not loop.last %}
            {{- '
</tool_response>
' }}
        {%- else %}
            {{- '
</tool_response>' }}
        {%- endif %}
        {%- if not loop.last and loop.nextitem.role != "tool" %}
            {{- '<|im_end|>' }}
        {%- elif loop.last %}
            {{- '<|im_end|>' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant
' }}
{%- endif %}

"""#

    /// llama.cpp models/templates/microsoft-Phi-3.5-mini-instruct.jinja.
    static let phi35 = #"""
{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}{{'<|system|>
' + message['content'] + '<|end|>
'}}{% elif message['role'] == 'user' %}{{'<|user|>
' + message['content'] + '<|end|>
'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>
' + message['content'] + '<|end|>
'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>
' }}{% else %}{{ eos_token }}{% endif %}
"""#

    /// llama.cpp models/templates/meetkai-functionary-medium-v3.1.jinja.
    static let functionary31 = #"""
{# version=v3-llama3.1 #}{%- if not tools is defined -%}
    {%- set tools = none -%}
{%- endif -%}

{%- set has_code_interpreter = tools | selectattr("type", "equalto", "code_interpreter") | list | length > 0 -%}
{%- if has_code_interpreter -%}
    {%- set tools = tools | rejectattr("type", "equalto", "code_interpreter") | list -%}
{%- endif -%}

{#- System message + builtin tools #}
{{- bos_token + "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if has_code_interpreter %}
    {{- "Environment: ipython\n\n" }}
{%- else -%}
    {{ "\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n\n" }}
{%- if tools %}
    {{- "\nYou have access to the following functions:\n\n" }}
    {%- for t in tools %}
        {%- if "type" in t -%}
            {{ "Use the function '"|safe + t["function"]["name"] + "' to '"|safe + t["function"]["description"] + "'\n"|safe + t["function"] | tojson() }}
        {%- else -%}
            {{ "Use the function '"|safe + t["name"] + "' to '"|safe + t["description"] + "'\n"|safe + t | tojson() }}
        {%- endif -%}
        {{- "\n\n" }}
    {%- endfor %}
    {{- '\nThink very carefully before calling functions.\nIf a you choose to call a function ONLY reply in the following format:\n<{start_tag}={function_name}>{parameters}{end_tag}\nwhere\n\nstart_tag => `<function`\nparameters => a JSON dict with the function argument name as key and function argument value as value.\nend_tag => `</function>`\n\nHere is an example,\n<function=example_function_name>{"example_name": "example_value"}</function>\n\nReminder:\n- If looking for real time information use relevant functions before falling back to brave_search\n- Function calls MUST follow the specified format, start with <function= and end with </function>\n- Required parameters MUST be specified\n- Only call one function at a time\n- Put the entire function call reply on one line\n\n' -}}
{%- endif %}
{{- "<|eot_id|>" -}}

{%- for message in messages -%}
    {%- if message['role'] == 'user' or message['role'] == 'system' -%}
        {{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}
    {%- elif message['role'] == 'tool' -%}
        {{ '<|start_header_id|>ipython<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}
    {%- else -%}
        {{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'}}
        {%- if message['content'] -%}
            {{ message['content'] }}
        {%- endif -%}
        {%- if 'tool_calls' in message and message['tool_calls'] -%}
            {%- for tool_call in message['tool_calls'] -%}
                {%- if tool_call["function"]["name"] == "python" -%}
                    {{ '<|python_tag|>' + tool_call['function']['arguments'] }}
                {%- else -%}
                    {{ '<function=' + tool_call['function']['name'] + '>' + tool_call['function']['arguments'] + '</function>' }}
                {%- endif -%}
            {%- endfor -%}
            {{ '<|eom_id|>' }}
        {%- else -%}
            {{ '<|eot_id|>' }}
        {%- endif -%}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif -%}
"""#

}
