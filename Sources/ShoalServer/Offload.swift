internal import Dispatch

/// CPU work of a request handler (tokenizing a long prompt, rendering a template, compiling a grammar) runs on a
/// Dispatch queue rather than on Swift's cooperative pool, which the HTTP server and every other request share:
/// a 100k-token prompt must not stall other clients' streams.
enum Offload {
    private static let queue = DispatchQueue(label: "shoal.request-cpu", qos: .userInitiated, attributes: .concurrent)

    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do { continuation.resume(returning: try work()) } catch { continuation.resume(throwing: error) }
            }
        }
    }
}
