import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import ShoalAPI
import Synchronization

/// A tiny stand-in for `shoal serve`: deterministic "tokens" computed from the prompt ids, the same shapes
/// and `return_token_ids` fields as the real server, and switches to die mid-stream or refuse requests.
struct FakeReplica: Sendable {
    struct Behaviour: Sendable {
        var model = "tiny"
        /// Streams end abruptly (connection closed, no [DONE]) after this many tokens; one more than
        /// `max_tokens` counts the finish chunk too, so only the usage chunk and [DONE] are lost.
        var dieAfterTokens: Int?
        /// Generation requests are answered with this status instead.
        var refuseWith: Int?
        /// `/v1/*` answers 401 unless the request carries `Authorization: Bearer <key>`.
        var requiredKey: String?
        /// Streams stop after this many tokens and wait until their client (the router) goes away.
        var holdAfterTokens: Int?
        /// Generation requests and `/health` get no answer at all until their client goes away, as from a
        /// process stopped with SIGSTOP (`/v1/models` still answers, so that the router admits the replica).
        var frozen = false
        /// Generation requests are answered only after this long (`/health` answers at once: busy, not dead).
        var answerDelay: Duration?
        /// `/metrics` answers this instead of its series.
        var metricsText: String?
    }

    let behaviour: Behaviour
    /// Generation requests received.
    let counter = Counter()
    /// Yields once for each held stream whose client went away.
    let abandoned = AsyncStream<Void>.makeStream()
    var served: Counter { counter }

    init(_ behaviour: Behaviour = Behaviour()) {
        self.behaviour = behaviour
    }

    /// The next token after `ids`: depends on the whole sequence, so a continuation from prompt + generated
    /// ids produces exactly what an undisturbed run would have.
    static func nextToken(_ ids: [Int32]) -> Int32 {
        let sum = ids.reduce(Int64(0)) { $0 &+ Int64($1) &* 31 }
        return Int32(100 + abs(sum % 97))
    }

    static func text(of token: Int32) -> String { "w\(token) " }

    /// - Parameters: host, port: where to listen (port 0 picks a free one).
    func makeApplication(host: String = "127.0.0.1", port: Int = 0,
                         onListening: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let router = Router(context: BasicRequestContext.self)
        let model = behaviour.model
        let frozen = behaviour.frozen
        let metricsText = behaviour.metricsText
        router.get("/health") { request, _ in
            if frozen { try await Self.waitForClientToLeave(request) }
            return Response(status: .ok)
        }
        if let key = behaviour.requiredKey {
            router.add(middleware: KeyCheck(key: key))
        }
        router.get("/v1/models") { _, _ in
            let list = ModelList(data: [ModelCard(id: model, created: 0, maxModelLen: 4096)])
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(list))))
        }
        router.get("/metrics") { _, _ in
            // vLLM's series as `shoal serve` writes them, counted from the generation requests served.
            let served = self.counter.load()
            let labels = #"model_name="\#(model)""#
            let text = """
                # TYPE vllm:num_requests_running gauge
                vllm:num_requests_running{\(labels)} 0
                vllm:num_requests_waiting{\(labels)} 0
                vllm:kv_cache_usage_perc{\(labels)} 0.125
                vllm:generation_tokens_total{\(labels)} \(served * 10)
                vllm:request_success_total{\(labels),finished_reason="length"} \(served)
                vllm:time_to_first_token_seconds_bucket{\(labels),le="0.1"} \(served)
                vllm:time_to_first_token_seconds_bucket{\(labels),le="+Inf"} \(served)

                """
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: metricsText ?? text)))
        }
        router.post("/v1/completions") { request, _ in try await self.generate(request, chat: false) }
        router.post("/v1/chat/completions") { request, _ in try await self.generate(request, chat: true) }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) })
    }

    struct Died: Error {}

    /// Returns (throwing) only once the client has closed the connection `request` came on.
    static func waitForClientToLeave(_ request: Request) async throws {
        try await request.body.consumeWithCancellationOnInboundClose { _ in
            try await Task.sleep(for: .seconds(3600))
        }
    }

    func generate(_ incoming: Request, chat: Bool) async throws -> Response {
        var request = incoming
        let data = try await request.collectBody(upTo: 1 << 20)
        counter.increment()
        if behaviour.frozen { try await Self.waitForClientToLeave(request) }
        if let delay = behaviour.answerDelay { try await Task.sleep(for: delay) }
        if let status = behaviour.refuseWith {
            return Response(status: .init(code: status), headers: [.contentType: "application/json", .retryAfter: "1"],
                            body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"message":"busy","type":"x","param":null,"code":"busy"}}"#)))
        }
        let body = try JSONDecoder().decode(JSONValue.self, from: Data(data.readableBytesView))
        var promptIDs: [Int32]
        if chat {
            var text = ""
            if case .array(let messages)? = body["messages"] {
                for message in messages { text += (message["role"]?.stringValue ?? "") + ":" + (message["content"]?.stringValue ?? "") }
            }
            promptIDs = [2] + text.utf8.map { Int32($0) }
        } else {
            switch body["prompt"] {
            case .string(let text)?: promptIDs = [1] + text.utf8.map { Int32($0) }
            case .array(let items)?: promptIDs = items.compactMap { if case .number(let v) = $0 { Int32(v) } else { nil } }
            default: promptIDs = [1]
            }
        }
        var maxTokens = 16
        if case .number(let value)? = body["max_tokens"] ?? body["max_completion_tokens"] { maxTokens = Int(value) }
        let wantsIDs = body["return_token_ids"] == .bool(true)
        let stream = body["stream"] == .bool(true)
        var includeUsage = false
        if case .object(let options)? = body["stream_options"], options["include_usage"] == .bool(true) { includeUsage = true }

        var ids = promptIDs
        var generated: [Int32] = []
        for _ in 0..<maxTokens {
            let token = Self.nextToken(ids)
            ids.append(token)
            generated.append(token)
        }
        let id = (chat ? "chatcmpl-" : "cmpl-") + String(promptIDs.count)
        let created = 1_700_000_000
        let usage = Usage(promptTokens: promptIDs.count, completionTokens: generated.count, cachedTokens: nil)

        guard stream else {
            let text = generated.map(Self.text(of:)).joined()
            let response = CompletionResponse(
                id: id, created: created, model: behaviour.model,
                choices: [CompletionChoice(index: 0, text: text, finishReason: "length",
                                           promptTokenIDs: wantsIDs ? promptIDs : nil, tokenIDs: wantsIDs ? generated : nil)],
                usage: usage)
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(response))))
        }
        let model = behaviour.model
        let dieAfter = behaviour.dieAfterTokens
        let holdAfter = behaviour.holdAfterTokens.map { $0 + (chat ? 1 : 0) }
        let abandoned = abandoned.continuation
        let received = request
        let (frozenPrompt, frozenGenerated, frozenUsage) = (promptIDs, generated, includeUsage)
        return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody { writer in
            var events: [String] = []
            if chat {
                events.append(try ServerSentEvents.event(ChatCompletionChunk(
                    id: id, created: created, model: model,
                    choices: [ChatChunkChoice(index: 0, delta: ChatDelta(role: "assistant", content: ""))],
                    writesUsage: frozenUsage, promptTokenIDs: wantsIDs ? frozenPrompt : nil)))
            }
            for (index, token) in frozenGenerated.enumerated() {
                if chat {
                    events.append(try ServerSentEvents.event(ChatCompletionChunk(
                        id: id, created: created, model: model,
                        choices: [ChatChunkChoice(index: 0, delta: ChatDelta(content: Self.text(of: token)),
                                                  tokenIDs: wantsIDs ? [token] : nil)],
                        writesUsage: frozenUsage)))
                } else {
                    events.append(try ServerSentEvents.event(CompletionResponse(
                        id: id, created: created, model: model,
                        choices: [CompletionChoice(index: 0, text: Self.text(of: token),
                                                   promptTokenIDs: wantsIDs && index == 0 ? frozenPrompt : nil,
                                                   tokenIDs: wantsIDs ? [token] : nil)],
                        usage: nil, writesUsage: frozenUsage)))
                }
            }
            if chat {
                events.append(try ServerSentEvents.event(ChatCompletionChunk(
                    id: id, created: created, model: model,
                    choices: [ChatChunkChoice(index: 0, delta: ChatDelta(), finishReason: "length", tokenIDs: wantsIDs ? [] : nil)],
                    writesUsage: frozenUsage)))
                if frozenUsage {
                    events.append(try ServerSentEvents.event(ChatCompletionChunk(
                        id: id, created: created, model: model, choices: [], usage: usage, writesUsage: true)))
                }
            } else {
                events.append(try ServerSentEvents.event(CompletionResponse(
                    id: id, created: created, model: model,
                    choices: [CompletionChoice(index: 0, text: "", finishReason: "length", tokenIDs: wantsIDs ? [] : nil)],
                    usage: nil, writesUsage: frozenUsage)))
                if frozenUsage {
                    events.append(try ServerSentEvents.event(CompletionResponse(
                        id: id, created: created, model: model, choices: [], usage: usage)))
                }
            }
            events.append(ServerSentEvents.done)
            // Role chunk (chat) plus `dieAfter` token chunks get out, then the connection drops.
            let cut = dieAfter.map { $0 + (chat ? 1 : 0) } ?? Int.max
            for (index, event) in events.enumerated() {
                if index == cut { throw Died() }
                if index == holdAfter {
                    do {
                        try await received.body.consumeWithCancellationOnInboundClose { _ in
                            try await Task.sleep(for: .seconds(3600))
                        }
                    } catch {
                        abandoned.yield()
                        throw error
                    }
                }
                try await writer.write(ByteBuffer(string: event))
            }
            try await writer.finish(nil)
        })
    }
}

/// A thread-safe count.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func increment() { value.add(1, ordering: .relaxed) }
    func load() -> Int { value.load(ordering: .relaxed) }
}

/// The replica side of API keys: `/v1/*` needs `Authorization: Bearer <key>`.
struct KeyCheck: RouterMiddleware {
    typealias Context = BasicRequestContext
    let key: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path.hasPrefix("/v1/"), request.headers[.authorization] != "Bearer \(key)" {
            return Response(status: .unauthorized)
        }
        return try await next(request, context)
    }
}
