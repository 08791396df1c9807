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

@Suite(.timeLimit(.minutes(1))) struct ErrorTests {
    @Test func malformedJSONIs400() async throws {
        try await LiveServer.run([try ScriptedEngine()]) { server in
            for path in ["/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize"] {
                let reply = try await server.post(path, #"{"prompt": "#)
                #expect(reply.status == 400, "\(path)")
                let error = try reply.error
                #expect(error.type == "invalid_request_error")
                #expect(error.message.contains("not valid JSON"))
            }
        }
    }

    @Test(arguments: [
        ("/v1/completions", #"{"prompt": 5}"#, "prompt"),
        ("/v1/completions", #"{"prompt": "x", "temperature": 9}"#, "temperature"),
        ("/v1/completions", #"{"prompt": "x", "n": 0}"#, "n"),
        ("/v1/completions", #"{"prompt": "x", "top_p": 0}"#, "top_p"),
        ("/v1/completions", #"{"prompt": "x", "max_tokens": -1}"#, "max_tokens"),
        ("/v1/completions", #"{"prompt": "x", "logprobs": 99}"#, "logprobs"),
        ("/v1/completions", #"{"prompt": "x", "logit_bias": {"99999": 1}}"#, "logit_bias"),
        ("/v1/completions", #"{"prompt": [1, 99999]}"#, "prompt"),
        ("/v1/completions", #"{"prompt": ""}"#, "prompt"),
        ("/v1/completions", #"{"prompt": "x", "stream_options": {"include_usage": true}}"#, "stream_options"),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": 5}]}"#, "messages[0].content"),
        ("/v1/chat/completions", #"{"messages": []}"#, "messages"),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "top_logprobs": 3}"#, "top_logprobs"),
        ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 0}"#, "max_completion_tokens"),
    ])
    func invalidParametersAre400NamingTheParameter(path: String, body: String, param: String) async throws {
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            let reply = try await server.post(path, body)
            #expect(reply.status == 400, "\(reply.body)")
            let error = try reply.error
            #expect(error.param == param)
            #expect(error.type == "invalid_request_error")
            #expect(error.message.contains(param.split(separator: "[").first.map(String.init) ?? param))
            #expect(engine.log.submitted.isEmpty)
        }
    }

    @Test func overTheContextIs400NamingTheLimit() async throws {
        let engine = try ScriptedEngine(contextLength: 64)
        try await LiveServer.run([engine]) { server in
            let prompt = String(repeating: "x", count: 40)
            let reply = try await server.post("/v1/completions", #"{"prompt": "\#(prompt)", "max_tokens": 30}"#)
            #expect(reply.status == 400)
            let error = try reply.error
            #expect(error.message == "This model's maximum context length is 64 tokens. However, you requested 70 tokens "
                + "(40 in the prompt, 30 in the completion). Please reduce the length of the prompt or completion.")
            #expect(error.code == "context_length_exceeded")
            let chat = try await server.post("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "\#(prompt + prompt)"}]}"#)
            #expect(chat.status == 400)
            #expect(try chat.error.message.contains("maximum context length is 64 tokens"))
            #expect(engine.log.submitted.isEmpty)
        }
    }

    @Test func unknownModelIs404() async throws {
        try await LiveServer.run([try ScriptedEngine()]) { server in
            let reply = try await server.post("/v1/completions", #"{"model": "gpt-9", "prompt": "x"}"#)
            #expect(reply.status == 404)
            let error = try reply.error
            #expect(error.code == "model_not_found")
            #expect(error.param == "model")
            #expect(error.message.contains("gpt-9"))
        }
    }

    @Test func unknownRouteIs404AndWrongMethod405() async throws {
        try await LiveServer.run([try ScriptedEngine()]) { server in
            let missing = try await server.get("/v1/engines")
            #expect(missing.status == 404)
            #expect(try missing.error.code == "not_found")
            let wrongMethod = try await server.get("/v1/completions")
            #expect(wrongMethod.status == 405)
            #expect(try wrongMethod.error.type == "invalid_request_error")
        }
    }

    @Test func apiKeys() async throws {
        let configuration = ServerConfiguration(apiKeys: ["sk-one", "sk-two"])
        try await LiveServer.run([try ScriptedEngine()], configuration: configuration) { server in
            let body = #"{"prompt": "x", "max_tokens": 1}"#
            let none = try await server.post("/v1/completions", body)
            #expect(none.status == 401)
            #expect(try none.error.code == "invalid_api_key")
            let wrong = try await server.post("/v1/completions", body, headers: [("Authorization", "Bearer sk-three")])
            #expect(wrong.status == 401)
            let notBearer = try await server.post("/v1/completions", body, headers: [("Authorization", "sk-one")])
            #expect(notBearer.status == 401)
            for key in ["sk-one", "sk-two"] {
                let right = try await server.post("/v1/completions", body, headers: [("Authorization", "Bearer \(key)")])
                #expect(right.status == 200)
            }
            #expect(try await server.get("/v1/models").status == 401)
            #expect(try await server.get("/health").status == 200)
            #expect(try await server.get("/metrics").status == 200)
        }
    }

    @Test(arguments: [true, false])
    func bodyTooLargeIs413(declaredLength: Bool) async throws {
        let configuration = ServerConfiguration(maxBodyBytes: 1024)
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine], configuration: configuration) { server in
            let body = #"{"prompt": "\#(String(repeating: "a", count: 4000))"}"#
            var request = server.makeRequest(.POST, "/v1/completions", body: nil, headers: [("Content-Type", "application/json")])
            if declaredLength {
                request.body = .bytes(ByteBuffer(string: body))
            } else {
                let chunks = stride(from: 0, to: body.utf8.count, by: 500).map {
                    ByteBuffer(bytes: Array(body.utf8)[$0..<min($0 + 500, body.utf8.count)])
                }
                let stream = AsyncStream<ByteBuffer> { continuation in
                    for chunk in chunks { continuation.yield(chunk) }
                    continuation.finish()
                }
                request.body = .stream(stream, length: .unknown)
            }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            #expect(response.status.code == 413)
            let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(text.contains("request_too_large"))
            #expect(engine.log.submitted.isEmpty)
            // The server still serves.
            #expect(try await server.post("/v1/completions", #"{"prompt": "x"}"#).status == 200)
        }
    }

    @Test func queueFullIs429WithRetryAfter() async throws {
        let engine = try ScriptedEngine()
        engine.refuse { _ in EngineError(.queueFull, "waiting queue is full (8)") }
        try await LiveServer.run([engine], configuration: ServerConfiguration(retryAfterSeconds: 3)) { server in
            for path in ["/v1/completions", "/v1/chat/completions"] {
                let reply = try await server.post(path, #"{"prompt": "x", "messages": [{"role": "user", "content": "x"}]}"#)
                #expect(reply.status == 429)
                #expect(reply.headers["retry-after"].first == "3")
                #expect(try reply.error.type == "rate_limit_error")
            }
        }
    }

    /// A refusal of a later choice drops (and so aborts) the choices already submitted.
    @Test func refusalOfALaterChoiceAbortsTheEarlierOnes() async throws {
        let engine = try ScriptedEngine(reply: { _ in .init(text: "hello world", holdAfter: 0) })
        engine.refuse { $0 == 2 ? EngineError(.queueFull, "full") : nil }
        try await LiveServer.run([engine]) { server in
            let reply = try await server.post("/v1/completions", #"{"prompt": "x", "n": 4}"#)
            #expect(reply.status == 429)
            var aborts = engine.aborts.makeAsyncIterator()
            let first = await aborts.next()
            let second = await aborts.next()
            #expect(Set([first, second].compactMap { $0?.split(separator: "-").last }) == ["0", "1"])
            #expect(engine.stats().running == 0)
        }
    }

    @Test(arguments: [
        (EngineError.Code.internalError, 500), (.draining, 503), (.contextExceeded, 400), (.invalidPrompt, 400),
    ])
    func engineRefusalsMapToStatuses(code: EngineError.Code, status: Int) async throws {
        let engine = try ScriptedEngine()
        engine.refuse { _ in EngineError(code, "refused") }
        try await LiveServer.run([engine]) { server in
            let reply = try await server.post("/v1/completions", #"{"prompt": "x"}"#)
            #expect(reply.status == status)
            #expect(try reply.error.message.contains("refused"))
            if status == 503 { #expect(reply.headers["retry-after"].first != nil) }
        }
    }

    /// Random bytes and random JSON never crash the server: every answer is a 4xx with an OpenAI error body.
    @Test func garbageNeverCrashes() async throws {
        let seed: UInt64 = 20_251_129
        var rng = SeededGenerator(seed: seed)
        let fragments = [#"{"prompt":"#, #"{"messages":[{"role":"#, "[", "]", "{", "}", ",", ":", "null", "1e999", "-1",
                         #""\ud800""#, "true", #""max_tokens""#, #""n""#, "99999999999999999999", #""stream":true"#,
                         "\u{0}", "é", #""logit_bias":{"#]
        let engine = try ScriptedEngine()
        try await LiveServer.run([engine]) { server in
            for round in 0..<60 {
                var body = ""
                for _ in 0..<Int.random(in: 1...12, using: &rng) {
                    if Bool.random(using: &rng) {
                        body += fragments.randomElement(using: &rng)!
                    } else {
                        body += String(decoding: (0..<Int.random(in: 1...8, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, as: UTF8.self)
                    }
                }
                let path = ["/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize"][round % 4]
                let reply = try await server.post(path, body)
                // A fragment soup may now and then be a valid request.
                #expect(reply.status == 200 || (400..<500).contains(reply.status),
                        "seed \(seed) round \(round): \(reply.status) \(reply.body)")
                if reply.status != 200 { #expect((try? reply.error) != nil, "seed \(seed) round \(round)") }
            }
            #expect(try await server.get("/health").status == 200)
        }
    }
}
