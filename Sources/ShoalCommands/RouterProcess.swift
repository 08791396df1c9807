import NIOCore
import NIOPosix

/// Process-wide set-up of a router process (`shoal route`, `shoal-router`).
public enum RouterProcess {
    /// Runs Swift Concurrency's jobs on NIO's event loops (the singleton group that Hummingbird and
    /// AsyncHTTPClient use) instead of a separate thread pool. A proxied request then moves between the client's
    /// connection, the handler and the replica's connection without a thread switch at each step, which on a
    /// machine whose cores the replicas keep busy costs a scheduling wait every time.
    ///
    /// Call once, from `main`, before any task starts; nothing in the router may block a thread (its one
    /// blocking call, `getaddrinfo`, runs on a thread of its own).
    public static func runTasksOnEventLoops() {
        NIOSingletons.groupLoopCountSuggestion = 1
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
