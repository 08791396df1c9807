import Foundation
import NIOHTTP1
import ServiceLifecycle
import ShoalAPI
import ShoalEngine
import ShoalServer
import ShoalTestSupport
import ShoalTokenizers
import Testing

@Suite(.timeLimit(.minutes(1))) struct ChatCompletionsTests {
    let tokenizer: any Tokenizer

    init() throws {
        tokenizer = try TinyFixture.tokenizer()
    }

    /// The tiny template: `<role>content<|end|>` per message, then `<assistant>`.
    func promptIDs(_ rendered: String) -> [Int32] {
        tokenizer.encode(rendered, addSpecial: false, parseSpecial: true)
    }

    @Test func chatCompletionHasOpenAIShape() async throws {
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            let reply = try await server.post("/v1/chat/completions", """
                {"model": "tiny", "messages": [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hi"}]}
                """)
            #expect(reply.status == 200, "\(reply.body)")
            let response = try reply.decode(ChatCompletionResponse.self)
            #expect(response.id.hasPrefix("chatcmpl-"))
            #expect(response.object == "chat.completion")
            #expect(response.choices.count == 1)
            #expect(response.choices[0].message == ChatResponseMessage(role: "assistant", content: "hello world"))
            #expect(response.choices[0].finishReason == "stop")
            #expect(response.choices[0].logprobs == nil)
            let expected = promptIDs("<system>be nice<|end|><user>hi<|end|><assistant>")
            #expect(engine.log.submitted.first?.promptIDs == expected)
            #expect(expected.contains(TinyModel.endID), "the template's special token is parsed to its id")
            #expect(response.usage.promptTokens == expected.count)
            #expect(response.usage.completionTokens == 3)
            #expect(engine.log.submitted.first?.params.maxTokens == 256 - expected.count, "default: the rest of the context")
        }
    }

    @Test func textPartsEqualAString() async throws {
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            let parts = try await server.post("/v1/chat/completions", """
                {"messages": [{"role": "user", "content": [{"type": "text", "text": "h"}, {"type": "text", "text": "i"}]}],
                 "max_completion_tokens": 2, "max_tokens": 9}
                """)
            #expect(parts.status == 200, "\(parts.body)")
            #expect(engine.log.submitted.first?.promptIDs == promptIDs("<user>hi<|end|><assistant>"))
            #expect(engine.log.submitted.first?.params.maxTokens == 2, "max_completion_tokens wins")
            #expect(try parts.decode(ChatCompletionResponse.self).choices[0].finishReason == "length")
        }
    }

    @Test func logprobsAndTokenIDs() async throws {
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            let response = try await server.post("/v1/chat/completions", json: ChatCompletionRequest(
                messages: [ChatMessage(role: "user", "hi")], n: 2, logprobs: true, topLogprobs: 2, returnTokenIDs: true)
            ).decode(ChatCompletionResponse.self)
            #expect(response.choices.map(\.index) == [0, 1])
            #expect(response.promptTokenIDs == promptIDs("<user>hi<|end|><assistant>"))
            for choice in response.choices {
                #expect(choice.tokenIDs == tokenizer.encode("hello world", addSpecial: false, parseSpecial: false))
                let content = try #require(choice.logprobs?.content)
                #expect(content.map(\.token) == ["hello", " wor", "ld"])
                #expect(content[1].bytes == Array(" wor".utf8))
                #expect(content.allSatisfy { $0.logprob == -0.5 && $0.topLogprobs.count == 2 })
                #expect(content[0].topLogprobs[1].logprob == -1.5)
            }
        }
    }

    @Test func streamFollowsOpenAIChunkOrder() async throws {
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            let (status, _, events) = try await server.events("/v1/chat/completions", json: ChatCompletionRequest(
                messages: [ChatMessage(role: "user", "hi")], stream: true))
            #expect(status == 200)
            #expect(events.last?.isDone == true)
            let chunks = try decodeEvents(events, as: ChatCompletionChunk.self)
            #expect(chunks.allSatisfy { $0.object == "chat.completion.chunk" && $0.choices.count == 1 && !$0.writesUsage })
            #expect(chunks.first?.choices[0].delta == ChatDelta(role: "assistant", content: ""))
            let content = chunks.dropFirst().dropLast()
            #expect(content.allSatisfy { $0.choices[0].delta.role == nil && $0.choices[0].finishReason == nil })
            #expect(content.compactMap(\.choices[0].delta.content).joined() == "hello world")
            #expect(chunks.last?.choices[0].delta == ChatDelta())
            #expect(chunks.last?.choices[0].finishReason == "stop")
            // The raw finish chunk: an empty delta and explicit nulls.
            let raw = try JSONDecoder().decode(JSONValue.self, from: Data(events[events.count - 2].data.utf8))
            guard case .array(let choices) = raw["choices"] else { Issue.record("no choices"); return }
            #expect(choices.first?["delta"] == .object([:]))
            #expect(choices.first?["logprobs"] == .null)
            let middle = try JSONDecoder().decode(JSONValue.self, from: Data(events[1].data.utf8))
            guard case .array(let middleChoices) = middle["choices"] else { Issue.record("no choices"); return }
            #expect(middleChoices.first?["finish_reason"] == .null)
        }
    }

    @Test func streamWithChoicesUsageLogprobsAndTokenIDs() async throws {
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            let (_, _, events) = try await server.events("/v1/chat/completions", json: ChatCompletionRequest(
                messages: [ChatMessage(role: "user", "hi")], n: 3, logprobs: true, topLogprobs: 1, stream: true,
                streamOptions: StreamOptions(includeUsage: true), returnTokenIDs: true))
            let chunks = try decodeEvents(events, as: ChatCompletionChunk.self)
            #expect(chunks.allSatisfy { $0.writesUsage })
            let usage = try #require(chunks.last)
            #expect(usage.choices.isEmpty)
            let prompt = promptIDs("<user>hi<|end|><assistant>")
            #expect(usage.usage == Usage(promptTokens: prompt.count, completionTokens: 9, cachedTokens: 0))
            #expect(chunks.first?.promptTokenIDs == prompt)
            #expect(chunks.dropFirst().allSatisfy { $0.promptTokenIDs == nil })
            let body = chunks.dropLast()
            #expect(body.allSatisfy { $0.usage == nil })
            for index in 0..<3 {
                let mine = body.filter { $0.choices[0].index == index }.map(\.choices[0])
                #expect(mine.first?.delta.role == "assistant")
                #expect(mine.compactMap(\.delta.content).joined() == "hello world")
                #expect(mine.flatMap { $0.tokenIDs ?? [] } == tokenizer.encode("hello world", addSpecial: false, parseSpecial: false))
                #expect(mine.compactMap(\.logprobs).flatMap(\.content).map(\.token) == ["hello", " wor", "ld"])
                #expect(mine.last?.finishReason == "stop")
            }
        }
    }

    @Test func anUnknownRoleIsRefusedByName() async throws {
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            let reply = try await server.post("/v1/chat/completions",
                                              #"{"messages": [{"role": "user", "content": "x"}, {"role": "wizard", "content": "y"}]}"#)
            #expect(reply.status == 400)
            let error = try reply.error
            #expect(error.param == "messages")
            #expect(error.message.contains("messages[1].role 'wizard'"), "\(error.message)")
            #expect(engine.log.submitted.isEmpty)
        }
    }

    @Test func modelWithoutTemplateIsRefused() async throws {
        let engine = try ScriptedEngine(withChatTemplate: false)
        try await LiveServer.run([engine]) { server in
            let reply = try await server.post("/v1/chat/completions", json: ChatCompletionRequest(
                messages: [ChatMessage(role: "user", "hi")]))
            #expect(reply.status == 400)
            #expect(try reply.error.message.contains("no chat template"))
            #expect(engine.log.submitted.isEmpty)
        }
    }

    @Test(arguments: [
        (#""tools": [{"type": "function", "function": {"name": "no spaces", "parameters": {}}}]"#, "tools[0].function.name"),
        (#""tool_choice": "required""#, "tool_choice"),
        (#""response_format": {"type": "yaml"}"#, "response_format.type"),
    ])
    func malformedToolsAndFormatsAreRefusedByField(field: String, param: String) async throws {
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            let reply = try await server.post("/v1/chat/completions",
                                              #"{"messages": [{"role": "user", "content": "x"}], \#(field)}"#)
            #expect(reply.status == 400)
            let error = try reply.error
            #expect(error.param == param)
            #expect(error.type == "invalid_request_error")
            #expect(engine.log.submitted.isEmpty)
        }
    }
}
