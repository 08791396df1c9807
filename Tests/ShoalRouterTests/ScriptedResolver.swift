import ShoalRouter
import Synchronization

/// A resolver the test drives: the first calls return `immediate` answers in turn, every later one waits until
/// the test `reply`s (or the router cancels it). `calls` yields each asked name as a call begins, so a test that
/// sees call n+1 begin knows round n is over.
final class ScriptedResolver: AddressResolver {
    let calls: AsyncStream<String>
    private let started: AsyncStream<String>.Continuation
    private let immediate: Mutex<[Result<[String], any Error>]>
    private let current = Mutex<Call?>(nil)

    init(immediate: [Result<[String], any Error>] = []) {
        (calls, started) = AsyncStream.makeStream()
        self.immediate = Mutex(immediate)
    }

    func addresses(of name: String) async throws -> [String] {
        let answer = immediate.withLock { $0.isEmpty ? nil : $0.removeFirst() }
        if let answer {
            started.yield(name)
            return try answer.get()
        }
        let call = Call()
        current.withLock { $0 = call }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if call.park(continuation) { started.yield(name) }
            }
        } onCancel: {
            _ = call.finish(.failure(CancellationError()))
        }
    }

    /// Answers the call in progress. - Returns: whether one was waiting.
    @discardableResult
    func reply(_ answer: Result<[String], any Error>) -> Bool {
        current.withLock { $0 }?.finish(answer) ?? false
    }

    /// One call's continuation, resumed exactly once.
    private final class Call: Sendable {
        private struct State {
            var continuation: CheckedContinuation<[String], any Error>?
            var answer: Result<[String], any Error>?
        }

        private let state = Mutex(State())

        /// - Returns: false when the call was already finished (cancelled) and has been resumed.
        func park(_ continuation: CheckedContinuation<[String], any Error>) -> Bool {
            let early = state.withLock { state -> Result<[String], any Error>? in
                if let answer = state.answer { return answer }
                state.continuation = continuation
                return nil
            }
            guard let early else { return true }
            continuation.resume(with: early)
            return false
        }

        func finish(_ answer: Result<[String], any Error>) -> Bool {
            let continuation = state.withLock { state -> CheckedContinuation<[String], any Error>? in
                guard state.answer == nil else { return nil }
                state.answer = answer
                defer { state.continuation = nil }
                return state.continuation
            }
            continuation?.resume(with: answer)
            return continuation != nil
        }
    }
}

/// The system resolver, reporting each call as it begins (see `ScriptedResolver.calls`).
final class ObservedResolver: AddressResolver {
    let calls: AsyncStream<String>
    private let started: AsyncStream<String>.Continuation
    private let system = SystemAddressResolver()

    init() {
        (calls, started) = AsyncStream.makeStream()
    }

    func addresses(of name: String) async throws -> [String] {
        started.yield(name)
        return try await system.addresses(of: name)
    }
}
