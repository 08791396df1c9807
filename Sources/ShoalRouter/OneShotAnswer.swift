internal import Synchronization

/// A continuation resumed exactly once, by whichever comes first: the answer or a cancellation.
///
/// For bridging work that is not cancellable itself (a blocking lookup on its own thread, a test's scripted reply)
/// into an async call that must return at once when cancelled.
package final class OneShotAnswer<Value: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Value, any Error>?
        var answer: Result<Value, any Error>?
    }

    private let state = Mutex(State())

    package init() {}

    /// Parks `continuation` until `finish`. - Returns: false when the answer came first; the continuation has then
    /// been resumed with it already.
    package func park(_ continuation: CheckedContinuation<Value, any Error>) -> Bool {
        let early = state.withLock { state -> Result<Value, any Error>? in
            if let answer = state.answer { return answer }
            state.continuation = continuation
            return nil
        }
        guard let early else { return true }
        continuation.resume(with: early)
        return false
    }

    /// Records `answer` unless one came before, resuming the parked continuation if there is one.
    /// - Returns: whether a parked continuation was resumed.
    @discardableResult
    package func finish(_ answer: Result<Value, any Error>) -> Bool {
        let continuation = state.withLock { state -> CheckedContinuation<Value, any Error>? in
            guard state.answer == nil else { return nil }
            state.answer = answer
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: answer)
        return continuation != nil
    }
}
