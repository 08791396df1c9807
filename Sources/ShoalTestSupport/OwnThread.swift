internal import Foundation

/// Runs `body` on a thread of its own and waits for it without holding a thread of the Swift concurrency pool.
///
/// For long CPU-bound test bodies: run on the pool (two threads on a two-core machine) they starve every other
/// suite's async work for their whole length, and timing-based tests elsewhere (router discovery, engine
/// cancellation) then fail.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = "shoal-test-body"
        thread.start()
    }
}
