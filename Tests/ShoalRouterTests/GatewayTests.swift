import Hummingbird
import AsyncHTTPClient
import Foundation
import NIOHTTP1
import ShoalAPI
import ShoalRouter
import ShoalTestSupport
import Testing

/// The router live over real sockets: fake replicas, real HTTP, real SSE parsing.
@Suite(.serialized) struct GatewayTests {
    /// Text, ids and objects of a completions or chat stream.
    struct Stream {
        var text = ""
        var ids: Set<String> = []
        var objects: Set<String> = []
        var finishReasons: [String] = []
        var sawTokenIDs = false
        var done = false
        var errors = 0
        var usage: [String: JSONValue]?
        var usageChunks = 0
    }

    func read(_ events: [ServerSentEvent], chat: Bool) -> Stream {
        var stream = Stream()
        for event in events {
            if event.isDone { stream.done = true; continue }
            guard let chunk = event.object else { continue }
            if chunk["error"] != nil { stream.errors += 1; continue }
            if let id = chunk["id"]?.stringValue { stream.ids.insert(id) }
            if let object = chunk["object"]?.stringValue { stream.objects.insert(object) }
            if case .object(let usage)? = chunk["usage"] {
                stream.usage = usage
                stream.usageChunks += 1
            }
            if chunk["prompt_token_ids"] != nil { stream.sawTokenIDs = true }
            for case .object(let choice) in chunk["choices"]?.array ?? [] {
                if choice["token_ids"] != nil || choice["prompt_token_ids"] != nil { stream.sawTokenIDs = true }
                if let reason = choice["finish_reason"]?.stringValue { stream.finishReasons.append(reason) }
                stream.text += chat ? (choice["delta"]?["content"]?.stringValue ?? "") : (choice["text"]?.stringValue ?? "")
            }
        }
        return stream
    }

    @Test func clientKeysAreCheckedAndTheReplicaKeyIsSentUpstream() async throws {
        let replica = FakeReplica(.init(requiredKey: "replica-secret"))
        try await Cluster.with([replica], configure: {
            $0.apiKeys = ["client-a", "client-b"]
            $0.replicaAPIKey = "replica-secret"
        }) { cluster in
            let body = #"{"model":"tiny","prompt":"hi","max_tokens":3}"#
            let missing = try await cluster.request("/v1/completions", json: body)
            #expect(missing.status == 401)
            #expect(missing.body.contains("invalid_api_key"))
            let wrong = try await cluster.request("/v1/models", method: .GET, headers: [("authorization", "Bearer client-c")])
            #expect(wrong.status == 401)
            for key in ["client-a", "client-b"] {
                let answer = try await cluster.request("/v1/completions", json: body, headers: [("authorization", "Bearer \(key)")])
                #expect(answer.status == 200, "the replica got the router's key, not the client's")
            }
            let models = try await cluster.request("/v1/models", method: .GET, headers: [("authorization", "Bearer client-a")])
            #expect(models.status == 200)
            #expect(models.body.contains(#""tiny""#), "models discovered with the replica key")
            #expect(try await cluster.request("/health", method: .GET).status == 200, "health needs no key")
        }
    }

    /// A `model` or `stream` of the wrong type is refused with 400, as a replica would, instead of being routed.
    @Test func wronglyTypedModelOrStreamIsRefused() async throws {
        let replica = FakeReplica()
        try await Cluster.with([replica]) { cluster in
            for body in [#"{"model":123,"prompt":"hi"}"#, #"{"model":["tiny"],"prompt":"hi"}"#,
                         #"{"model":"tiny","prompt":"hi","stream":"yes"}"#] {
                let answer = try await cluster.request("/v1/completions", json: body)
                #expect(answer.status == 400, "\(body)")
                #expect(answer.body.contains("invalid_request_error"), "\(answer.body)")
            }
            #expect(replica.served.load() == 0)
            #expect(try await cluster.request("/v1/completions", json: #"{"model":"tiny","prompt":"hi","max_tokens":2}"#).status == 200)
        }
    }

    @Test func otherMethodsOnTheAPIPathsGet405() async throws {
        try await Cluster.with([FakeReplica()]) { cluster in
            for (path, method) in [("/v1/completions", HTTPMethod.GET), ("/v1/chat/completions", .GET), ("/v1/models", .POST)] {
                let answer = try await cluster.request(path, json: method == .POST ? "{}" : nil, method: method)
                #expect(answer.status == 405, "\(method) \(path)")
                #expect(answer.body.contains("method_not_allowed"), "\(answer.body)")
            }
        }
    }

    /// A client that sends half a request head, or half its body, loses its connection after the router's
    /// read timeouts (the same handler as `shoal serve`'s, tested there in full).
    @Test func slowClientsAreDisconnected() async throws {
        let replica = FakeReplica()
        try await Cluster.with([replica], configure: { configuration in
            configuration.headerTimeout = .milliseconds(300)
            configuration.bodyTimeout = .milliseconds(300)
        }) { cluster in
            let port = try #require(URLComponents(string: cluster.routerURL)?.port)
            try await onOwnThread {
                for partial in ["POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                                "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50\r\n\r\n{"] {
                    let connection = try RawHTTPConnection(port: port, timeout: 10)
                    let started = ContinuousClock.now
                    try connection.send(raw: partial)
                    try connection.waitForClose()
                    #expect(ContinuousClock.now - started >= .milliseconds(250))
                }
            }
            #expect(replica.served.load() == 0)
        }
    }

    /// Streamed, migratable or not, and whole answers leave the client's connection open for its next request.
    @Test func answersKeepTheClientConnection() async throws {
        try await Cluster.with([FakeReplica()]) { cluster in
            let port = try #require(URL(string: cluster.routerURL)?.port)
            try await onOwnThread {
                let connection = try RawHTTPConnection(port: port)
                let bodies = [
                    #"{"model":"tiny","prompt":"hi","max_tokens":3,"stream":true}"#,
                    #"{"model":"tiny","prompt":"hi","max_tokens":3}"#,
                    #"{"model":"tiny","prompt":["a","b"],"max_tokens":3,"stream":true}"#,
                    #"{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":3,"stream":true}"#,
                ]
                for (index, body) in bodies.enumerated() {
                    try connection.post(index == 3 ? "/v1/chat/completions" : "/v1/completions", json: body)
                    let response = try connection.readResponse()
                    #expect(response.status == 200, "\(body)")
                    #expect(response.headers["connection"]?.lowercased() != "close")
                    #expect(response.body.contains("w1"), "\(response.body)")
                    #expect(!response.body.contains("token_ids"), "ids the client did not ask for are stripped")
                }
                #expect(!connection.isClosedByPeer)
            }
        }
    }

    /// A client that hangs up mid-stream cancels the replica's stream, and the replica's lease is returned.
    @Test(arguments: [false, true]) func clientLeavingMidStreamCancelsTheUpstream(chat: Bool) async throws {
        let replica = FakeReplica(.init(holdAfterTokens: 2))
        try await Cluster.with([replica]) { cluster in
            let body = chat ? #"{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":8,"stream":true}"#
                : #"{"model":"tiny","prompt":"hi","max_tokens":8,"stream":true}"#
            var request = HTTPClientRequest(url: cluster.routerURL + (chat ? "/v1/chat/completions" : "/v1/completions"))
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
            let response = try await client.execute(request, timeout: .seconds(30))
            #expect(response.status == .ok)
            var parser = ServerSentEventParser()
            var received = 0
            for try await buffer in response.body {
                received += parser.append(buffer.readableBytesView).count
                if received >= 2 { break }
            }
            try await client.shutdown()
            var abandoned = replica.abandoned.stream.makeAsyncIterator()
            await abandoned.next()
            // The lease goes back once the relay sees the cancellation; poll its count for a few seconds.
            let deadline = ContinuousClock.now + .seconds(10)
            while cluster.gateway.replicaStatuses.first?.outstanding != 0, ContinuousClock.now < deadline {
                await Task.yield()
            }
            #expect(cluster.gateway.replicaStatuses.first?.outstanding == 0)
        }
    }

    @Test func aConfiguredReplicaThatStartsAfterTheRouterIsAdmittedWithinSeconds() async throws {
        let latePort = try #require(freeLocalPort(), "a port nothing listens on yet")
        let late = FakeReplica(.init(model: "late"))
        try await Cluster.with([FakeReplica()], configure: {
            $0.replicas.append("http://127.0.0.1:\(latePort)")
        }) { cluster in
            #expect(cluster.gateway.replicaStatuses.count == 1, "the late replica is not up yet")
            try await withThrowingTaskGroup(of: Void.self) { group in
                let app = late.makeApplication(port: latePort) { _ in }
                group.addTask { try await app.runService() }
                // The health interval is an hour here: only the retry of unreached replicas can admit it.
                let deadline = ContinuousClock.now + .seconds(15)
                while !cluster.gateway.replicaStatuses.contains(where: { $0.models == ["late"] }), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(cluster.gateway.replicaStatuses.contains { $0.models == ["late"] })
                let answer = try await cluster.request("/v1/completions", json: #"{"model":"late","prompt":"hi","max_tokens":2}"#)
                #expect(answer.status == 200)
                group.cancelAll()
            }
        }
    }

    @Test func completionStreamSurvivesAReplicaDyingMidStream() async throws {
        let flaky = FakeReplica(.init(dieAfterTokens: 3))
        let steady = FakeReplica()
        try await Cluster.with([flaky, steady]) { cluster in
            let body = #"{"model":"tiny","prompt":"Once upon a time","max_tokens":12,"stream":true,"stream_options":{"include_usage":true}}"#
            let reference = read(try await cluster.request("/v1/completions", json: body, base: cluster.replicaURLs[1]).events,
                                 chat: false)
            #expect(reference.text.split(separator: " ").count == 12)
            for _ in 0..<4 {
                let answer = try await cluster.request("/v1/completions", json: body)
                #expect(answer.status == 200)
                let stream = read(answer.events, chat: false)
                #expect(stream.text == reference.text)
                #expect(stream.ids == reference.ids, "one id for the whole stream")
                #expect(stream.objects == ["text_completion"])
                #expect(stream.finishReasons == ["length"])
                #expect(stream.done && stream.errors == 0)
                #expect(!stream.sawTokenIDs, "token ids the client did not ask for leaked")
                #expect(stream.usage?["completion_tokens"]?.number == 12)
                #expect(stream.usage?["prompt_tokens"] == reference.usage?["prompt_tokens"])
            }
            #expect(flaky.served.load() >= 2, "round-robin sent streams to the flaky replica")
            let metrics = try await cluster.metrics()
            #expect(metrics.contains(#"shoal_router_migrations_total{model="tiny",outcome="ok"}"#))
            #expect(metrics.contains("stream_broken"))
        }
    }

    @Test func chatStreamSurvivesAReplicaDyingMidStream() async throws {
        let flaky = FakeReplica(.init(dieAfterTokens: 5))
        let steady = FakeReplica()
        try await Cluster.with([flaky, steady]) { cluster in
            let body = #"{"model":"tiny","messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":10,"stream":true,"return_token_ids":true}"#
            let reference = read(try await cluster.request("/v1/chat/completions", json: body, base: cluster.replicaURLs[1]).events,
                                 chat: true)
            for _ in 0..<4 {
                let answer = try await cluster.request("/v1/chat/completions", json: body)
                let stream = read(answer.events, chat: true)
                #expect(stream.text == reference.text)
                #expect(stream.ids == reference.ids)
                #expect(stream.objects == ["chat.completion.chunk"])
                #expect(stream.finishReasons == ["length"])
                #expect(stream.done && stream.errors == 0)
                #expect(stream.sawTokenIDs, "the client asked for token ids")
            }
            #expect(try await cluster.metrics().contains(#"outcome="ok""#))
        }
    }

    /// The replica dies after the finish chunk, before the usage chunk the client asked for: nothing is left
    /// to generate, and the router writes the usage itself.
    @Test(arguments: [false, true]) func usageLostAfterTheFinishChunkIsRebuilt(chat: Bool) async throws {
        let maxTokens = 9
        // Completions: `maxTokens` token chunks, then the finish chunk; chat has a role chunk before them.
        let flaky = FakeReplica(.init(dieAfterTokens: maxTokens + 1))
        try await Cluster.with([flaky, FakeReplica()]) { cluster in
            let path = chat ? "/v1/chat/completions" : "/v1/completions"
            let input = chat ? #""messages":[{"role":"user","content":"Hi there"}]"# : #""prompt":"Hi there""#
            let body = #"{"model":"tiny",\#(input),"max_tokens":\#(maxTokens),"stream":true,"stream_options":{"include_usage":true}}"#
            let reference = read(try await cluster.request(path, json: body, base: cluster.replicaURLs[1]).events, chat: chat)
            #expect(reference.usageChunks == 1)
            for _ in 0..<4 {
                let stream = read(try await cluster.request(path, json: body).events, chat: chat)
                #expect(stream.text == reference.text)
                #expect(stream.finishReasons == ["length"])
                #expect(stream.done && stream.errors == 0)
                #expect(stream.usageChunks == 1)
                for field in ["prompt_tokens", "completion_tokens", "total_tokens"] {
                    #expect(stream.usage?[field] == reference.usage?[field], "\(field)")
                }
            }
            #expect(flaky.served.load() >= 2, "round-robin sent streams to the flaky replica")
        }
    }

    @Test func migrationLimitEndsTheStreamWithAnError() async throws {
        let body = #"{"model":"tiny","prompt":"abc","max_tokens":10,"stream":true}"#
        var reference = ""
        try await Cluster.with([FakeReplica()]) { cluster in
            reference = read(try await cluster.request("/v1/completions", json: body).events, chat: false).text
        }
        let flaky = FakeReplica(.init(dieAfterTokens: 2))
        try await Cluster.with([flaky, FakeReplica(.init(dieAfterTokens: 2))], configure: { $0.maxMigrations = 1 }) { cluster in
            let stream = read(try await cluster.request("/v1/completions", json: body).events, chat: false)
            #expect(stream.errors == 1 && stream.done)
            // Each replica sends two tokens before dying, but the last bytes a dying replica wrote may be lost with
            // its connection; what reaches the client must still be the undisturbed text's beginning, nothing twice.
            let words = stream.text.split(separator: " ").count
            #expect((2...4).contains(words), "got \(stream.text)")
            #expect(reference.hasPrefix(stream.text), "\(stream.text) is not a prefix of \(reference)")
            #expect(try await cluster.metrics().contains(#"outcome="limit""#))
        }
    }

    @Test func retriesBeforeTheFirstByteOnAnotherReplica() async throws {
        let busy = FakeReplica(.init(refuseWith: 503))
        let steady = FakeReplica()
        try await Cluster.with([busy, steady]) { cluster in
            for _ in 0..<4 {
                let answer = try await cluster.request("/v1/completions", json: #"{"model":"tiny","prompt":"hi","max_tokens":3}"#)
                #expect(answer.status == 200)
                let response = try JSONDecoder().decode(CompletionResponse.self, from: Data(answer.body.utf8))
                #expect(response.choices.first?.text.split(separator: " ").count == 3)
            }
            #expect(try await cluster.metrics().contains(#"shoal_router_retries_total{model="tiny",reason="status_503"}"#))
        }
    }

    @Test func clientErrorsAreNotRetriedAndPassThrough() async throws {
        let refusing = FakeReplica(.init(refuseWith: 400))
        try await Cluster.with([refusing, FakeReplica(.init(refuseWith: 400))]) { cluster in
            let answer = try await cluster.request("/v1/completions", json: #"{"model":"tiny","prompt":"hi"}"#)
            #expect(answer.status == 400)
            #expect(refusing.served.load() <= 1)
            #expect(!(try await cluster.metrics()).contains("shoal_router_retries_total"))
        }
    }

    @Test func allReplicasBusyPassesTheirAnswerThrough() async throws {
        try await Cluster.with([FakeReplica(.init(refuseWith: 429)), FakeReplica(.init(refuseWith: 429))]) { cluster in
            let answer = try await cluster.request("/v1/completions", json: #"{"model":"tiny","prompt":"hi"}"#)
            #expect(answer.status == 429)
            #expect(answer.body.contains("busy"))
        }
    }

    @Test func modelsAliasesAndUnknownModels() async throws {
        try await Cluster.with([FakeReplica(.init(model: "small")), FakeReplica(.init(model: "big"))], configure: {
            $0.aliases = [try! RoutingRules.parse("auto=tokens>=8->big|small;*->small")]
        }) { cluster in
            let models = try await cluster.request("/v1/models", method: .GET)
            let list = try JSONDecoder().decode(ModelList.self, from: Data(models.body.utf8))
            #expect(list.data.map(\.id) == ["big", "small", "auto"])
            let short = try await cluster.request("/v1/completions", json: #"{"model":"auto","prompt":"hi","max_tokens":1}"#)
            #expect(try JSONDecoder().decode(CompletionResponse.self, from: Data(short.body.utf8)).model == "small")
            let long = try await cluster.request("/v1/completions",
                                                 json: #"{"model":"auto","prompt":"a much longer prompt than that","max_tokens":1}"#)
            #expect(try JSONDecoder().decode(CompletionResponse.self, from: Data(long.body.utf8)).model == "big")
            let unknown = try await cluster.request("/v1/completions", json: #"{"model":"nope","prompt":"hi"}"#)
            #expect(unknown.status == 404 && unknown.body.contains("model_not_found"))
            #expect(try await cluster.metrics().contains("shoal_router_rule_decisions_total"))
            let health = try await cluster.request("/health", method: .GET)
            #expect(health.status == 200)
        }
    }

    @Test func adminAPIAddsDrainsAndRemovesReplicas() async throws {
        try await Cluster.with([FakeReplica(), FakeReplica()], configure: { $0.adminKey = "sesame" }) { cluster in
            let auth = [("authorization", "Bearer sesame")]
            #expect(try await cluster.request("/admin/replicas", method: .GET).status == 401)
            #expect(try await cluster.request("/admin/replicas", method: .GET, headers: [("authorization", "Bearer nope")]).status == 401)
            let list = try await cluster.request("/admin/replicas", method: .GET, headers: auth)
            let statuses = try JSONDecoder().decode([ReplicaStatus].self, from: Data(list.body.utf8))
            #expect(statuses.map(\.url).sorted() == cluster.replicaURLs.sorted())
            let drain = try await cluster.request("/admin/replicas/drain", json: #"{"url":"\#(cluster.replicaURLs[0])"}"#,
                                                  headers: auth)
            #expect(drain.status == 200)
            #expect(cluster.gateway.replicaStatuses.map(\.url) == [cluster.replicaURLs[1]], "idle replica removed on drain")
            let add = try await cluster.request("/admin/replicas", json: #"{"url":"\#(cluster.replicaURLs[0])"}"#, headers: auth)
            #expect(add.status == 201)
            let remove = try await cluster.request("/admin/replicas?url=\(cluster.replicaURLs[1])", method: .DELETE, headers: auth)
            #expect(remove.status == 200)
            #expect(cluster.gateway.replicaStatuses.map(\.url) == [cluster.replicaURLs[0]])
            let bad = try await cluster.request("/admin/replicas", json: #"{"url":"http://127.0.0.1:1"}"#, headers: auth)
            #expect(bad.status == 400)
        }
    }

    @Test func unreachableReplicaStaysPendingAndALonePoolServesUnnamedModels() async throws {
        try await Cluster.with([FakeReplica()], configure: {
            $0.replicas.append("http://127.0.0.1:1")   // nothing listens there: discovery keeps it pending
        }) { cluster in
            // The unreachable replica never joined; requests all go to the live one.
            #expect(cluster.gateway.replicaStatuses.count == 1)
            let answer = try await cluster.request("/v1/completions", json: #"{"prompt":"hi","max_tokens":2}"#)
            #expect(answer.status == 200, "a lone pool is used when the request names no model")
        }
    }
}
