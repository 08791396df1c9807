internal import Foundation
internal import Hummingbird
internal import ShoalHTTP
internal import Logging
internal import NIOCore
internal import ShoalAPI
internal import ShoalEngine
internal import ShoalTokenizers

/// `POST /v1/completions`.
struct CompletionsEndpoint: Sendable {
    let server: ServerContext

    func handle(_ request: Request, context: ConnectionRequestContext) async throws -> Response {
        let ticket = try server.state.admit(retryAfter: server.retryAfter)
        var request = request
        let body = try await server.readBody(&request)
        let input = try RequestDecoding.decode(CompletionRequest.self, from: body)
        let (model, engine) = try server.state.engine(for: input.model, retryAfter: server.retryAfter)
        ticket.assign(model: model)
        let tokenizer = engine.tokenizer
        var params = try input.samplingParams(vocabularySize: tokenizer.vocabularySize)
        let structured = try StructuredOutput.read(from: body)

        let items = input.prompt.items
        let limits = engine.promptLimits
        var prompts: [CompletionRun.Prompt] = []
        for (index, item) in items.enumerated() {
            let param = items.count > 1 ? "prompt[\(index)]" : "prompt"
            let ids: [Int32]
            switch item {
            case .text(let text): ids = try await Offload.run { tokenizer.encode(text, addSpecial: true, parseSpecial: true) }
            case .tokens(let given): ids = given
            }
            do {
                try limits.check(ids, maxTokens: params.maxTokens)
            } catch {
                throw APIError(error, input: "prompt", param: param)
            }
            let prompt: CompletionRun.Prompt
            switch item {
            case .text(let text): prompt = .init(ids: ids, text: text)
            case .tokens: prompt = .init(ids: ids, text: tokenizer.decode(ids, skipSpecial: false))
            }
            prompts.append(prompt)
        }
        if let structured {
            if structured.resumeTokens > 0, prompts.count > 1 {
                throw APIError.invalid(StructuredOutput.resumeField, "\(StructuredOutput.resumeField) needs a single prompt")
            }
            let cache = server.state.constraintCache(for: model, engine: engine)
            let ids = prompts[0].ids
            params.constraint = try await Offload.run { try structured.outputConstraint(prompt: ids, compile: cache.compile) }
        }

        let id = ServerContext.makeID("cmpl-")
        let n = input.n ?? 1
        let streams = try ChoiceStreams(
            engine: engine, requestID: id, prompts: prompts.map(\.ids), n: n, params: params,
            priority: input.priority ?? 0, retryAfter: server.retryAfter, logger: context.logger)
        let run = CompletionRun(
            server: server, model: model, formatter: TokenFormatter(tokenizer: tokenizer), id: id,
            created: ServerContext.unixTime, prompts: prompts, n: n, echo: input.echo ?? false,
            logprobs: input.logprobs, returnTokenIDs: input.returnTokenIDs ?? false,
            includeUsage: input.streamOptions?.includeUsage ?? false, streams: streams)

        return try await run.respond(context: context, streaming: input.stream == true, ticket: ticket, server: server)
    }
}

/// One completions request after validation: its prompts, choices and how to render them.
struct CompletionRun: GenerationRun {
    struct Prompt: Sendable {
        var ids: [Int32]
        /// The prompt as text (for `echo`).
        var text: String
    }

    let server: ServerContext
    let model: String
    let formatter: TokenFormatter
    let id: String
    let created: Int
    let prompts: [Prompt]
    let n: Int
    let echo: Bool
    let logprobs: Int?
    let returnTokenIDs: Bool
    let includeUsage: Bool
    let streams: ChoiceStreams

    private func prompt(of choice: Int) -> Prompt { prompts[choice / n] }

    private func makeLedger() -> ChoiceLedger {
        ChoiceLedger(metrics: server.metrics, model: model, promptLengths: prompts.map(\.ids.count), n: n,
                     submitted: streams.submitted)
    }

    /// The logprobs builder of a choice, with the echoed prompt tokens already in it.
    private func logprobsBuilder(for choice: Int) -> CompletionLogprobsBuilder {
        var builder = CompletionLogprobsBuilder()
        if echo {
            for token in prompt(of: choice).ids { builder.appendPrompt(formatter.text(of: token)) }
        }
        return builder
    }

    /// Runs the request to the end and builds the response.
    func collect() async throws -> CompletionResponse {
        var ledger = makeLedger()
        defer { ledger.abortUnfinished() }
        let count = prompts.count * n
        var texts = (0..<count).map { echo ? prompt(of: $0).text : "" }
        var ids = [[Int32]](repeating: [], count: count)
        var builders = (0..<count).map { logprobsBuilder(for: $0) }
        var failure: APIError?
        try await streams.forEachItem { item in
            switch item {
            case .token(let choice, let token):
                ledger.token(choice)
                texts[choice] += token.text
                ids[choice].append(token.id)
                if let logprobs {
                    builders[choice].append(token, emitted: token.text, formatter: formatter, limit: logprobs)
                }
            case .finished(let choice, let reason, let usage, let trailingText, let stopToken):
                texts[choice] += trailingText
                if let stopToken { ids[choice].append(stopToken) }
                ledger.finish(choice, reason: reason.apiValue, usage: usage)
            case .aborted(let choice, let error):
                ledger.finish(choice, reason: "abort", usage: nil)
                if let error, failure == nil { failure = GenerationFailure.apiError(error, retryAfter: server.retryAfter) }
            }
        }
        if let failure { throw failure }
        let choices = (0..<count).map { choice in
            CompletionChoice(
                index: choice, text: texts[choice], logprobs: logprobs == nil ? nil : builders[choice].logprobs,
                finishReason: ledger.entries[choice].finishReason,
                promptTokenIDs: returnTokenIDs ? prompt(of: choice).ids : nil,
                tokenIDs: returnTokenIDs ? ids[choice] : nil)
        }
        return CompletionResponse(id: id, created: created, model: model, choices: choices, usage: ledger.usage)
    }

    /// Runs the request, sending each piece as a server-sent event through `send`.
    func stream(_ send: (String) async throws -> Void) async throws {
        var ledger = makeLedger()
        defer { ledger.abortUnfinished() }
        let encoder = ServerSentEvents.makeEncoder()
        let count = prompts.count * n
        var pendingText = [String](repeating: "", count: count)
        var pendingIDs = [[Int32]](repeating: [], count: count)
        var sentPrompt = [Bool](repeating: false, count: count)
        var builders = (0..<count).map { _ in CompletionLogprobsBuilder() }

        func chunk(_ choice: Int, text: String, finishReason: String? = nil) throws -> String {
            var piece = CompletionChoice(index: choice, text: text, finishReason: finishReason)
            if logprobs != nil { piece.logprobs = builders[choice].take() }
            if returnTokenIDs {
                piece.tokenIDs = pendingIDs[choice]
                if !sentPrompt[choice] { piece.promptTokenIDs = prompt(of: choice).ids }
            }
            sentPrompt[choice] = true
            pendingIDs[choice] = []
            let response = CompletionResponse(id: id, created: created, model: model, choices: [piece], usage: nil,
                                              writesUsage: includeUsage)
            return try ServerSentEvents.event(response, encoder: encoder)
        }

        if echo {
            for choice in 0..<count {
                builders[choice] = logprobsBuilder(for: choice)
                try await send(try chunk(choice, text: prompt(of: choice).text))
            }
        }
        do {
            try await streams.forEachItem { item in
                switch item {
                case .token(let choice, let token):
                    ledger.token(choice)
                    pendingText[choice] += token.text
                    pendingIDs[choice].append(token.id)
                    if let logprobs {
                        builders[choice].append(token, emitted: token.text, formatter: formatter, limit: logprobs)
                    }
                    if !pendingText[choice].isEmpty {
                        let text = pendingText[choice]
                        pendingText[choice] = ""
                        try await send(try chunk(choice, text: text))
                    }
                case .finished(let choice, let reason, let usage, let trailingText, let stopToken):
                    ledger.finish(choice, reason: reason.apiValue, usage: usage)
                    if let stopToken { pendingIDs[choice].append(stopToken) }
                    let text = pendingText[choice] + trailingText
                    pendingText[choice] = ""
                    try await send(try chunk(choice, text: text, finishReason: reason.apiValue))
                case .aborted(let choice, let error):
                    ledger.finish(choice, reason: "abort", usage: nil)
                    if let error { throw GenerationFailure.apiError(error, retryAfter: server.retryAfter) }
                    try await send(try chunk(choice, text: pendingText[choice], finishReason: "abort"))
                }
            }
        } catch let error as APIError {
            try await send(try ServerSentEvents.event(error.body, encoder: encoder))
            try await send(ServerSentEvents.done)
            return
        }
        if includeUsage {
            let final = CompletionResponse(id: id, created: created, model: model, choices: [], usage: ledger.usage)
            try await send(try ServerSentEvents.event(final, encoder: encoder))
        }
        try await send(ServerSentEvents.done)
    }
}

/// Maps an error thrown by an engine stream mid-generation to the API error clients see.
enum GenerationFailure {
    static func apiError(_ error: any Error, retryAfter: Int) -> APIError {
        if let error = error as? EngineError { return ChoiceStreams.apiError(error, retryAfter: retryAfter) }
        if let error = error as? APIError { return error }
        return APIError(.internalError, "Generation failed: \(error)")
    }
}
