import Foundation
import ShoalTokenizers
import Testing

/// SmolLM2's template, taken verbatim from the model card, against the renderings Hugging Face recorded
/// in the fixtures.
struct ChatTemplateTests {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/smollm2")

    /// The fenced block under "## Chat template (verbatim" in model-card.md.
    static func smolLM2Source() throws -> String {
        let card = try String(contentsOf: fixtures.appendingPathComponent("model-card.md"), encoding: .utf8)
        let heading = try #require(card.range(of: "## Chat template (verbatim"))
        let fenceOpen = try #require(card.range(of: "```jinja\n", range: heading.upperBound..<card.endIndex))
        let fenceClose = try #require(card.range(of: "\n```", range: fenceOpen.upperBound..<card.endIndex))
        return String(card[fenceOpen.upperBound..<fenceClose.lowerBound])
    }

    static func load(_ name: String) throws -> TemplateValue {
        try TemplateValue(jsonData: try Data(contentsOf: fixtures.appendingPathComponent(name)))
    }

    @Test func modelCardTemplateHasTheMetadataLength() throws {
        // The card says tokenizer.chat_template is 368 characters.
        #expect(try Self.smolLM2Source().count == 368)
    }

    @Test func rendersTheChatTemplateCases() throws {
        let template = try ChatTemplate(try Self.smolLM2Source())
        guard case .array(let cases) = try Self.load("chat_template_cases.json") else {
            Issue.record("chat_template_cases.json is not an array")
            return
        }
        #expect(cases.count == 3)
        for (index, c) in cases.enumerated() {
            guard case .array(let messages)? = c["messages"], let expected = c["text"]?.stringValue else {
                Issue.record("case \(index) lacks messages or text")
                continue
            }
            #expect(c["add_generation_prompt"] == true)
            let text = try template.render(messages: messages, addGenerationPrompt: true)
            #expect(text == expected, "case \(index)")
        }
    }

    @Test func rendersTheGreedyChatPrompts() throws {
        let template = try ChatTemplate(try Self.smolLM2Source())
        guard case .array(let chats)? = try Self.load("chat_greedy.json")["chats"] else {
            Issue.record("chat_greedy.json has no chats array")
            return
        }
        #expect(chats.count >= 10)
        for chat in chats {
            let id = chat["id"].map { "\($0)" } ?? "?"
            guard case .array(let messages)? = chat["messages"], let expected = chat["prompt_text"]?.stringValue else {
                Issue.record("chat \(id) lacks messages or prompt_text")
                continue
            }
            #expect(try template.render(messages: messages, addGenerationPrompt: true) == expected, "chat \(id)")
        }
    }

    @Test func withoutGenerationPromptEndsAfterTheLastTurn() throws {
        let template = try ChatTemplate(try Self.smolLM2Source())
        let text = try template.render(messages: [["role": "user", "content": "Hi"]], addGenerationPrompt: false)
        #expect(text == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n")
    }

    @Test func publicRenderMatchesTheContextRender() throws {
        // render(messages:...) fills messages, add_generation_prompt, bos/eos and tools = none like transformers.
        let template = try ChatTemplate(
            "{{ bos_token }}{{ tools is none }}{{ documents is none }}{% for m in messages %}{{ m.content }}{% endfor %}{{ add_generation_prompt }}{{ eos_token }}{{ extra_flag }}")
        let text = try template.render(
            messages: [["role": "user", "content": "a"], ["role": "assistant", "content": "b"]],
            addGenerationPrompt: true, bosToken: "<s>", eosToken: "</s>", extra: ["extra_flag": 7])
        #expect(text == "<s>TrueTrueabTrue</s>7")
        let withTools = try template.render(messages: [], addGenerationPrompt: false, extra: ["tools": [["type": "function"]]])
        #expect(withTools == "FalseTrueFalse")
    }

    @Test func argumentsWinOverExtraForMessagesAndGenerationPrompt() throws {
        let template = try ChatTemplate("{{ messages | length }} {{ add_generation_prompt }}")
        let text = try template.render(
            messages: [["role": "user", "content": "x"]], addGenerationPrompt: false,
            extra: ["messages": [], "add_generation_prompt": true])
        #expect(text == "1 False")
    }

    @Test func strftimeNowFormatsTheFixedClock() throws {
        let template = try ChatTemplate("{{ strftime_now('%Y') }}-{{ strftime_now('%b') }}")
        // 2024-07-26 12:00 UTC is in July 2024 in every time zone from UTC-11 to UTC+11.
        #expect(try template.render([:], secondsSince1970: 1_721_995_200) == "2024-Jul")
    }

    @Test func strftimeNowUsesTheCurrentYearByDefault() throws {
        let year = Calendar.current.component(.year, from: Date())
        let rendered = try ChatTemplate("{{ strftime_now('%Y') }}").render([:])
        #expect(rendered == String(year) || rendered == String(year + 1))
    }
}
