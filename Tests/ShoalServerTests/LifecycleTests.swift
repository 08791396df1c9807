import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import ShoalAPI
import ShoalEngine
import ShoalServer
import ShoalTestSupport
import ShoalTokenizers
import Testing

@Suite(.timeLimit(.minutes(1))) struct LifecycleTests {
    /// Reads a streamed response until its first content chunk, then drops the connection.
    func readFirstChunkAndHangUp(_ server: LiveServer, _ path: String, _ body: String) async throws {
        let response = try await HTTPClient.shared.execute(
            server.makeRequest(.POST, path, body: body, headers: []), timeout: .seconds(30))
        #expect(response.status.code == 200)
        var parser = ServerSentEventParser()
        var received = 0
        for try await buffer in response.body {
            received += parser.append(buffer.readableBytesView).count
            if received >= 1 { break }
        }
        #expect(received >= 1)
    }

    @Test(arguments: ["/v1/completions", "/v1/chat/completions"])
    func clientDisconnectMidStreamAbortsTheEngineRequest(path: String) async throws {
        let engine = try ScriptedEngine(reply: { _ in .init(text: "hello world", holdAfter: 1) })
        try await LiveServer.run([engine]) { server in
            try await readFirstChunkAndHangUp(server, path, """
                {"prompt": "x", "messages": [{"role": "user", "content": "x"}], "stream": true}
                """)
            var aborts = engine.aborts.makeAsyncIterator()
            let aborted = await aborts.next()
            #expect(aborted == engine.log.submitted.first?.id)
            await server.state.waitUntilIdle()
            #expect(engine.log.completed.isEmpty)
            let metrics = try await server.metrics()
            #expect(metrics[#"vllm:num_requests_running{model_name="tiny"}"#] == 0)
            #expect(metrics[#"vllm:request_success_total{model_name="tiny",finished_reason="abort"}"#] == 1)
            #expect(metrics[#"vllm:request_success_total{model_name="tiny",finished_reason="stop"}"#] == 0)
        }
    }

    @Test func clientDisconnectDuringANonStreamedRequestAbortsToo() async throws {
        let engine = try ScriptedEngine(reply: { _ in .init(text: "hello world", holdAfter: 1) })
        try await LiveServer.run([engine]) { server in
            let request = Task {
                try await server.post("/v1/completions", #"{"prompt": "x", "n": 2}"#)
            }
            var held = engine.held.makeAsyncIterator()
            _ = await held.next()
            _ = await held.next()
            request.cancel()
            _ = await request.result
            var aborts = engine.aborts.makeAsyncIterator()
            let first = await aborts.next()
            let second = await aborts.next()
            #expect(Set([first, second].compactMap { $0 }) == Set(engine.log.submitted.map(\.id)))
            await server.state.waitUntilIdle()
            #expect(engine.stats().running == 0)
        }
    }

    /// Streamed and whole answers leave the connection open for the next request (keep-alive), while a client
    /// that leaves mid-stream still aborts its request (the tests above).
    @Test func answersKeepTheConnectionForTheNextRequest() async throws {
        let engine = try ScriptedEngine(reply: { _ in .init(text: "hello world") })
        try await LiveServer.run([engine]) { server in
            let port = server.port
            try await onOwnThread {
                let connection = try RawHTTPConnection(port: port)
                for body in [#"{"prompt": "x", "stream": true}"#, #"{"prompt": "x"}"#, #"{"prompt": "y", "stream": true}"#] {
                    try connection.post("/v1/completions", json: body)
                    let response = try connection.readResponse()
                    #expect(response.status == 200)
                    #expect(response.headers["connection"]?.lowercased() != "close")
                    #expect(response.body.contains(body.contains("stream") ? "data: [DONE]" : #""choices""#), "\(response.body)")
                }
                #expect(!connection.isClosedByPeer)
            }
            #expect(engine.log.completed.count == 3)
        }
    }

    @Test func drainFinishesRunningRequestsAndRefusesNewOnes() async throws {
        let engine = try ScriptedEngine(reply: { _ in .init(text: "hello world", holdAfter: 2) })
        try await LiveServer.run([engine], configuration: ServerConfiguration(shutdownTimeout: .seconds(60))) { server in
            try await withThrowingTaskGroup(of: [ServerSentEvent].self) { group in
                group.addTask {
                    try await server.events("/v1/completions", json: CompletionRequest(prompt: .text("x"), stream: true)).events
                }
                var held = engine.held.makeAsyncIterator()
                _ = await held.next()
                await server.group.triggerGracefulShutdown()
                var drains = engine.drains.makeAsyncIterator()
                _ = await drains.next()

                let health = try await server.get("/health")
                #expect(health.status == 503)
                #expect(try health.decode(HealthResponse.self).status == "draining")
                let refused = try await server.post("/v1/completions", #"{"prompt": "x"}"#)
                #expect(refused.status == 503)
                #expect(refused.headers["retry-after"].first == "1")
                #expect(try refused.error.code == "service_unavailable")

                engine.release()
                let events = try #require(try await group.next())
                let chunks = try decodeEvents(events, as: CompletionResponse.self)
                #expect(chunks.map(\.choices[0].text).joined() == "hello world")
                #expect(chunks.last?.choices[0].finishReason == "stop")
                #expect(events.last?.isDone == true)
            }
            #expect(engine.log.aborted.isEmpty)
            #expect(engine.log.completed.count == 1)
        }
    }

    @Test func drainPastTheTimeoutCancelsRunningRequests() async throws {
        let engine = try ScriptedEngine(reply: { _ in .init(text: "hello world", holdAfter: 1) })
        try await LiveServer.run([engine], configuration: ServerConfiguration(shutdownTimeout: .milliseconds(200))) { server in
            let stream = Task {
                try await server.events("/v1/completions", json: CompletionRequest(prompt: .text("x"), stream: true)).events
            }
            var held = engine.held.makeAsyncIterator()
            _ = await held.next()
            await server.group.triggerGracefulShutdown()
            var aborts = engine.aborts.makeAsyncIterator()
            let aborted = await aborts.next()
            #expect(aborted == engine.log.submitted.first?.id)
            let events = (try? await stream.value) ?? []
            #expect(events.last?.isDone != true, "the stream was cut, not finished")
        }
    }

    @Test func healthFollowsLoadingAndTheStepDeadline() async throws {
        let engine = try ScriptedEngine()
        let configuration = ServerConfiguration(healthStepDeadline: .seconds(30))
        try await LiveServer.run([engine], configuration: configuration, loading: true) { server in
            let loading = try await server.get("/health")
            #expect(loading.status == 503)
            #expect(try loading.decode(HealthResponse.self).status == "loading")
            let refused = try await server.post("/v1/completions", #"{"prompt": "x"}"#)
            #expect(refused.status == 503)
            #expect(refused.headers["retry-after"].first != nil)

            server.state.setLoading(false)
            let ok = try await server.get("/health")
            #expect(ok.status == 200)
            #expect(try ok.json == .object(["status": .string("ok")]))

            engine.setStepSeconds(12)
            #expect(try await server.get("/health").status == 200, "a long step within the deadline is fine")
            engine.setStepSeconds(31)
            let stuck = try await server.get("/health")
            #expect(stuck.status == 503)
            #expect(try stuck.decode(HealthResponse.self).status == "unhealthy")
            engine.setStepSeconds(nil)
            #expect(try await server.get("/health").status == 200)
        }
    }

    @Test func modelsVersionAndSeveralModels() async throws {
        let a = try ScriptedEngine(name: "alpha", contextLength: 128, reply: { _ in .init(text: "from alpha") })
        let b = try ScriptedEngine(name: "beta", reply: { _ in .init(text: "from beta") })
        let configuration = ServerConfiguration(version: "9.8.7")
        try await LiveServer.run([a, b], configuration: configuration) { server in
            let models = try await server.get("/v1/models").decode(ModelList.self)
            #expect(models.object == "list")
            #expect(models.data.map(\.id) == ["alpha", "beta"])
            #expect(models.data.map(\.maxModelLen) == [128, 256])
            #expect(models.data.allSatisfy { $0.object == "model" && $0.ownedBy == "shoal" })

            let fromB = try await server.post("/v1/completions", #"{"model": "beta", "prompt": "x"}"#)
                .decode(CompletionResponse.self)
            #expect(fromB.choices[0].text == "from beta" && fromB.model == "beta")
            #expect(a.log.submitted.isEmpty && b.log.submitted.count == 1)

            let unnamed = try await server.post("/v1/completions", #"{"prompt": "x"}"#)
            #expect(unnamed.status == 400)
            #expect(try unnamed.error.param == "model")

            #expect(try await server.get("/version").decode(VersionResponse.self).version == "9.8.7")
        }
    }

    @Test func tokenizeAndDetokenize() async throws {
        let engine = try ScriptedEngine()
        let tokenizer = try TinyFixture.tokenizer()
        try await LiveServer.run([engine]) { server in
            let tokens = try await server.post("/tokenize", #"{"prompt": "hello world", "return_token_strs": true}"#)
                .decode(TokenizeResponse.self)
            #expect(tokens.tokens == tokenizer.encode("hello world", addSpecial: true, parseSpecial: true))
            #expect(tokens.count == tokens.tokens.count)
            #expect(tokens.maxModelLen == 256)
            #expect(tokens.tokenStrs == ["hello", "Ġwor", "ld"])
            let text = try await server.post("/detokenize", json: DetokenizeRequest(tokens: tokens.tokens))
                .decode(DetokenizeResponse.self)
            #expect(text.prompt == "hello world")
            let chat = try await server.post("/tokenize", json: TokenizeRequest(messages: [ChatMessage(role: "user", "hi")]))
                .decode(TokenizeResponse.self)
            #expect(chat.tokens == tokenizer.encode("<user>hi<|end|><assistant>", addSpecial: false, parseSpecial: true))
            #expect(try await server.post("/detokenize", #"{"tokens": [-1]}"#).status == 400)
            #expect(try await server.post("/tokenize", #"{}"#).status == 400)
        }
    }
}
