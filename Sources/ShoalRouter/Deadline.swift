internal import AsyncHTTPClient
internal import NIOCore

/// Runs `operation` and gives up after `limit`: whichever finishes first wins and the other is cancelled.
/// - Returns: the operation's result, or nil when `limit` passed first.
/// - Throws: the operation's error (or a cancellation of the calling task).
func withDeadline<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await sleepOnEventLoop(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next() ?? nil
    }
}

/// Sleeps on an event loop of the group the router's connections use: every sleep of the router goes through here
/// instead of `Task.sleep`, whose timers fire on dispatch's threads and hand the wake-up to the event loop. A
/// cancelled `Task.sleep` also leaves its timer armed until it would have fired; the router cancels one sleep per
/// proxied request (the first-byte check), so under load those wake-ups cost more than the request itself. A
/// scheduled task that is cancelled is simply dropped.
/// - Throws: `CancellationError` when the calling task is cancelled first.
func sleepOnEventLoop(for duration: Duration) async throws {
    let scheduled = HTTPClient.defaultEventLoopGroup.any().scheduleTask(in: TimeAmount(duration)) {}
    try await withTaskCancellationHandler {
        do {
            try await scheduled.futureResult.get()
        } catch {
            throw CancellationError()
        }
    } onCancel: {
        scheduled.cancel()
    }
}
