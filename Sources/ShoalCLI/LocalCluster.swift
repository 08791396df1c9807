import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Prometheus
import ServiceLifecycle
import ShoalRouter
import Synchronization
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

/// `shoal serve --replicas N`: N child `shoal serve` processes on local ports with the router in front.
///
/// The supervisor (a `Service`) starts every child, admits it to the router once its `/health` answers 200,
/// and restarts a child that exits unexpectedly (after 0.5 s, doubling to 10 s while it keeps dying before
/// it becomes healthy) on the same port; the router gets it back only after `/health` passes again. On
/// graceful shutdown (after the router, which comes later in the service group, has stopped) every child gets
/// SIGTERM, so it drains, and SIGKILL if it is still running after the shutdown timeout. Children's stdout and
/// stderr go to this process's stderr, each line prefixed `[replica i]`.
struct LocalCluster {
    /// One child: its index, local port and full `shoal` argument list.
    struct Child: Sendable {
        var index: Int
        var port: Int
        var arguments: [String]
        /// Variables set for the child on top of ours (its API key: kept out of `ps`).
        var environment: [String: String] = [:]
        var url: String { "http://127.0.0.1:\(port)" }
    }

    let executable: String
    let children: [Child]
    let router: RouterConfiguration
    let shutdownTimeout: Duration

    /// The absolute path of the running `shoal` binary (`/proc/self/exe`, else `CommandLine.arguments[0]`).
    static func currentExecutable() -> String {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
           FileManager.default.isExecutableFile(atPath: resolved) {
            return resolved
        }
        let argument = CommandLine.arguments[0]
        if argument.hasPrefix("/") { return argument }
        if argument.contains("/") {
            return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(argument)
                .standardizedFileURL.path
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(directory)/\(argument)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return argument
    }

    /// A port on 127.0.0.1 that was free a moment ago (the kernel picks it; the socket is closed again).
    static func freeLocalPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LocalClusterError(.noFreePort, "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard bound else { throw LocalClusterError(.noFreePort, "could not bind 127.0.0.1:0: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs the children and the router until SIGTERM or SIGINT; returns once every child has exited.
    func run(registry: PrometheusCollectorRegistry, logger: Logger) async throws {
        let gateway = try RouterGateway(configuration: router, registry: registry, logger: logger)
        let supervisor = ReplicaSupervisor(
            executable: executable, children: children, gateway: gateway, shutdownTimeout: shutdownTimeout,
            logger: logger)
        logger.info("starting local cluster", metadata: [
            "replicas": "\(children.count)", "ports": "\(children.map(\.port))", "executable": "\(executable)",
        ])
        // Shutdown runs in reverse order: the router stops first, then the supervisor stops the children.
        // The router may return as soon as shutdown begins; that is a normal end, not a failure of the group.
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: supervisor),
                .init(service: gateway, successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            supervisor.killAll()
            await gateway.shutdown()
            throw error
        }
        await gateway.shutdown()
    }
}

/// An error of the local cluster.
struct LocalClusterError: Error, CustomStringConvertible {
    enum Code: Sendable { case noFreePort, childFailed }
    let code: Code
    let message: String
    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    var description: String { message }
}

/// Starts, watches, restarts and stops the children of a local cluster.
final class ReplicaSupervisor: Service, Sendable {
    /// Children that die this many times in a row before ever becoming healthy make the cluster give up.
    static let maxFailedStarts = 5
    static let initialBackoff: Duration = .milliseconds(500)
    static let maxBackoff: Duration = .seconds(10)

    let executable: String
    let children: [LocalCluster.Child]
    let gateway: RouterGateway
    let shutdownTimeout: Duration
    let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let pids: Mutex<[Int: pid_t]> = Mutex([:])

    init(executable: String, children: [LocalCluster.Child], gateway: RouterGateway, shutdownTimeout: Duration,
         logger: Logger) {
        self.executable = executable
        self.children = children
        self.gateway = gateway
        self.shutdownTimeout = shutdownTimeout
        self.logger = logger
    }

    func run() async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for child in children {
                    group.addTask { try await self.supervise(child, client: client) }
                }
                group.addTask {
                    // Returns once the router has stopped (it comes later in the service group).
                    try? await gracefulShutdown()
                    await self.stopChildren()
                }
                try await group.waitForAll()
            }
        } catch {
            killAll()
            try? await client.shutdown()
            throw error
        }
        try? await client.shutdown()
    }

    /// SIGTERM to every child, then SIGKILL to those still running after the shutdown timeout.
    private func stopChildren() async {
        stopping.store(true, ordering: .sequentiallyConsistent)
        let running = pids.withLock { $0 }
        logger.info("stopping replicas", metadata: ["pids": "\(running.values.sorted())"])
        for pid in running.values { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + shutdownTimeout + .seconds(1)
        while ContinuousClock.now < deadline, !pids.withLock({ $0.isEmpty }) {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let left = pids.withLock { $0 }
        if !left.isEmpty {
            logger.warning("replicas still running after the shutdown timeout; killing", metadata: ["pids": "\(left.values.sorted())"])
            for pid in left.values { kill(pid, SIGKILL) }
        }
    }

    /// SIGKILL to every child at once (the cluster is failing).
    func killAll() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        for pid in pids.withLock({ $0.values }) { kill(pid, SIGKILL) }
    }

    private var isStopping: Bool { stopping.load(ordering: .sequentiallyConsistent) }

    /// Keeps one child running until the cluster stops.
    private func supervise(_ child: LocalCluster.Child, client: HTTPClient) async throws {
        var backoff = Self.initialBackoff
        var failedStarts = 0
        while !isStopping {
            let process = ChildProcess(
                executable: executable, arguments: child.arguments, environment: child.environment,
                prefix: "[replica \(child.index)] ")
            let pid = try process.start()
            pids.withLock { $0[child.index] = pid }
            // A child killed by stopChildren between the check above and start() must not be missed.
            if isStopping { kill(pid, SIGTERM) }
            logger.info("replica started", metadata: ["replica": "\(child.index)", "pid": "\(pid)", "url": "\(child.url)"])
            let admission = Task { await self.admitWhenHealthy(child, process: process, client: client) }
            let status = await process.exitStatus()
            admission.cancel()
            let admitted = await admission.value
            pids.withLock { _ = $0.removeValue(forKey: child.index) }
            _ = try? gateway.removeReplica(child.url)
            if isStopping {
                logger.info("replica stopped", metadata: ["replica": "\(child.index)", "status": "\(status)"])
                return
            }
            if admitted {
                backoff = Self.initialBackoff
                failedStarts = 0
            } else {
                failedStarts += 1
                guard failedStarts < Self.maxFailedStarts else {
                    throw LocalClusterError(.childFailed, "replica \(child.index) exited \(failedStarts) times before "
                                            + "becoming healthy (last status \(status)); see its log above")
                }
            }
            logger.warning("replica exited unexpectedly; restarting", metadata: [
                "replica": "\(child.index)", "status": "\(status)", "backoff": "\(backoff)",
            ])
            let delay = backoff
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
            backoff = min(backoff * 2, Self.maxBackoff)
        }
    }

    /// Polls the child's `/health` until it answers 200, then adds it to the router.
    /// - Returns: whether it was admitted (false if it exited, the cluster stopped, or the task was cancelled).
    private func admitWhenHealthy(_ child: LocalCluster.Child, process: ChildProcess, client: HTTPClient) async -> Bool {
        while !Task.isCancelled, !isStopping, process.isRunning {
            var request = HTTPClientRequest(url: child.url + "/health")
            request.method = .GET
            if let response = try? await client.execute(request, timeout: .seconds(2)), response.status == .ok {
                do {
                    try await gateway.addReplica(child.url)
                    logger.info("replica admitted", metadata: ["replica": "\(child.index)", "url": "\(child.url)"])
                    return true
                } catch {
                    logger.debug("replica not admitted yet", metadata: ["replica": "\(child.index)", "error": "\(error)"])
                }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return false
    }
}

/// A child process whose output is copied to our stderr line by line with a prefix.
final class ChildProcess: @unchecked Sendable {
    private let process = Process()
    private let pipe = Pipe()
    private let prefix: String
    private let lock = Mutex<(buffer: Data, status: Int32?, waiters: [CheckedContinuation<Int32, Never>])>(
        (Data(), nil, []))

    init(executable: String, arguments: [String], environment: [String: String] = [:], prefix: String) {
        self.prefix = prefix
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = pipe
        process.standardError = pipe
    }

    /// Starts the process. - Returns: its pid. - Throws: if it cannot be started.
    func start() throws -> pid_t {
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                flush(final: true)
            } else {
                lock.withLock { $0.buffer.append(data) }
                flush(final: false)
            }
        }
        process.terminationHandler = { [self] process in
            // A signal's number is reported as negative, so logs read "status=-9" for SIGKILL.
            let status = process.terminationReason == .uncaughtSignal ? -process.terminationStatus : process.terminationStatus
            let waiters = lock.withLock { state in
                state.status = status
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: status) }
        }
        try process.run()
        return process.processIdentifier
    }

    var isRunning: Bool { lock.withLock { $0.status == nil } }

    /// Waits for the process to exit. - Returns: its exit status, or minus the signal that ended it.
    func exitStatus() async -> Int32 {
        await withCheckedContinuation { continuation in
            let done: Int32? = lock.withLock { state in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    /// Writes the complete lines buffered so far (and the rest, at the end) to stderr with the prefix.
    private func flush(final: Bool) {
        let text: Data = lock.withLock { state in
            var out = Data()
            while let newline = state.buffer.firstIndex(of: UInt8(ascii: "\n")) {
                out.append(contentsOf: prefix.utf8)
                out.append(state.buffer[state.buffer.startIndex...newline])
                state.buffer.removeSubrange(state.buffer.startIndex...newline)
            }
            if final, !state.buffer.isEmpty {
                out.append(contentsOf: prefix.utf8)
                out.append(state.buffer)
                out.append(UInt8(ascii: "\n"))
                state.buffer.removeAll()
            }
            return out
        }
        if !text.isEmpty { FileHandle.standardError.write(text) }
    }
}
