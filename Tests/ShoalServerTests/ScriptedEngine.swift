import ShoalEngine
import ShoalGGUF
import ShoalTestSupport
import ShoalTokenizers
import Synchronization

/// The tiny test model's tokenizer and chat template, loaded once from its GGUF bytes.
enum TinyFixture {
    private static let loaded = Result { () throws -> (any Tokenizer, String?) in
        let file = try GGUFFile(bytes: TinyModel().serialized())
        return (try loadTokenizer(from: file), try file.optionalString("tokenizer.chat_template"))
    }

    static func tokenizer() throws -> any Tokenizer { try loaded.get().0 }
    static func chatTemplate() throws -> String? { try loaded.get().1 }
}

/// Opens once; waiters return when it opens or when their task is cancelled.
final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var cancelled: Set<Int> = []
        var next = 0
    }
    private let state = Mutex(State())

    func open() {
        let waiters = state.withLock { s in
            s.isOpen = true
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        let id = state.withLock { s in
            s.next += 1
            return s.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s in
                    if s.isOpen || s.cancelled.remove(id) != nil { return true }
                    s.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s in
                let waiter = s.waiters.removeValue(forKey: id)
                if waiter == nil { s.cancelled.insert(id) }
                return waiter
            }
            waiter?.resume()
        }
    }
}

/// An `InferenceEngine` that answers every request with scripted text, token by token, through a real
/// tokenizer. It honours cancellation like the real engine: ending a stream early is recorded as an abort.
final class ScriptedEngine: InferenceEngine {
    /// The queue time every scripted request reports (a binary fraction, so sums compare exactly).
    static let scriptedQueueSeconds = 0.25
    /// What to answer a request with.
    struct Reply: Sendable {
        var text: String
        /// Stop after this many tokens until `release()` (or until the stream is cancelled).
        var holdAfter: Int?
        var cachedTokens = 0
    }

    struct Log: Sendable {
        var submitted: [EngineRequest] = []
        var aborted: [String] = []
        var completed: [String] = []
    }

    let modelName: String
    let tokenizer: any Tokenizer
    let chatTemplate: String?
    let contextLength: Int
    private let reply: @Sendable (EngineRequest) -> Reply
    private let state = Mutex<(log: Log, stats: EngineStats, refuse: (@Sendable (Int) -> EngineError?)?, submits: Int)>(
        (Log(), EngineStats(), nil, 0))
    private let gate = Gate()
    /// Ids of aborted requests, as they happen.
    let aborts: AsyncStream<String>
    private let abortContinuation: AsyncStream<String>.Continuation
    /// Ids of requests that reached their hold point.
    let held: AsyncStream<String>
    private let heldContinuation: AsyncStream<String>.Continuation
    /// Yields when `beginDrain` is called.
    let drains: AsyncStream<Void>
    private let drainContinuation: AsyncStream<Void>.Continuation

    init(name: String = "tiny", withChatTemplate: Bool = true, contextLength: Int = 256,
         reply: @escaping @Sendable (EngineRequest) -> Reply = { _ in Reply(text: "hello world") }) throws {
        modelName = name
        tokenizer = try TinyFixture.tokenizer()
        chatTemplate = withChatTemplate ? try TinyFixture.chatTemplate() : nil
        self.contextLength = contextLength
        self.reply = reply
        (aborts, abortContinuation) = AsyncStream.makeStream()
        (held, heldContinuation) = AsyncStream.makeStream()
        (drains, drainContinuation) = AsyncStream.makeStream()
    }

    var log: Log { state.withLock { $0.log } }

    /// Lets held requests continue.
    func release() { gate.open() }

    /// `refuse(k)` decides whether the k-th submit (from 0) throws.
    func refuse(_ decide: (@Sendable (Int) -> EngineError?)?) {
        state.withLock { $0.refuse = decide }
    }

    func setStepSeconds(_ seconds: Double?) {
        state.withLock { $0.stats.currentStepSeconds = seconds }
    }

    func setKVUsage(_ usage: Double) {
        state.withLock { $0.stats.kvCacheUsage = usage }
    }

    func stats() -> EngineStats { state.withLock { $0.stats } }

    func beginDrain() {
        state.withLock { $0.stats.isDraining = true }
        drainContinuation.yield()
    }

    func submit(_ request: EngineRequest) throws -> AsyncThrowingStream<EngineEvent, any Error> {
        let refusal: EngineError? = state.withLock { s in
            defer { s.submits += 1 }
            if s.stats.isDraining { return EngineError(.draining, "draining") }
            return s.refuse?(s.submits)
        }
        if let refusal { throw refusal }
        state.withLock { s in
            s.log.submitted.append(request)
            s.stats.running += 1
            s.stats.promptTokens += request.promptIDs.count
        }
        let reply = reply(request)
        let (stream, continuation) = AsyncThrowingStream<EngineEvent, any Error>.makeStream()
        let producer = Task { await self.produce(request, reply, continuation) }
        continuation.onTermination = { termination in
            producer.cancel()
            self.state.withLock { s in
                s.stats.running -= 1
                if case .cancelled = termination { s.log.aborted.append(request.id) }
            }
            if case .cancelled = termination { self.abortContinuation.yield(request.id) }
        }
        return stream
    }

    private func produce(_ request: EngineRequest, _ reply: Reply,
                         _ continuation: AsyncThrowingStream<EngineEvent, any Error>.Continuation) async {
        let ids = tokenizer.encode(reply.text, addSpecial: false, parseSpecial: false)
        let params = request.params
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        var emitted = 0
        for id in ids.prefix(params.maxTokens) {
            if reply.holdAfter == emitted {
                heldContinuation.yield(request.id)
                await gate.wait()
            }
            if Task.isCancelled { return }
            let top = (0..<(params.logprobs ?? 0)).map {
                TokenLogprob(id: (id + Int32($0)) % Int32(tokenizer.vocabularySize), logprob: -0.5 - Float($0))
            }
            let token = GeneratedToken(id: id, text: detokenizer.append(id), logprob: -0.5, topLogprobs: top)
            state.withLock { $0.stats.generationTokens += 1 }
            continuation.yield(.token(token))
            emitted += 1
            await Task.yield()
        }
        let reason: FinishReason = ids.count > params.maxTokens ? .length : .stop
        state.withLock { s in
            s.log.completed.append(request.id)
            s.stats.steps += 1
        }
        continuation.yield(.finished(
            reason: reason,
            usage: EngineUsage(promptTokens: request.promptIDs.count, completionTokens: emitted,
                               cachedTokens: reply.cachedTokens, queueSeconds: Self.scriptedQueueSeconds),
            trailingText: detokenizer.finish(), stopToken: nil))
        continuation.finish()
    }
}
