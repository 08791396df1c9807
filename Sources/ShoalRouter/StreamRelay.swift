internal import Foundation
package import ShoalAPI

/// The stream-migration state machine of one streaming request (no I/O).
///
/// It rewrites the upstream's server-sent events for the client (dropping the `prompt_token_ids` / `token_ids`
/// the router asked for unless the client asked too), remembers the prompt ids and every generated id, and when
/// the upstream breaks plans the continuation: a `/v1/completions` request whose prompt is prompt + generated
/// ids, with the remaining `max_tokens` and the same sampling parameters. Continuation chunks are rewritten
/// to the original `id` / `created` / `model` (and, for chat, back into `chat.completion.chunk` deltas), with
/// `usage` counting the original prompt and all generated tokens.
package struct StreamRelay: Sendable {
    package enum Kind: Sendable {
        case completion
        case chat

        /// The endpoint a request of this kind goes to.
        var path: String { self == .chat ? "/v1/chat/completions" : "/v1/completions" }
    }

    /// What to do after the upstream broke.
    package enum Plan: Sendable, Equatable {
        /// Send this `/v1/completions` body to another replica.
        case resubmit([String: JSONValue])
        /// Nothing is left to generate: write these events and end.
        case finish([String])
        /// Migration cannot work; the reason goes to the client as an error event.
        case impossible(String)
    }

    /// Body fields carried over to the continuation (sampling and bookkeeping; not `n`, `echo`, `logprobs` of chat).
    static let carriedFields = [
        "temperature", "top_p", "top_k", "min_p", "stop", "stop_token_ids", "seed", "presence_penalty",
        "frequency_penalty", "repetition_penalty", "logit_bias", "ignore_eos", "user", "priority", "stream_options",
    ]

    let kind: Kind
    let clientWantsIDs: Bool
    private(set) var promptIDs: [Int32]?
    package private(set) var generated: [Int32] = []
    private(set) var isDone = false
    package private(set) var finishReason: String?
    /// Whether any event went to the client.
    private(set) var forwardedAny = false
    /// Whether a chunk with `usage` went to the client.
    private(set) var forwardedUsage = false
    private var id: JSONValue?
    private var created: JSONValue?
    private var model: JSONValue?
    /// Tokens generated before the current continuation started; nil while the original upstream streams.
    private var continuationBase: Int?

    /// Whether chunks of the original stream are read from their bytes (`ChunkSkim`); off, every chunk is decoded
    /// and encoded in full, the reference the skim is tested against.
    let skimsChunks: Bool

    package init(kind: Kind, clientWantsIDs: Bool, skimsChunks: Bool = true) {
        self.kind = kind
        self.clientWantsIDs = clientWantsIDs
        self.skimsChunks = skimsChunks
    }

    /// Whether a request can be migrated mid-stream: one prompt, one choice, and for chat no logprobs and no tool
    /// calling (their chat shape, `delta.tool_calls`, cannot be rebuilt from a completion's).
    package static func canMigrate(_ body: [String: JSONValue], kind: Kind) -> Bool {
        if let n = body["n"]?.intValue, n != 1 { return false }
        if case .array(let tools)? = body["tools"], !tools.isEmpty, body["tool_choice"] != .string("none") { return false }
        switch kind {
        case .completion:
            switch body["prompt"] {
            case .string?: return true
            case .array(let items)?:
                if items.allSatisfy({ $0.intValue != nil }) { return true }
                return items.count == 1
            default: return false
            }
        case .chat:
            return body["logprobs"] != .bool(true)
        }
    }

    /// The events to write for one upstream event.
    package mutating func handle(_ event: ServerSentEvent) -> [String] {
        forwardedAny = true
        if event.isDone {
            isDone = true
            return [ServerSentEvents.done]
        }
        // The original stream: read the chunk's bytes instead of decoding and encoding it.
        if continuationBase == nil, skimsChunks,
           let skim = ChunkSkim(event.data, stripIDs: !clientWantsIDs, readsHeader: id == nil) {
            if id == nil {
                id = skim.id
                created = skim.created
                model = skim.model
            }
            if skim.hasUsage { forwardedUsage = true }
            if let ids = skim.promptIDs { promptIDs = ids }
            generated += skim.generated
            if let reason = skim.finishReason { finishReason = reason }
            return [Self.frame(skim.output)]
        }
        guard case .object(let chunk)? = try? JSONValue.parse(event.data.utf8),
              chunk["error"] == nil else {
            // Not a chunk (an in-band error, something unknown): pass it on unchanged.
            return [ServerSentEvents.event(data: event.data)]
        }
        if let usage = chunk["usage"], usage != .null { forwardedUsage = true }
        if let base = continuationBase {
            return continuation(chunk, base: base)
        }
        return [encode(original(chunk))]
    }

    /// `data: <bytes>` and the blank line, straight from the bytes when they hold no line break (compact JSON never
    /// does), else split into `data:` lines.
    private static func frame(_ payload: [UInt8]) -> String {
        guard !payload.contains(where: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) else {
            return ServerSentEvents.event(data: String(decoding: payload, as: UTF8.self))
        }
        var bytes: [UInt8] = Array("data: ".utf8)
        bytes.reserveCapacity(payload.count + 8)
        bytes.append(contentsOf: payload)
        bytes.append(contentsOf: [UInt8(ascii: "\n"), UInt8(ascii: "\n")])
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The next upstream is a continuation: its chunks are rewritten from now on.
    mutating func beginContinuation() {
        continuationBase = generated.count
    }

    private mutating func original(_ input: [String: JSONValue]) -> [String: JSONValue] {
        var chunk = input
        if id == nil {
            id = chunk["id"]
            created = chunk["created"]
            model = chunk["model"]
        }
        if let ids = chunk["prompt_token_ids"]?.tokenIDs { promptIDs = ids }
        if !clientWantsIDs { chunk["prompt_token_ids"] = nil }
        if case .array(var choices)? = chunk["choices"] {
            for index in choices.indices {
                guard case .object(var choice) = choices[index] else { continue }
                if let ids = choice["prompt_token_ids"]?.tokenIDs { promptIDs = ids }
                if let ids = choice["token_ids"]?.tokenIDs { generated += ids }
                if case .string(let reason)? = choice["finish_reason"] { finishReason = reason }
                if !clientWantsIDs {
                    choice["prompt_token_ids"] = nil
                    choice["token_ids"] = nil
                }
                choices[index] = .object(choice)
            }
            chunk["choices"] = .array(choices)
        }
        return chunk
    }

    private mutating func continuation(_ chunk: [String: JSONValue], base: Int) -> [String] {
        var usage = chunk["usage"]
        if case .object(var fields)? = usage, let promptIDs {
            let completion = (fields["completion_tokens"]?.intValue ?? 0) + base
            fields["prompt_tokens"] = .number(Double(promptIDs.count))
            fields["completion_tokens"] = .number(Double(completion))
            fields["total_tokens"] = .number(Double(promptIDs.count + completion))
            // The continuation's prompt holds the generated tokens too: its cache hits can exceed the prompt.
            if case .object(var details)? = fields["prompt_tokens_details"],
               let cached = details["cached_tokens"]?.intValue, cached > promptIDs.count {
                details["cached_tokens"] = .number(Double(promptIDs.count))
                fields["prompt_tokens_details"] = .object(details)
            }
            usage = .object(fields)
        }
        var pieces: [(text: String, reason: String?, ids: [Int32], logprobs: JSONValue?)] = []
        if case .array(let choices)? = chunk["choices"] {
            for case .object(let choice) in choices {
                let ids = choice["token_ids"]?.tokenIDs ?? []
                generated += ids
                let reason = choice["finish_reason"]?.stringValue
                if let reason { finishReason = reason }
                pieces.append((choice["text"]?.stringValue ?? "", reason, ids, choice["logprobs"]))
            }
        }

        var header: [String: JSONValue] = [
            "id": id ?? chunk["id"] ?? .null, "created": created ?? chunk["created"] ?? .null,
            "model": model ?? chunk["model"] ?? .null,
        ]
        if chunk["usage"] != nil { header["usage"] = usage ?? .null }
        switch kind {
        case .completion:
            var out = header
            out["object"] = .string("text_completion")
            out["choices"] = .array(pieces.map { piece in
                var choice: [String: JSONValue] = [
                    "index": .number(0), "text": .string(piece.text), "logprobs": piece.logprobs ?? .null,
                    "finish_reason": piece.reason.map(JSONValue.string) ?? .null,
                ]
                if clientWantsIDs { choice["token_ids"] = .tokenIDs(piece.ids) }
                return .object(choice)
            })
            return [encode(out)]
        case .chat:
            var out = header
            out["object"] = .string("chat.completion.chunk")
            if pieces.isEmpty {
                out["choices"] = .array([])
                return [encode(out)]
            }
            var events: [String] = []
            for piece in pieces {
                var ids = piece.ids
                if !piece.text.isEmpty {
                    out["choices"] = .array([chatChoice(delta: ["content": .string(piece.text)], reason: nil, ids: ids)])
                    events.append(encode(out))
                    ids = []
                }
                if let reason = piece.reason {
                    out["choices"] = .array([chatChoice(delta: [:], reason: reason, ids: ids)])
                    events.append(encode(out))
                }
            }
            return events
        }
    }

    private func chatChoice(delta: [String: JSONValue], reason: String?, ids: [Int32]) -> JSONValue {
        var choice: [String: JSONValue] = [
            "index": .number(0), "delta": .object(delta), "logprobs": .null,
            "finish_reason": reason.map(JSONValue.string) ?? .null,
        ]
        if clientWantsIDs { choice["token_ids"] = .tokenIDs(ids) }
        return .object(choice)
    }

    /// The continuation after the upstream broke.
    /// - Parameters:
    ///   - original: the client's request body (with `model` already set to the pool).
    ///   - contextLength: the pool's context, for chat requests without a token limit.
    package func plan(original: [String: JSONValue], contextLength: Int?) -> Plan {
        if finishReason != nil {
            // The answer was complete; only the end of the stream was lost, maybe with the usage chunk.
            return .finish(lostUsage(original) + [ServerSentEvents.done])
        }
        guard let promptIDs else {
            return .impossible("the replica failed before it sent the prompt's token ids")
        }
        let limit: Int
        switch kind {
        case .completion:
            limit = original["max_tokens"]?.intValue ?? 16
        case .chat:
            limit = original["max_completion_tokens"]?.intValue ?? original["max_tokens"]?.intValue
                ?? (contextLength ?? 0) - promptIDs.count
        }
        let remaining = limit - generated.count
        guard remaining > 0 else { return .finish([finalLengthChunk()] + lostUsage(original) + [ServerSentEvents.done]) }
        var body: [String: JSONValue] = [:]
        for field in Self.carriedFields { if let value = original[field] { body[field] = value } }
        if kind == .completion, let logprobs = original["logprobs"] { body["logprobs"] = logprobs }
        body["model"] = original["model"]
        body["prompt"] = .tokenIDs(promptIDs + generated)
        body["max_tokens"] = .number(Double(remaining))
        body["stream"] = .bool(true)
        body["return_token_ids"] = .bool(true)
        // A constrained output resumes its grammar after the tokens already sent.
        for field in StructuredOutput.fields { if let value = original[field] { body[field] = value } }
        if StructuredOutput.fields.contains(where: { original[$0] != nil && original[$0] != .null }) {
            let earlier = original[StructuredOutput.resumeField]?.intValue ?? 0
            body[StructuredOutput.resumeField] = .number(Double(earlier + generated.count))
        }
        return .resubmit(body)
    }

    /// The usage chunk the client asked for (`stream_options.include_usage`) when the upstream broke before
    /// sending it: counted from the prompt ids and every generated id (the stop token is among them). Cache
    /// hits are unknown here, so `prompt_tokens_details` is left out.
    private func lostUsage(_ original: [String: JSONValue]) -> [String] {
        guard case .object(let options)? = original["stream_options"], options["include_usage"] == .bool(true),
              !forwardedUsage, let promptIDs else { return [] }
        let usage: [String: JSONValue] = [
            "prompt_tokens": .number(Double(promptIDs.count)),
            "completion_tokens": .number(Double(generated.count)),
            "total_tokens": .number(Double(promptIDs.count + generated.count)),
        ]
        var out = chunkHeader()
        out["choices"] = .array([])
        out["usage"] = .object(usage)
        return [encode(out)]
    }

    private func finalLengthChunk() -> String {
        var out = chunkHeader()
        switch kind {
        case .completion:
            out["choices"] = .array([.object([
                "index": .number(0), "text": .string(""), "logprobs": .null, "finish_reason": .string("length"),
            ])])
        case .chat:
            out["choices"] = .array([chatChoice(delta: [:], reason: "length", ids: [])])
        }
        return encode(out)
    }

    /// The original stream's `id`, `created`, `model`, and the chunk `object` of its kind, for chunks the router writes.
    private func chunkHeader() -> [String: JSONValue] {
        ["id": id ?? .null, "created": created ?? .null, "model": model ?? .null,
         "object": .string(kind == .chat ? "chat.completion.chunk" : "text_completion")]
    }

    private func encode(_ object: [String: JSONValue]) -> String {
        (try? ServerSentEvents.event(JSONValue.object(object))) ?? ServerSentEvents.event(data: "{}")
    }
}

extension JSONValue {
    /// The value as an integer, when it is a whole number.
    var intValue: Int? {
        guard case .number(let value) = self, value == value.rounded(), abs(value) < 9.0e15 else { return nil }
        return Int(value)
    }

    /// The value as token ids, when it is an array of whole numbers.
    var tokenIDs: [Int32]? {
        guard case .array(let items) = self else { return nil }
        var ids: [Int32] = []
        ids.reserveCapacity(items.count)
        for item in items {
            guard let value = item.intValue, let id = Int32(exactly: value) else { return nil }
            ids.append(id)
        }
        return ids
    }

    static func tokenIDs(_ ids: [Int32]) -> JSONValue {
        .array(ids.map { .number(Double($0)) })
    }
}
