internal import Foundation
internal import Hummingbird
internal import ShoalHTTP
internal import Logging
internal import NIOCore
internal import ShoalAPI
internal import ShoalEngine
internal import ShoalTokenizers

/// `POST /v1/chat/completions`.
struct ChatCompletionsEndpoint: Sendable {
    let server: ServerContext

    func handle(_ request: Request, context: ConnectionRequestContext) async throws -> Response {
        let ticket = try server.state.admit(retryAfter: server.retryAfter)
        var request = request
        let body = try await server.readBody(&request)
        let input = try RequestDecoding.decode(ChatCompletionRequest.self, from: body)
        try input.checkServable()
        let (model, engine) = try server.state.engine(for: input.model, retryAfter: server.retryAfter)
        ticket.assign(model: model)
        let tokenizer = engine.tokenizer
        let members = RawJSONMembers(body)
        let toolCalling = try ToolCalling.read(members)
        let structured = try StructuredOutput.read(members)
        if toolCalling != nil, let structured {
            throw APIError.invalid(structured.param, "\(structured.param) cannot be combined with tools (the tool-call answer is already constrained)")
        }
        let state = server.state
        let promptIDs = try await Offload.run {
            try ChatPrompt.render(
                messages: input.messages, toolCalling: toolCalling,
                addGenerationPrompt: input.addGenerationPrompt ?? true, model: model, engine: engine, state: state)
        }
        let requested = input.requestedMaxTokens
        var params = try input.samplingParams(
            vocabularySize: tokenizer.vocabularySize,
            defaultMaxTokens: max(1, engine.contextLength - promptIDs.count))
        let constraint = toolCalling.map { StructuredOutput(format: .jsonSchema($0.answerSchema), param: "tools", resumeTokens: 0) }
            ?? structured
        if let constraint {
            let cache = server.state.constraintCache(for: model, engine: engine)
            params.constraint = try await Offload.run {
                try constraint.outputConstraint(prompt: promptIDs, compile: cache.compile)
            }
        }
        do {
            try engine.promptLimits.check(promptIDs, maxTokens: requested ?? params.maxTokens)
        } catch {
            throw APIError(error, input: "messages", param: "messages")
        }

        let id = ServerContext.makeID("chatcmpl-")
        let n = input.n ?? 1
        let streams = try ChoiceStreams(
            engine: engine, requestID: id, prompts: [promptIDs], n: n, params: params,
            priority: input.priority ?? 0, retryAfter: server.retryAfter, logger: context.logger)
        let run = ChatRun(
            server: server, model: model, formatter: TokenFormatter(tokenizer: tokenizer), id: id,
            created: ServerContext.unixTime, promptIDs: promptIDs, n: n,
            topLogprobs: input.logprobs == true ? (input.topLogprobs ?? 0) : nil,
            returnTokenIDs: input.returnTokenIDs ?? false,
            includeUsage: input.streamOptions?.includeUsage ?? false, streams: streams, toolCalling: toolCalling)

        return try await run.respond(context: context, streaming: input.stream == true, ticket: ticket, server: server)
    }
}

/// Renders chat messages with a model's template and tokenizes the result.
enum ChatPrompt {
    /// - Throws: 400 for messages the template refuses or a model without a template.
    static func render(messages: [ChatMessage], toolCalling: ToolCalling? = nil, addGenerationPrompt: Bool,
                       model: String, engine: any InferenceEngine, state: ServerState) throws(APIError) -> [Int32] {
        let text = try renderText(messages: messages, toolCalling: toolCalling, addGenerationPrompt: addGenerationPrompt,
                                  model: model, engine: engine, state: state)
        // The template writes BOS itself where the model wants it.
        return engine.tokenizer.encode(text, addSpecial: false, parseSpecial: true)
    }

    /// - Parameter toolCalling: the request's tools: the template gets them as `tools` (as in `transformers`),
    ///   and where it does not use them, the system message describes them (`ToolCalling.prepare`).
    static func renderText(messages: [ChatMessage], toolCalling: ToolCalling? = nil, addGenerationPrompt: Bool,
                           model: String, engine: any InferenceEngine, state: ServerState) throws(APIError) -> String {
        let template = try state.chatTemplate(for: model, engine: engine)
        let templateUsesTools = template.source.contains("tools")
        var extra: [String: TemplateValue] = [:]
        if let toolCalling {
            extra["tools"] = .array(toolCalling.tools.map { tool in
                let parameters = (try? JSONDecoder().decode(JSONValue.self, from: Data(tool.parameters.utf8))).map(templateValue) ?? .null
                var function: [(key: String, value: TemplateValue)] = [("name", .string(tool.name))]
                if let description = tool.description { function.append(("description", .string(description))) }
                function.append(("parameters", parameters))
                return .object([("type", .string("function")), ("function", .object(function))])
            })
        }
        let values: [TemplateValue]
        do {
            let prepared = ToolCalling.prepare(messages, for: toolCalling, describeTools: !templateUsesTools)
            values = try ChatMessages.normalize(prepared.map(templateValue))
        } catch let error as ChatTemplateError {
            throw .invalid("messages", error.message)
        } catch {
            throw .invalid("messages", "\(error)")
        }
        let tokenizer = engine.tokenizer
        func special(_ id: Int32?) -> String {
            id.map { String(decoding: tokenizer.bytes(of: $0, skipSpecial: false), as: UTF8.self) } ?? ""
        }
        do {
            return try template.render(messages: values, addGenerationPrompt: addGenerationPrompt,
                                       bosToken: special(tokenizer.bosID), eosToken: special(tokenizer.eosID), extra: extra)
        } catch {
            throw .invalid("messages", "The chat template rejected the messages: \(error.message)")
        }
    }

    /// A message as chat templates see it: role, content (text or null) and the optional fields.
    static func templateValue(_ message: ChatMessage) -> TemplateValue {
        var pairs: [(key: String, value: TemplateValue)] = [("role", .string(message.role))]
        switch message.content {
        case .text(let text): pairs.append(("content", .string(text)))
        case .parts(let parts): pairs.append(("content", .array(parts.map { .object([("type", .string($0.type)), ("text", .string($0.text ?? ""))]) })))
        case nil: pairs.append(("content", .null))
        }
        if let name = message.name { pairs.append(("name", .string(name))) }
        if let calls = message.toolCalls { pairs.append(("tool_calls", templateValue(calls))) }
        if let id = message.toolCallID { pairs.append(("tool_call_id", .string(id))) }
        return .object(pairs)
    }

    static func templateValue(_ json: JSONValue) -> TemplateValue {
        switch json {
        case .null: .null
        case .bool(let value): .bool(value)
        case .number(let value): value.rounded() == value && abs(value) < 1e15 ? .int(Int(value)) : .double(value)
        case .string(let value): .string(value)
        case .array(let items): .array(items.map(templateValue))
        case .object(let pairs): .object(pairs.keys.sorted().map { ($0, templateValue(pairs[$0]!)) })
        }
    }
}

/// One chat request after validation.
struct ChatRun: GenerationRun {
    let server: ServerContext
    let model: String
    let formatter: TokenFormatter
    let id: String
    let created: Int
    let promptIDs: [Int32]
    let n: Int
    /// nil: no logprobs; otherwise how many alternatives per token.
    let topLogprobs: Int?
    let returnTokenIDs: Bool
    let includeUsage: Bool
    let streams: ChoiceStreams
    /// Set when the answer is a tool-calling envelope to read back into `tool_calls`.
    let toolCalling: ToolCalling?

    private func makeLedger() -> ChoiceLedger {
        ChoiceLedger(metrics: server.metrics, model: model, promptLengths: [promptIDs.count], n: n,
                     submitted: streams.submitted)
    }

    func collect() async throws -> ChatCompletionResponse {
        var ledger = makeLedger()
        defer { ledger.abortUnfinished() }
        var texts = [String](repeating: "", count: n)
        var ids = [[Int32]](repeating: [], count: n)
        var entries = [[ChatTokenLogprob]](repeating: [], count: n)
        var failure: APIError?
        try await streams.forEachItem { item in
            switch item {
            case .token(let choice, let token):
                ledger.token(choice)
                texts[choice] += token.text
                ids[choice].append(token.id)
                if let topLogprobs { entries[choice].append(formatter.chatEntry(token, limit: topLogprobs)) }
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
        let choices = (0..<n).map { choice in
            var message = ChatResponseMessage(content: texts[choice])
            var finishReason = ledger.entries[choice].finishReason
            if toolCalling != nil, let answer = ToolCalling.parse(texts[choice]) {
                if answer.calls.isEmpty {
                    message.content = answer.content
                } else {
                    message.content = nil
                    message.toolCalls = answer.calls.map {
                        ChatToolCall(id: ToolCalling.makeCallID(), name: $0.name, arguments: $0.arguments)
                    }
                    if finishReason == "stop" { finishReason = "tool_calls" }
                }
            }
            return ChatChoice(
                index: choice, message: message,
                logprobs: topLogprobs == nil ? nil : ChatLogprobs(content: entries[choice]),
                finishReason: finishReason, tokenIDs: returnTokenIDs ? ids[choice] : nil)
        }
        return ChatCompletionResponse(id: id, created: created, model: model, choices: choices, usage: ledger.usage,
                                      promptTokenIDs: returnTokenIDs ? promptIDs : nil)
    }

    func stream(_ send: (String) async throws -> Void) async throws {
        var ledger = makeLedger()
        defer { ledger.abortUnfinished() }
        let encoder = ServerSentEvents.makeEncoder()
        var pendingText = [String](repeating: "", count: n)
        var pendingIDs = [[Int32]](repeating: [], count: n)
        var pendingEntries = [[ChatTokenLogprob]](repeating: [], count: n)
        var sentPrompt = false

        func chunk(_ choice: Int, delta: ChatDelta, finishReason: String? = nil, flush: Bool = true) throws -> String {
            var piece = ChatChunkChoice(index: choice, delta: delta, finishReason: finishReason)
            if flush {
                if topLogprobs != nil, !pendingEntries[choice].isEmpty {
                    piece.logprobs = ChatLogprobs(content: pendingEntries[choice])
                }
                if returnTokenIDs { piece.tokenIDs = pendingIDs[choice] }
                pendingEntries[choice] = []
                pendingIDs[choice] = []
            }
            let value = ChatCompletionChunk(
                id: id, created: created, model: model, choices: [piece], writesUsage: includeUsage,
                promptTokenIDs: returnTokenIDs && !sentPrompt ? promptIDs : nil)
            sentPrompt = true
            return try ServerSentEvents.event(value, encoder: encoder)
        }

        // Tool-calling answers are read as they grow: text for `{"response": ...}`, call fragments for calls.
        var toolStreams = [ToolCallStream](repeating: ToolCallStream(), count: toolCalling == nil ? 0 : n)
        var callIDs = [[String]](repeating: [], count: n)
        func toolDeltas(_ choice: Int, _ text: String) -> [ChatDelta] {
            toolStreams[choice].append(text).map { event in
                switch event {
                case .content(let text):
                    return ChatDelta(content: text)
                case .callStarted(let index, let name):
                    let id = ToolCalling.makeCallID()
                    callIDs[choice].append(id)
                    return ChatDelta(toolCalls: [ChatToolCallDelta(index: index, id: id, name: name, arguments: "")])
                case .arguments(let index, let fragment):
                    return ChatDelta(toolCalls: [ChatToolCallDelta(index: index, arguments: fragment)])
                }
            }
        }

        for choice in 0..<n {
            try await send(try chunk(choice, delta: ChatDelta(role: "assistant", content: toolCalling == nil ? "" : nil),
                                     flush: false))
        }
        do {
            try await streams.forEachItem { item in
                switch item {
                case .token(let choice, let token):
                    ledger.token(choice)
                    pendingIDs[choice].append(token.id)
                    if let topLogprobs { pendingEntries[choice].append(formatter.chatEntry(token, limit: topLogprobs)) }
                    if toolCalling != nil {
                        for delta in toolDeltas(choice, token.text) { try await send(try chunk(choice, delta: delta)) }
                        return
                    }
                    pendingText[choice] += token.text
                    if !pendingText[choice].isEmpty {
                        let text = pendingText[choice]
                        pendingText[choice] = ""
                        try await send(try chunk(choice, delta: ChatDelta(content: text)))
                    }
                case .finished(let choice, let reason, let usage, let trailingText, let stopToken):
                    if let stopToken { pendingIDs[choice].append(stopToken) }
                    var finishReason = reason.apiValue
                    if toolCalling != nil {
                        for delta in toolDeltas(choice, trailingText) { try await send(try chunk(choice, delta: delta)) }
                        if callIDs[choice].count > 0 && finishReason == "stop" { finishReason = "tool_calls" }
                    } else {
                        let text = pendingText[choice] + trailingText
                        pendingText[choice] = ""
                        if !text.isEmpty { try await send(try chunk(choice, delta: ChatDelta(content: text))) }
                    }
                    ledger.finish(choice, reason: finishReason, usage: usage)
                    try await send(try chunk(choice, delta: ChatDelta(), finishReason: finishReason))
                case .aborted(let choice, let error):
                    ledger.finish(choice, reason: "abort", usage: nil)
                    if let error { throw GenerationFailure.apiError(error, retryAfter: server.retryAfter) }
                    try await send(try chunk(choice, delta: ChatDelta(), finishReason: "abort"))
                }
            }
        } catch let error as APIError {
            try await send(try ServerSentEvents.event(error.body, encoder: encoder))
            try await send(ServerSentEvents.done)
            return
        }
        if includeUsage {
            let final = ChatCompletionChunk(id: id, created: created, model: model, choices: [], usage: ledger.usage,
                                            writesUsage: true)
            try await send(try ServerSentEvents.event(final, encoder: encoder))
        }
        try await send(ServerSentEvents.done)
    }
}
