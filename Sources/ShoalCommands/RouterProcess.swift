import NIOCore
import NIOPosix

/// Process-wide set-up of a router process (`shoal route`, `shoal-router`).
public enum RouterProcess {
    /// Runs Swift Concurrency's jobs on NIO's event loops (the singleton group that Hummingbird and
    /// AsyncHTTPClient use) instead of a separate thread pool. A proxied request then moves between the client's
    /// connection, the handler and the replica's connection without a thread switch at each step, which on a
    /// machine whose cores the replicas keep busy costs a scheduling wait every time.
    ///
    /// `threads` event loops carry everything (`shoal route --threads`, 1 by default): one thread relays hundreds of
    /// streams a second, and with one there is no hand-over between the threads of a request's two connections
    /// (three context switches per proxied stream instead of ten, on a machine whose cores the replicas keep busy).
    ///
    /// Call once, from `main`, before any task starts; nothing in the router may block a thread (its one
    /// blocking call, `getaddrinfo`, runs on a thread of its own).
    public static func runTasksOnEventLoops(threads: Int) {
        NIOSingletons.groupLoopCountSuggestion = threads
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
