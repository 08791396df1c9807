public import ShoalEngine
internal import ShoalAPI
internal import ShoalTokenizers
internal import Synchronization
internal import Foundation

/// What the HTTP layer serves and whether it admits requests: the engines by model name, the loading and
/// draining flags, and the count of requests in flight (for drain).
///
/// The CLI creates one, may start the server while `isLoading` is set (so /health answers 503), adds the
/// engines when they are ready and clears the flag.
public final class ServerState: Sendable {
    private struct Storage {
        var engines: [String: any InferenceEngine]
        var templates: [String: Result<ChatTemplate, APIError>] = [:]
        var constraints: [String: ConstraintCache] = [:]
        var isLoading: Bool
        var isDraining = false
        var inFlight = 0
        /// Admitted requests by the model they named, once it is known.
        var inFlightByModel: [String: Int] = [:]
        var idleWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var cancelledWaiters: Set<Int> = []
        var nextWaiter = 0
    }

    private let storage: Mutex<Storage>
    /// Unix seconds when the state was made (`created` of the model list).
    public let startTime: Int

    /// - Parameters:
    ///   - engines: model name (as clients send it in `model`) to engine.
    ///   - isLoading: answer 503 until `setLoading(false)`.
    public init(engines: [String: any InferenceEngine] = [:], isLoading: Bool = false) {
        storage = Mutex(Storage(engines: engines, isLoading: isLoading))
        startTime = Int(Date().timeIntervalSince1970)
    }

    /// Serves `engine` under `name` (default: its `modelName`), replacing any engine of that name.
    public func setEngine(_ engine: any InferenceEngine, named name: String? = nil) {
        let name = name ?? engine.modelName
        storage.withLock {
            $0.engines[name] = engine
            $0.templates[name] = nil
            $0.constraints[name] = nil
        }
    }

    /// Sets or clears the loading flag (503 for requests and /health while set).
    public func setLoading(_ loading: Bool) {
        storage.withLock { $0.isLoading = loading }
    }

    public var isLoading: Bool { storage.withLock { $0.isLoading } }
    /// Set once a graceful shutdown began; never cleared.
    public var isDraining: Bool { storage.withLock { $0.isDraining } }
    /// The engines by model name.
    public var engines: [String: any InferenceEngine] { storage.withLock { $0.engines } }
    /// Requests admitted and not yet answered (streams count until their last byte).
    public var inFlightRequests: Int { storage.withLock { $0.inFlight } }

    /// Requests admitted for `model` and not yet answered.
    public func inFlightRequests(model: String) -> Int { storage.withLock { $0.inFlightByModel[model] ?? 0 } }

    /// Stops admitting requests (503) and tells every engine to drain. Running requests continue.
    public func beginDrain() {
        let engines = storage.withLock {
            $0.isDraining = true
            return Array($0.engines.values)
        }
        for engine in engines { engine.beginDrain() }
    }

    // MARK: Admission

    /// Admits a request, or throws the 503 that says why not.
    func admit(retryAfter: Int) throws(APIError) -> RequestTicket {
        let refusal: String? = storage.withLock { s in
            if s.isDraining { return "The server is shutting down" }
            if s.isLoading { return "The server is loading the model" }
            s.inFlight += 1
            return nil
        }
        if let refusal { throw APIError(.unavailable, refusal, retryAfterSeconds: retryAfter) }
        return RequestTicket(state: self)
    }

    fileprivate func assign(model: String) {
        storage.withLock { $0.inFlightByModel[model, default: 0] += 1 }
    }

    fileprivate func endRequest(model: String?) {
        let waiters: [CheckedContinuation<Void, Never>] = storage.withLock { s in
            s.inFlight -= 1
            if let model {
                let left = (s.inFlightByModel[model] ?? 1) - 1
                s.inFlightByModel[model] = left > 0 ? left : nil
            }
            guard s.inFlight == 0 else { return [] }
            defer { s.idleWaiters = [:] }
            return Array(s.idleWaiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once no request is in flight (at once if none is), or when the calling task is cancelled.
    public func waitUntilIdle() async {
        let id = storage.withLock { s in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = storage.withLock { s in
                    if s.inFlight == 0 || s.cancelledWaiters.remove(id) != nil { return true }
                    s.idleWaiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = storage.withLock { s in
                let waiter = s.idleWaiters.removeValue(forKey: id)
                if waiter == nil { s.cancelledWaiters.insert(id) }
                return waiter
            }
            waiter?.resume()
        }
    }

    // MARK: Models

    /// The engine a request's `model` names.
    /// - Throws: 404 `model_not_found` for an unknown name; 400 when `model` is missing and several are served;
    ///   503 when none is loaded yet.
    func engine(for model: String?, retryAfter: Int) throws(APIError) -> (name: String, engine: any InferenceEngine) {
        let engines = self.engines
        guard let model, !model.isEmpty else {
            if engines.count == 1, let only = engines.first { return (only.key, only.value) }
            if engines.isEmpty {
                throw APIError(.unavailable, "No model is loaded yet", retryAfterSeconds: retryAfter)
            }
            throw .invalid("model", "model is required: this server serves \(engines.keys.sorted().joined(separator: ", "))")
        }
        guard let engine = engines[model] else {
            throw APIError(.modelNotFound, "The model `\(model)` does not exist.", param: "model")
        }
        return (model, engine)
    }

    /// The compiled output constraints of a model (`response_format`, `guided_*`, `grammar`).
    func constraintCache(for name: String, engine: any InferenceEngine) -> ConstraintCache {
        storage.withLock { storage in
            if let known = storage.constraints[name] { return known }
            let cache = ConstraintCache(tokenizer: engine.tokenizer)
            storage.constraints[name] = cache
            return cache
        }
    }

    /// The parsed chat template of a model (parsed once).
    /// - Throws: 400 when the model has none, 500 when it does not parse.
    func chatTemplate(for name: String, engine: any InferenceEngine) throws(APIError) -> ChatTemplate {
        if let cached = storage.withLock({ $0.templates[name] }) { return try cached.get() }
        let result: Result<ChatTemplate, APIError>
        if let source = engine.chatTemplate, !source.isEmpty {
            do {
                result = .success(try ChatTemplate(source))
            } catch {
                result = .failure(APIError(.internalError, "The chat template of model `\(name)` does not parse: \(error.message)"))
            }
        } else {
            result = .failure(APIError(.invalidRequest,
                "The model `\(name)` has no chat template, so /v1/chat/completions cannot be used with it; use /v1/completions"))
        }
        storage.withLock { $0.templates[name] = result }
        return try result.get()
    }
}

/// One admitted request; ending it (explicitly or when the last reference goes) lets a drain proceed.
final class RequestTicket: Sendable {
    private let state: ServerState
    private let done = Atomic<Bool>(false)
    private let model = Mutex<String?>(nil)

    fileprivate init(state: ServerState) {
        self.state = state
    }

    /// Counts the request under the model it names (once; later calls do nothing).
    func assign(model name: String) {
        // Counted under the lock, so that a `finish` racing with this sees the model only once it is counted.
        model.withLock { model in
            guard model == nil, !done.load(ordering: .acquiring) else { return }
            model = name
            state.assign(model: name)
        }
    }

    func finish() {
        guard !done.exchange(true, ordering: .acquiringAndReleasing) else { return }
        state.endRequest(model: model.withLock { $0 })
    }

    deinit { finish() }
}
