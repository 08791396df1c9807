internal import Logging
internal import ShoalAPI
internal import ShoalEngine

/// One item of several engine streams merged: each choice yields tokens, then `finished` or `aborted`.
enum ChoiceItem: Sendable {
    case token(choice: Int, GeneratedToken)
    /// `stopToken`: the stop token that ended it (no text, not a `token` item, counted in `usage`).
    case finished(choice: Int, reason: FinishReason, usage: EngineUsage, trailingText: String, stopToken: Int32?)
    /// The stream ended without `finished` (the engine aborted it) or threw.
    case aborted(choice: Int, error: (any Error)?)
}

/// The engine requests of one HTTP request: `prompts.count * n` choices, choice `p * n + i` being the
/// `i`-th sample of prompt `p`.
struct ChoiceStreams: Sendable {
    let streams: [AsyncThrowingStream<EngineEvent, any Error>]
    let submitted: ContinuousClock.Instant

    /// Submits every choice; if one is refused, the streams already made are dropped (which aborts them).
    /// - Parameters:
    ///   - seed: choice `i` of each prompt samples with `seed + i`, so `n` seeded choices differ but repeat.
    /// - Throws: `APIError` mapped from the engine's refusal.
    ///   - logger: the HTTP request's logger (its metadata carry the `request_id`), for the engine's log lines.
    init(engine: any InferenceEngine, requestID: String, prompts: [[Int32]], n: Int, params: SamplingParams,
         priority: Int, retryAfter: Int, logger: Logger) throws(APIError) {
        var streams: [AsyncThrowingStream<EngineEvent, any Error>] = []
        streams.reserveCapacity(prompts.count * n)
        submitted = .now
        for (p, prompt) in prompts.enumerated() {
            for i in 0..<n {
                var choiceParams = params
                if let seed = params.seed { choiceParams.seed = seed &+ UInt64(i) }
                let request = EngineRequest(id: "\(requestID)-\(p * n + i)", promptIDs: prompt, params: choiceParams,
                                            priority: priority, logger: logger)
                do {
                    streams.append(try engine.submit(request))
                } catch let error as EngineError {
                    throw Self.apiError(error, retryAfter: retryAfter)
                } catch {
                    throw APIError(.internalError, "The engine refused the request: \(error)")
                }
            }
        }
        self.streams = streams
    }

    /// The HTTP error for an engine refusal.
    static func apiError(_ error: EngineError, retryAfter: Int) -> APIError {
        // The endpoints check prompts before submitting; a problem the engine still finds maps the same way.
        if let problem = error.problem { return APIError(problem, input: "prompt", param: "prompt") }
        return switch error.code {
        case .queueFull: APIError(.queueFull, "The server is busy (\(error.message)); retry later", retryAfterSeconds: retryAfter)
        case .draining: APIError(.unavailable, "The server is shutting down (\(error.message))", retryAfterSeconds: retryAfter)
        case .contextExceeded: APIError(.contextLengthExceeded, error.message, param: "max_tokens")
        case .invalidPrompt: APIError(.invalidRequest, error.message, param: "prompt")
        default: APIError(.internalError, error.message)
        }
    }

    /// Runs every stream and hands their items to `body` in arrival order, one at a time. Returns when every
    /// stream has ended. If `body` throws or the calling task is cancelled, the streams still running are
    /// cancelled, which aborts their requests in the engine.
    func forEachItem(_ body: (ChoiceItem) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let (items, continuation) = AsyncStream<ChoiceItem?>.makeStream()
            for (choice, stream) in streams.enumerated() {
                group.addTask {
                    var finished = false
                    do {
                        for try await event in stream {
                            switch event {
                            case .token(let token):
                                continuation.yield(.token(choice: choice, token))
                            case .finished(let reason, let usage, let trailingText, let stopToken):
                                finished = true
                                continuation.yield(.finished(choice: choice, reason: reason, usage: usage,
                                                             trailingText: trailingText, stopToken: stopToken))
                            }
                        }
                        if !finished { continuation.yield(.aborted(choice: choice, error: nil)) }
                    } catch {
                        if !finished { continuation.yield(.aborted(choice: choice, error: error)) }
                    }
                    // nil marks the end of one stream.
                    continuation.yield(nil)
                }
            }
            var open = streams.count
            for await item in items {
                guard let item else {
                    open -= 1
                    if open == 0 { break }
                    continue
                }
                try await body(item)
            }
            continuation.finish()
            try Task.checkCancellation()
            group.cancelAll()
        }
    }
}
