import ShoalRouter
import Synchronization

/// A resolver the test drives: the first calls return `immediate` answers in turn, every later one waits until
/// the test `reply`s (or the router cancels it). `calls` yields each asked name as a call begins, so a test that
/// sees call n+1 begin knows round n is over.
final class ScriptedResolver: AddressResolver {
    let calls: AsyncStream<String>
    private let started: AsyncStream<String>.Continuation
    private let immediate: Mutex<[Result<[String], any Error>]>
    private let current = Mutex<OneShotAnswer<[String]>?>(nil)

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
        let call = OneShotAnswer<[String]>()
        current.withLock { $0 = call }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if call.park(continuation) { started.yield(name) }
            }
        } onCancel: {
            call.finish(.failure(CancellationError()))
        }
    }

    /// Answers the call in progress. - Returns: whether one was waiting.
    @discardableResult
    func reply(_ answer: Result<[String], any Error>) -> Bool {
        current.withLock { $0 }?.finish(answer) ?? false
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
