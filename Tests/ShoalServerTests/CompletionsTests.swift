import Foundation
import NIOHTTP1
import ServiceLifecycle
import ShoalAPI
import ShoalEngine
import ShoalServer
import ShoalTokenizers
import Testing

@Suite(.timeLimit(.minutes(1))) struct CompletionsTests {
    let tokenizer: any Tokenizer

    init() throws {
        tokenizer = try TinyFixture.tokenizer()
    }

    func ids(_ text: String, special: Bool = false) -> [Int32] {
        tokenizer.encode(text, addSpecial: special, parseSpecial: true)
    }

    @Test func completionHasOpenAIShape() async throws {
        let engine = try ScriptedEngine(reply: { _ in .init(text: "hello world", cachedTokens: 1) })
        try await LiveServer.run([engine]) { server in
            let reply = try await server.post("/v1/completions", #"{"model": "tiny", "prompt": "hi there"}"#)
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"].first == "application/json")
            let response = try reply.decode(CompletionResponse.self)
            #expect(response.id.hasPrefix("cmpl-") && response.id.count == 37)
            #expect(response.object == "text_completion")
            #expect(response.model == "tiny")
            #expect(abs(response.created - Int(Date().timeIntervalSince1970)) < 60)
            #expect(response.choices.count == 1)
            #expect(response.choices[0].index == 0)
            #expect(response.choices[0].text == "hello world")
            #expect(response.choices[0].finishReason == "stop")
            let promptIDs = ids("hi there", special: true)
            #expect(response.usage == Usage(promptTokens: promptIDs.count, completionTokens: ids("hello world").count,
                                            cachedTokens: 1))
            // Raw shape: nulls present, extensions absent.
            let choice = try #require(try reply.json["choices"].flatMap { if case .array(let a) = $0 { a.first } else { nil } })
            #expect(choice["logprobs"] == .null)
            #expect(choice["token_ids"] == nil)
            #expect(engine.log.submitted.map(\.promptIDs) == [promptIDs])
            #expect(engine.log.submitted[0].params.maxTokens == 16, "OpenAI's default max_tokens")
            #expect(engine.log.submitted[0].id == response.id + "-0")
        }
    }

    @Test(arguments: [
        (#""a b""#, 1), (#"["a", "b c"]"#, 2), ("[104, 105]", 1), ("[[104], [105, 106], [107]]", 3),
    ])
    func everyPromptFormGetsItsOwnChoices(prompt: String, prompts: Int) async throws {
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            let reply = try await server.post("/v1/completions", #"{"prompt": \#(prompt), "n": 2, "max_tokens": 3}"#)
            #expect(reply.status == 200, "\(reply.body)")
            let response = try reply.decode(CompletionResponse.self)
            #expect(response.choices.map(\.index) == Array(0..<(prompts * 2)))
            let submitted = engine.log.submitted.sorted { $0.id < $1.id }
            #expect(submitted.count == prompts * 2)
            // Choice p*n+i samples prompt p.
            for request in submitted {
                let choice = Int(request.id.split(separator: "-").last!)!
                #expect(request.promptIDs == submitted[(choice / 2) * 2].promptIDs)
            }
            #expect(Set(submitted.map(\.promptIDs)).count == prompts)
            let promptTokens = stride(from: 0, to: submitted.count, by: 2).map { submitted[$0].promptIDs.count }
            #expect(response.usage?.promptTokens == promptTokens.reduce(0, +), "each prompt counted once")
            #expect(response.usage?.completionTokens == prompts * 2 * 3)
        }
    }

    @Test func maxTokensEndsWithLength() async throws {
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            let response = try await server.post("/v1/completions", #"{"prompt": "x", "max_tokens": 2}"#)
                .decode(CompletionResponse.self)
            #expect(response.choices[0].finishReason == "length")
            #expect(response.choices[0].text == "hello wor")
            #expect(response.usage?.completionTokens == 2)
        }
    }

    @Test func seededChoicesUseConsecutiveSeeds() async throws {
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            let reply = try await server.post("/v1/completions", #"{"prompt": "x", "n": 3, "seed": 7}"#)
            #expect(reply.status == 200)
            let seeds = engine.log.submitted.sorted { $0.id < $1.id }.map(\.params.seed)
            #expect(seeds == [7, 8, 9])
        }
    }

    @Test func everySamplingFieldReachesTheEngine() async throws {
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            let reply = try await server.post("/v1/completions", """
                {"prompt": "x", "max_tokens": 5, "temperature": 0.7, "top_p": 0.8, "top_k": 5, "min_p": 0.1,
                 "stop": ["zz"], "presence_penalty": 0.1, "frequency_penalty": 0.2, "repetition_penalty": 1.2,
                 "logit_bias": {"104": 3}, "ignore_eos": true, "user": "u", "priority": -2, "logprobs": 1}
                """)
            #expect(reply.status == 200, "\(reply.body)")
            let request = try #require(engine.log.submitted.first)
            #expect(request.priority == -2)
            let p = request.params
            #expect(p.maxTokens == 5 && p.temperature == 0.7 && p.topP == 0.8 && p.topK == 5 && p.minP == Float(0.1))
            #expect(p.stop == ["zz"] && p.presencePenalty == Float(0.1) && p.frequencyPenalty == Float(0.2))
            #expect(p.repetitionPenalty == Float(1.2) && p.logitBias == [104: 3] && p.ignoreEOS && p.logprobs == 1)
        }
    }

    @Test func echoAndLogprobs() async throws {
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            let response = try await server.post("/v1/completions", #"{"prompt": "ab", "echo": true, "logprobs": 2}"#)
                .decode(CompletionResponse.self)
            let choice = try #require(response.choices.first)
            #expect(choice.text == "abhello world")
            let logprobs = try #require(choice.logprobs)
            #expect(logprobs.tokens == ["a", "b", "hello", " wor", "ld"])
            #expect(logprobs.tokenLogprobs == [nil, nil, -0.5, -0.5, -0.5])
            #expect(logprobs.textOffset == [0, 1, 2, 7, 11])
            #expect(logprobs.topLogprobs[0] == nil)
            let top = try #require(logprobs.topLogprobs[2])
            #expect(top.entries.count == 2)
            #expect(top["hello"] == -0.5)
        }
    }

    @Test func returnTokenIDs() async throws {
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            let response = try await server.post("/v1/completions", #"{"prompt": "ab", "return_token_ids": true}"#)
                .decode(CompletionResponse.self)
            #expect(response.choices[0].promptTokenIDs == ids("ab", special: true))
            #expect(response.choices[0].tokenIDs == ids("hello world"))
        }
    }

    @Test func streamSendsChunksThenDone() async throws {
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            let (status, headers, events) = try await server.events(
                "/v1/completions", json: CompletionRequest(prompt: .text("x"), stream: true))
            #expect(status == 200)
            #expect(headers["content-type"].first == "text/event-stream")
            #expect(events.last?.isDone == true)
            #expect(events.filter(\.isDone).count == 1)
            let chunks = try decodeEvents(events, as: CompletionResponse.self)
            #expect(chunks.map(\.choices[0].text).joined() == "hello world")
            #expect(chunks.allSatisfy { $0.object == "text_completion" && $0.id == chunks[0].id && !$0.writesUsage })
            #expect(chunks.dropLast().allSatisfy { $0.choices[0].finishReason == nil })
            #expect(chunks.last?.choices[0].finishReason == "stop")
            #expect(chunks.count == 4, "three tokens and the finish chunk")
        }
    }

    @Test func streamWithUsageAndTokenIDs() async throws {
        let engine = try ScriptedEngine()
        let reply = ids("hello world")
        let promptA = ids("a", special: true)
        let promptBC = ids("bc", special: true)
        try await LiveServer.run([engine]) { server in
            let (_, _, events) = try await server.events("/v1/completions", json: CompletionRequest(
                prompt: .texts(["a", "bc"]), n: 2, stream: true, streamOptions: StreamOptions(includeUsage: true),
                returnTokenIDs: true))
            let chunks = try decodeEvents(events, as: CompletionResponse.self)
            #expect(chunks.allSatisfy { $0.writesUsage })
            let last = try #require(chunks.last)
            #expect(last.choices.isEmpty)
            #expect(last.usage == Usage(promptTokens: 3, completionTokens: 4 * 3, cachedTokens: 0))
            let pieces = chunks.dropLast().map { chunk -> CompletionChoice in
                #expect(chunk.usage == nil && chunk.choices.count == 1)
                return chunk.choices[0]
            }
            for index in 0..<4 {
                let mine = pieces.filter { $0.index == index }
                let text = mine.map(\.text).joined()
                let tokenIDs = mine.flatMap { $0.tokenIDs ?? [] }
                let promptIDs = mine.map(\.promptTokenIDs)
                #expect(text == "hello world")
                #expect(tokenIDs == reply)
                #expect(promptIDs.first == (index < 2 ? promptA : promptBC))
                #expect(promptIDs.dropFirst().allSatisfy { $0 == nil })
                #expect(mine.last?.finishReason == "stop")
            }
        }
    }

    @Test func streamNeverSplitsACharacter() async throws {
        let engine = try ScriptedEngine(reply: { _ in .init(text: "héllo wörld ✓") })
        try await LiveServer.run([engine]) { server in
            let (_, _, events) = try await server.events(
                "/v1/completions", json: CompletionRequest(prompt: .text("x"), stream: true, returnTokenIDs: true))
            let chunks = try decodeEvents(events, as: CompletionResponse.self)
            #expect(chunks.map(\.choices[0].text).joined() == "héllo wörld ✓")
            #expect(chunks.dropLast().allSatisfy { !$0.choices[0].text.isEmpty && !$0.choices[0].text.contains("\u{FFFD}") })
            let tokenCount = ids("héllo wörld ✓").count
            #expect(chunks.flatMap { $0.choices[0].tokenIDs ?? [] }.count == tokenCount)
            #expect(chunks.count < tokenCount + 1, "held-back bytes ride on the next chunk")
        }
    }

    @Test func streamedEchoAndLogprobs() async throws {
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            let (_, _, events) = try await server.events("/v1/completions", json: CompletionRequest(
                prompt: .text("ab"), logprobs: 1, echo: true, stream: true))
            let chunks = try decodeEvents(events, as: CompletionResponse.self)
            #expect(chunks.first?.choices[0].text == "ab")
            #expect(chunks.map(\.choices[0].text).joined() == "abhello world")
            let logprobs = chunks.compactMap(\.choices[0].logprobs)
            #expect(logprobs.flatMap(\.tokens) == ["a", "b", "hello", " wor", "ld"])
            #expect(logprobs.flatMap(\.textOffset) == [0, 1, 2, 7, 11])
        }
    }
}
