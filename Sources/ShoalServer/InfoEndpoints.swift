internal import Hummingbird
internal import NIOCore
internal import ShoalAPI
internal import ShoalEngine
internal import ShoalTokenizers

/// `/v1/models`, `/tokenize`, `/detokenize`, `/health`, `/metrics` and `/version`.
struct InfoEndpoints: Sendable {
    let server: ServerContext

    func models() throws -> Response {
        let cards = server.state.engines.sorted { $0.key < $1.key }.map { name, engine in
            ModelCard(id: name, created: server.state.startTime, maxModelLen: engine.contextLength)
        }
        return try server.json(ModelList(data: cards))
    }

    func tokenize(_ request: Request) async throws -> Response {
        var request = request
        let input = try RequestDecoding.decode(TokenizeRequest.self, from: try await server.readBody(&request))
        let (model, engine) = try server.state.engine(for: input.model, retryAfter: server.retryAfter)
        let tokenizer = engine.tokenizer
        let ids: [Int32]
        switch (input.prompt, input.messages) {
        case (let prompt?, nil):
            ids = tokenizer.encode(prompt, addSpecial: input.addSpecialTokens ?? true, parseSpecial: true)
        case (nil, let messages?):
            guard !messages.isEmpty else { throw APIError.invalid("messages", "messages must not be empty") }
            let text = try ChatPrompt.renderText(
                messages: messages, addGenerationPrompt: input.addGenerationPrompt ?? true, model: model,
                engine: engine, state: server.state)
            ids = tokenizer.encode(text, addSpecial: input.addSpecialTokens ?? false, parseSpecial: true)
        case (nil, nil):
            throw APIError.invalid("prompt", "Either prompt or messages is required")
        case (_?, _?):
            throw APIError.invalid("messages", "Give either prompt or messages, not both")
        }
        let strings = input.returnTokenStrs == true ? ids.map { tokenizer.token(of: $0) ?? "" } : nil
        return try server.json(TokenizeResponse(count: ids.count, maxModelLen: engine.contextLength, tokens: ids,
                                                tokenStrs: strings))
    }

    func detokenize(_ request: Request) async throws -> Response {
        var request = request
        let input = try RequestDecoding.decode(DetokenizeRequest.self, from: try await server.readBody(&request))
        let (_, engine) = try server.state.engine(for: input.model, retryAfter: server.retryAfter)
        let vocabulary = engine.tokenizer.vocabularySize
        if let bad = input.tokens.first(where: { $0 < 0 || Int($0) >= vocabulary }) {
            throw APIError.invalid("tokens", "tokens: \(bad) is outside the vocabulary (0..<\(vocabulary))")
        }
        return try server.json(DetokenizeResponse(prompt: engine.tokenizer.decode(input.tokens, skipSpecial: false)))
    }

    /// 200 only while nothing is loading or draining, every engine can compute (its model-parallel workers are all
    /// there) and every engine's current step is younger than the deadline.
    func health() throws -> Response {
        let state = server.state
        var status = HealthResponse(status: "ok")
        if state.isDraining {
            status = HealthResponse(status: "draining", message: "The server is shutting down")
        } else if state.isLoading {
            status = HealthResponse(status: "loading", message: "The server is loading the model")
        } else if state.engines.isEmpty {
            status = HealthResponse(status: "loading", message: "No model is loaded")
        } else {
            let deadline = server.configuration.healthStepDeadline.seconds
            for (name, engine) in state.engines.sorted(by: { $0.key < $1.key }) {
                let stats = engine.stats()
                if stats.isDraining {
                    status = HealthResponse(status: "draining", message: "The engine of `\(name)` is draining")
                    break
                }
                if let reason = stats.unavailableReason {
                    status = HealthResponse(status: "unhealthy", message: "The engine of `\(name)` cannot compute: \(reason)")
                    break
                }
                if let step = stats.currentStepSeconds, step > deadline {
                    status = HealthResponse(status: "unhealthy",
                        message: "The engine of `\(name)` has been in one step for \(Int(step)) s (deadline \(Int(deadline)) s)")
                    break
                }
            }
        }
        var headers: HTTPFields = [:]
        if status.status != "ok" { headers[.retryAfter] = String(server.retryAfter) }
        return try server.json(status, status: status.status == "ok" ? .ok : .serviceUnavailable, headers: headers)
    }

    func metrics() -> Response {
        let text = server.metrics.render(engines: server.state.engines)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func version() throws -> Response {
        try server.json(VersionResponse(version: server.configuration.version))
    }
}
