/// Runs `operation` and gives up after `limit`: whichever finishes first wins and the other is cancelled.
/// - Returns: the operation's result, or nil when `limit` passed first.
/// - Throws: the operation's error (or a cancellation of the calling task).
func withDeadline<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next() ?? nil
    }
}
