internal import AsyncHTTPClient
internal import Foundation
internal import Hummingbird
internal import Logging
internal import NIOCore
internal import NIOHTTP1
internal import ShoalAPI
internal import ShoalHTTP

extension RouterGateway {
    /// Headers of a server-sent event stream.
    static let eventStreamHeaders: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]

    /// Where one request goes and what it looks like upstream.
    struct ProxyPlan: Sendable {
        var kind: StreamRelay.Kind
        var pool: String
        var body: [String: JSONValue]
        /// `body` as sent upstream: the client's own bytes where the router changed nothing or only added
        /// `return_token_ids`, else `body` encoded.
        var encodedBody: ByteBuffer
        var routing: RoutingRequest
        var headers: HTTPHeaders
        var stream: Bool
        var migratable: Bool
        var clientWantsIDs: Bool
        var started: ContinuousClock.Instant
        /// The request's logger: its metadata carry the `request_id` that the replica logs too.
        var logger: Logger
    }

    /// Proxies a completions or chat request; the client closing its connection cancels the upstream request.
    func proxy(_ incoming: Request, kind: StreamRelay.Kind, context: ConnectionRequestContext) async throws -> Response {
        let connection = context.connection
        let (data, decoded) = try await readBody(incoming)
        var body = decoded
        if let stream = body["stream"], stream != .null, stream != .bool(true), stream != .bool(false) {
            throw ProxyError.invalid("'stream' must be a boolean")
        }
        var headerValues: [String: String] = [:]
        for field in incoming.headers { headerValues[field.name.canonicalName] = field.value }
        let (promptText, lastUser) = Self.promptText(body, kind: kind)
        let pool = try resolvePool(body["model"]?.stringValue, promptText: promptText, lastUser: lastUser,
                                   headers: headerValues, logger: context.logger)
        let poolNamed = body["model"] == .string(pool)
        body["model"] = .string(pool)
        let stream = body["stream"] == .bool(true)
        let migratable = stream && configuration.maxMigrations > 0 && StreamRelay.canMigrate(body, kind: kind)
        let clientWantsIDs = body["return_token_ids"] == .bool(true)
        let addIDs = migratable && !clientWantsIDs
        let idsFieldAbsent = body["return_token_ids"] == nil
        if migratable { body["return_token_ids"] = .bool(true) }
        // The client's bytes go upstream as they came unless the router changed more than adding a field.
        let encodedBody: ByteBuffer
        if poolNamed && !addIDs {
            encodedBody = data
        } else if poolNamed && idsFieldAbsent, let spliced = Self.addingReturnTokenIDs(to: data) {
            encodedBody = spliced
        } else {
            encodedBody = ByteBuffer(bytes: try StructuredOutput.encode(body, keepingConstraintsOf: data.readableBytesView))
        }

        let forward = forwardHeaders(incoming, requestID: context.requestID)
        let key = headerValues["x-session-id"] ?? body["user"]?.stringValue
        let plan = ProxyPlan(
            kind: kind, pool: pool, body: body, encodedBody: encodedBody, routing: RoutingRequest(routingKey: key, promptText: promptText),
            headers: forward, stream: stream, migratable: migratable, clientWantsIDs: clientWantsIDs, started: now,
            logger: context.logger)
        let path = kind.path
        let lease: ReplicaSet.Lease
        let response: HTTPClientResponse
        do {
            (lease, response) = try await send(plan, path: path, body: plan.encodedBody, excluding: [])
        } catch let answer as UpstreamAnswer {
            return answer.clientResponse
        }
        let status = Int(response.status.code)

        if migratable && status == 200 {
            return Response(status: .ok, headers: Self.eventStreamHeaders, body: ResponseBody { writer in
                try await connection.cancellingOnClose {
                    try await self.relay(plan, lease: lease, response: response, writer: &writer)
                }
            })
        }
        var headers: HTTPFields = [:]
        headers[.contentType] = response.headers.first(name: "content-type") ?? "application/json"
        if let retry = response.headers.first(name: "retry-after") { headers[.retryAfter] = retry }
        if stream { headers[.cacheControl] = "no-cache" }
        return Response(status: .init(code: status), headers: headers, body: ResponseBody { writer in
            do {
                try await connection.cancellingOnClose {
                    for try await chunk in response.body { try await writer.write(chunk) }
                }
                try await writer.finish(nil)
                lease.end(status: status)
            } catch {
                // A client that went away says nothing about the replica: the lease ends as ignored when dropped.
                if !(Task.isCancelled || error is CancellationError) { lease.end(.failure, error: "stream_broken") }
                throw error
            }
        })
    }

    /// `body` (a JSON object with at least one member) with `"return_token_ids":true` as its first member, or nil
    /// when it does not start with `{`.
    static func addingReturnTokenIDs(to body: ByteBuffer) -> ByteBuffer? {
        let bytes = body.readableBytesView
        guard let brace = bytes.firstIndex(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n")
                                                    && $0 != UInt8(ascii: "\t") && $0 != UInt8(ascii: "\r") }),
              bytes[brace] == UInt8(ascii: "{") else { return nil }
        var out = ByteBuffer()
        out.reserveCapacity(bytes.count + 24)
        out.writeBytes(bytes[..<(brace + 1)])
        out.writeString(#""return_token_ids":true,"#)
        out.writeBytes(bytes[(brace + 1)...])
        return out
    }

    /// The pool for the request's `model`: a pool by name, an alias through its rules, or the only pool.
    func resolvePool(_ model: String?, promptText: String, lastUser: String, headers: [String: String],
                     logger: Logger) throws -> String {
        if let model, replicas.hasPool(model) { return model }
        if let model, let rules = aliases[model] {
            let input = RuleInput(promptTokens: RuleInput.estimatedTokens(characters: promptText.count),
                                  lastUserMessage: lastUser, headers: headers)
            var random = nextRandom()
            guard let decision = rules.evaluate(input, isPoolHealthy: { self.replicas.isPoolAvailable($0) },
                                                random: &random) else {
                throw ProxyError(status: 400, type: "invalid_request_error", code: "no_matching_rule",
                                 message: "No rule of alias '\(model)' matches this request")
            }
            metrics.ruleDecision(alias: model, rule: decision.ruleName, pool: decision.pool,
                                 fallback: decision.usedFallback)
            logger.debug("alias routed", metadata: [
                "alias": "\(model)", "rule": "\(decision.ruleName)", "pool": "\(decision.pool)",
                "fallback": "\(decision.usedFallback)",
            ])
            guard replicas.hasPool(decision.pool) else {
                throw ProxyError.unavailable("Alias '\(model)' routed to pool '\(decision.pool)', which has no replica")
            }
            return decision.pool
        }
        let models = replicas.models
        if model == nil, models.count == 1 { return models[0].name }
        if model == nil {
            throw ProxyError(status: 400, type: "invalid_request_error", code: "invalid_request",
                             message: "Name a 'model': the router serves \(models.map(\.name).joined(separator: ", "))")
        }
        throw ProxyError(status: 404, type: "invalid_request_error", code: "model_not_found",
                         message: "The model '\(model ?? "")' does not exist")
    }

    /// The prompt as text (for prefix affinity and length rules) and the last user message (for regex rules).
    static func promptText(_ body: [String: JSONValue], kind: StreamRelay.Kind) -> (String, String) {
        switch kind {
        case .completion:
            let text: String
            switch body["prompt"] {
            case .string(let value)?: text = value
            case .array(let items)?:
                text = items.map { item in
                    switch item {
                    case .string(let value): value
                    case .number(let value): String(Int(value)) + " "
                    case .array(let ids): ids.compactMap(\.intValue).map { String($0) + " " }.joined()
                    default: ""
                    }
                }.joined()
            default: text = ""
            }
            return (text, text)
        case .chat:
            var text = ""
            var lastUser = ""
            if case .array(let messages)? = body["messages"] {
                for message in messages {
                    let role = message["role"]?.stringValue ?? ""
                    var content = ""
                    switch message["content"] {
                    case .string(let value)?: content = value
                    case .array(let parts)?: content = parts.compactMap { $0["text"]?.stringValue }.joined()
                    default: break
                    }
                    text += role + "\n" + content + "\n"
                    if role == "user" { lastUser = content }
                }
            }
            return (text, lastUser)
        }
    }

    /// Sends `body` to a replica of the plan's pool, retrying per `RetryPolicy` until a response head that is
    /// not retryable arrives.
    /// - Throws: `ProxyError` (502 / 503 / 504) when every attempt failed without a response.
    func send(_ plan: ProxyPlan, path: String, body buffer: ByteBuffer,
              excluding initial: Set<ReplicaID>) async throws -> (ReplicaSet.Lease, HTTPClientResponse) {
        var tried = initial
        var attempt = 0
        var random = nextRandom()
        var lastError = ProxyError.unavailable("No healthy replica serves model '\(plan.pool)'")
        var lastResponse: (response: HTTPClientResponse, body: ByteBuffer)?
        while true {
            attempt += 1
            guard let lease = replicas.lease(pool: plan.pool, request: plan.routing, excluding: tried) else {
                if let lastResponse { throw UpstreamAnswer(response: lastResponse.response, body: lastResponse.body) }
                throw lastError
            }
            tried.insert(lease.replica)
            let failure: RetryPolicy.Failure
            do {
                let response = try await responseHead(from: lease.replica, plan, path: path, body: buffer)
                let code = Int(response.status.code)
                plan.logger.debug("replica answered", metadata: [
                    "replica": "\(lease.replica)", "pool": "\(plan.pool)", "status": "\(code)", "attempt": "\(attempt)",
                ])
                guard configuration.retry.retryableStatuses.contains(code) else { return (lease, response) }
                let errorBody = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
                lease.end(status: code)
                lastResponse = (response, errorBody)
                failure = .status(code)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                let kind = Upstream.classify(error)
                lease.end(Upstream.isLocalCongestion(error) ? .ignored : .failure, error: Upstream.label(kind))
                plan.logger.warning("upstream attempt failed", metadata: [
                    "replica": "\(lease.replica)", "error": "\(error)", "attempt": "\(attempt)",
                ])
                lastError = kind == .timeout
                    ? ProxyError(status: 504, type: "server_error", code: "upstream_timeout",
                                 message: "Replica \(lease.replica) did not answer in time")
                    : ProxyError(status: 502, type: "server_error", code: "upstream_unreachable",
                                 message: "Replica \(lease.replica) could not be reached: \(error)")
                lastResponse = nil
                failure = kind
            }
            switch configuration.retry.decide(after: failure, attempt: attempt, firstByteSent: false,
                                              elapsed: now - plan.started, random: &random) {
            case .retry(let delay):
                metrics.retry(model: plan.pool, reason: Upstream.label(failure))
                try await sleepOnEventLoop(for: delay)
            case .giveUp:
                // The replica's own answer (429 with Retry-After, 503 ...) goes to the client as it was.
                if let lastResponse { throw UpstreamAnswer(response: lastResponse.response, body: lastResponse.body) }
                throw lastError
            }
        }
    }

    /// POSTs the request to `replica` and waits for its response head. While the head has not come, the replica
    /// is asked every `firstByteTimeout` whether it still answers at all (`GET /health`, any status, within the
    /// health timeout): a frozen or cut-off replica loses the request, which nothing has reached the client of
    /// yet, so that `send` can retry it elsewhere; a busy one that answers keeps it however long it takes.
    /// - Throws: `HTTPClientError.deadlineExceeded` when the replica stopped answering, or the request's error.
    private func responseHead(from replica: ReplicaID, _ plan: ProxyPlan, path: String,
                              body: ByteBuffer) async throws -> HTTPClientResponse {
        let post = { @Sendable [upstream, configuration] in
            try await upstream.post(replica, path: path, body: body, headers: plan.headers, streaming: plan.stream,
                                    timeout: configuration.requestTimeout)
        }
        guard let interval = configuration.firstByteTimeout else { return try await post() }
        let probeTimeout = configuration.health.timeout
        return try await withThrowingTaskGroup(of: HTTPClientResponse?.self) { group in
            group.addTask { try await post() }
            group.addTask { [upstream] in
                while true {
                    try await sleepOnEventLoop(for: interval)
                    if (try? await upstream.get(replica, path: "/health", timeout: probeTimeout)) == nil {
                        // Cancelled because the head came meanwhile: nothing to report.
                        if Task.isCancelled { return nil }
                        plan.logger.warning("replica stopped answering before the response head",
                                            metadata: ["replica": "\(replica)"])
                        return nil
                    }
                }
            }
            defer { group.cancelAll() }
            guard let response = try await group.next() ?? nil else { throw HTTPClientError.deadlineExceeded }
            return response
        }
    }

    /// Streams the upstream's events to the client, migrating to another replica each time the stream breaks
    /// (at most `maxMigrations` times).
    func relay(_ plan: ProxyPlan, lease firstLease: ReplicaSet.Lease, response firstResponse: HTTPClientResponse,
               writer: inout any ResponseBodyWriter) async throws {
        var relay = StreamRelay(kind: plan.kind, clientWantsIDs: plan.clientWantsIDs)
        var upstream = (lease: firstLease, response: firstResponse)
        var migrations = 0
        while true {
            // A client that went away ends the relay by throwing; the lease then ends as ignored when dropped.
            switch try await forward(upstream.response, from: upstream.lease.replica, relay: &relay, writer: &writer,
                                     logger: plan.logger) {
            case .done:
                upstream.lease.end(.success)
                return
            case .broken:
                upstream.lease.end(.failure, error: "stream_broken")
            }
            guard migrations < configuration.maxMigrations else {
                metrics.migration(model: plan.pool, outcome: "limit")
                try await endWithError(ProxyError(status: 502, type: "server_error", code: "stream_broken",
                    message: "The replica stream broke \(migrations + 1) times; giving up"), writer: &writer)
                return
            }
            migrations += 1
            replicas.recordMigration(from: upstream.lease.replica)
            guard let next = try await migrate(plan, relay: &relay, from: upstream.lease.replica, writer: &writer) else {
                return
            }
            upstream = next
        }
    }

    /// How one upstream stream ended.
    enum UpstreamEnding {
        /// `[DONE]` came and the client's stream is finished.
        case done
        /// The upstream broke (closed, reset, silent too long) before `[DONE]`.
        case broken
    }

    /// Forwards one upstream's events to the client until `[DONE]` or the upstream breaks.
    /// - Throws: `ClientGone` when writing to the client fails, `CancellationError` when the client went away.
    private func forward(_ response: HTTPClientResponse, from replica: ReplicaID, relay: inout StreamRelay,
                         writer: inout any ResponseBodyWriter, logger: Logger) async throws -> UpstreamEnding {
        var parser = ServerSentEventParser()
        var clientFinished = false
        do {
            for try await buffer in response.body {
                // After [DONE] the rest of the body (its end) is still read, so that the upstream connection goes
                // back to the pool instead of being closed.
                if relay.isDone { continue }
                // Every event that arrived together goes to the client in one write (one flush, one hop to the
                // client's event loop), as it came.
                var outgoing = ByteBuffer()
                for event in parser.append(buffer.readableBytesView) {
                    for text in relay.handle(event) { outgoing.writeString(text) }
                    if relay.isDone { break }
                }
                do {
                    if outgoing.readableBytes > 0 { try await writer.write(outgoing) }
                    if relay.isDone {
                        try await writer.finish(nil)
                        clientFinished = true
                    }
                } catch {
                    throw ClientGone()
                }
            }
        } catch let error as ClientGone {
            throw error
        } catch {
            if Task.isCancelled { throw CancellationError() }
            logger.warning("upstream stream broke", metadata: ["replica": "\(replica)", "error": "\(error)"])
        }
        guard relay.isDone else { return .broken }
        if !clientFinished { try await writer.finish(nil) }
        return .done
    }

    /// Continues a broken stream on another replica: the original request again when nothing reached the client
    /// yet, else a continuation from what was generated (or, when generation had in fact ended, its last events).
    /// - Returns: the new upstream, or nil when the client's stream was ended here (finished, or with an error
    ///   event saying why the stream could not go on).
    private func migrate(_ plan: ProxyPlan, relay: inout StreamRelay, from broken: ReplicaID,
                         writer: inout any ResponseBodyWriter) async throws -> (lease: ReplicaSet.Lease, response: HTTPClientResponse)? {
        // The migration gets its own retry time budget: a long stream may break long after the request came.
        var retryPlan = plan
        retryPlan.started = now
        let next: (ReplicaSet.Lease, HTTPClientResponse)
        do {
            if !relay.forwardedAny {
                next = try await send(retryPlan, path: plan.kind.path, body: plan.encodedBody, excluding: [broken])
            } else {
                let context = replicas.models.first { $0.name == plan.pool }?.contextLength
                switch relay.plan(original: plan.body, contextLength: context) {
                case .finish(let events):
                    for text in events { try await writer.write(ByteBuffer(string: text)) }
                    metrics.migration(model: plan.pool, outcome: "finished")
                    try await writer.finish(nil)
                    return nil
                case .impossible(let reason):
                    try await failMigration(plan, ProxyError(status: 502, type: "server_error", code: "stream_broken",
                                                             message: reason), writer: &writer)
                    return nil
                case .resubmit(let body):
                    let encoded = ByteBuffer(bytes: try StructuredOutput.encode(
                        body, keepingConstraintsOf: plan.encodedBody.readableBytesView))
                    next = try await send(retryPlan, path: StreamRelay.Kind.completion.path, body: encoded,
                                          excluding: [broken])
                }
            }
        } catch let error as ProxyError {
            try await failMigration(plan, error, writer: &writer)
            return nil
        } catch let answer as UpstreamAnswer {
            try await failMigration(plan, ProxyError(status: Int(answer.response.status.code), type: "server_error",
                code: "stream_broken", message: String(buffer: answer.body)), writer: &writer)
            return nil
        }
        let (lease, response) = next
        let code = Int(response.status.code)
        guard code == 200 else {
            let text = (try? await response.body.collect(upTo: 1 << 20)).map { String(buffer: $0) } ?? ""
            lease.end(status: code)
            try await failMigration(plan, ProxyError(status: code, type: "server_error", code: "stream_broken",
                message: "Migration refused by the replica: \(text)"), writer: &writer)
            return nil
        }
        if relay.forwardedAny { relay.beginContinuation() }
        metrics.migration(model: plan.pool, outcome: "ok")
        plan.logger.info("stream migrated", metadata: [
            "from": "\(broken)", "to": "\(lease.replica)", "generated": "\(relay.generated.count)",
        ])
        return (lease, response)
    }

    /// Ends the client's stream with `error` after a migration that could not be made.
    private func failMigration(_ plan: ProxyPlan, _ error: ProxyError, writer: inout any ResponseBodyWriter) async throws {
        metrics.migration(model: plan.pool, outcome: "failed")
        try await endWithError(error, writer: &writer)
    }

    private func endWithError(_ error: ProxyError, writer: inout any ResponseBodyWriter) async throws {
        try await writer.write(ByteBuffer(string: error.event))
        try await writer.write(ByteBuffer(string: ServerSentEvents.done))
        try await writer.finish(nil)
    }
}

/// The client went away while the router wrote to it.
struct ClientGone: Error {}

/// A replica's own error answer, passed through when retries gave up.
struct UpstreamAnswer: Error, @unchecked Sendable {
    var response: HTTPClientResponse
    var body: ByteBuffer
}

extension RouterGateway {
    /// Passes a one-shot request (`/tokenize`, `/detokenize`) to a replica of the body's model: the client's body
    /// as it came (with `model` set to the pool when an alias chose it), the replica's answer as it came, with the
    /// same retries as completions.
    func passThrough(_ incoming: Request, path: String, context: ConnectionRequestContext) async throws -> Response {
        let (data, decoded) = try await readBody(incoming)
        var body = decoded
        var headerValues: [String: String] = [:]
        for field in incoming.headers { headerValues[field.name.canonicalName] = field.value }
        let text = body["prompt"]?.stringValue ?? ""
        let pool = try resolvePool(body["model"]?.stringValue, promptText: text, lastUser: text, headers: headerValues,
                                   logger: context.logger)
        let encoded: ByteBuffer
        if body["model"] == .string(pool) {
            encoded = data
        } else {
            body["model"] = .string(pool)
            encoded = ByteBuffer(bytes: try ServerSentEvents.makeEncoder().encode(JSONValue.object(body)))
        }
        let forward = forwardHeaders(incoming, requestID: context.requestID)
        let plan = ProxyPlan(
            kind: .completion, pool: pool, body: body, encodedBody: encoded,
            routing: RoutingRequest(routingKey: headerValues["x-session-id"], promptText: text), headers: forward,
            stream: false, migratable: false, clientWantsIDs: false, started: now, logger: context.logger)
        let lease: ReplicaSet.Lease
        let response: HTTPClientResponse
        do {
            (lease, response) = try await send(plan, path: path, body: encoded, excluding: [])
        } catch let answer as UpstreamAnswer {
            return answer.clientResponse
        }
        let status = Int(response.status.code)
        let answer: ByteBuffer
        do {
            answer = try await response.body.collect(upTo: 64 << 20)
        } catch {
            lease.end(.failure, error: "stream_broken")
            throw ProxyError(status: 502, type: "server_error", code: "upstream_unreachable",
                             message: "Replica \(lease.replica) broke off its answer: \(error)")
        }
        lease.end(status: status)
        var headers: HTTPFields = [:]
        headers[.contentType] = response.headers.first(name: "content-type") ?? "application/json"
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: answer))
    }
}

extension RouterGateway {
    /// The client's body (at most `maxBodyBytes`) and its members. What a replica would refuse is refused here
    /// too, not routed to a default pool: a body that is not a JSON object, a `model` that is not a string.
    func readBody(_ incoming: Request) async throws -> (ByteBuffer, [String: JSONValue]) {
        var request = incoming
        let limit = configuration.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw ProxyError(status: 413, type: "invalid_request_error", code: "request_too_large",
                             message: "The request body is larger than the router accepts (\(limit) bytes)")
        }
        let data = try await request.collectBody(upTo: limit)
        guard case .object(let body)? = try? JSONValue.parse(data.readableBytesView) else {
            throw ProxyError.invalid("The request body must be a JSON object")
        }
        if let model = body["model"], model != .null, model.stringValue == nil {
            throw ProxyError.invalid("'model' must be a string")
        }
        return (data, body)
    }

    /// The headers a request carries upstream: the replica key (or the client's own authorization) and its
    /// request id (the client's, or the one the router made), so that the replica logs it too.
    func forwardHeaders(_ request: Request, requestID: String) -> HTTPHeaders {
        var forward = HTTPHeaders()
        if configuration.replicaAPIKey != nil {
            forward.add(contentsOf: upstream.replicaHeaders)
        } else if let auth = request.headers[.authorization] {
            forward.add(name: "authorization", value: auth)
        }
        forward.add(name: "x-request-id", value: requestID)
        return forward
    }
}

extension UpstreamAnswer {
    /// The replica's own refusal as the client gets it (status, content type, `Retry-After`, body).
    var clientResponse: Response {
        var headers: HTTPFields = [:]
        headers[.contentType] = response.headers.first(name: "content-type") ?? "application/json"
        if let retry = response.headers.first(name: "retry-after") { headers[.retryAfter] = retry }
        return Response(status: .init(code: Int(response.status.code)), headers: headers, body: .init(byteBuffer: body))
    }
}
