import ShoalCommands
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
/// The supervisor (a `Service`) starts every child with `--port 0 --port-file F`, so the kernel picks each
/// child's port when it binds (a port picked in advance can be taken by another process before the child binds
/// it). Once F names the port and the child's `/health` answers 200, the child is admitted to the router. A child
/// that exits unexpectedly is removed from the router and restarted (after 0.5 s, doubling to 10 s while it keeps
/// dying before it becomes healthy), and admitted again only after `/health` passes. A restarted child asks for
/// the port it had, so that it comes back as the same replica (the same `replica` label on the router's series,
/// not a new series per port); if that port has been taken meanwhile, the next start lets the kernel pick. On
/// graceful shutdown (after the router, which comes later in the service group, has stopped) every child gets
/// SIGTERM, so it drains, and SIGKILL if it is still running after the shutdown timeout. Children's stdout and
/// stderr go to this process's stderr, each line prefixed `[replica i]`.
struct LocalCluster {
    /// One child: its index and its `shoal` argument list (`--port-file` is added per start).
    struct Child: Sendable {
        var index: Int
        var arguments: [String]
        /// Variables set for the child on top of ours (its API key: kept out of `ps`).
        var environment: [String: String] = [:]
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

    /// Runs the children and the router until SIGTERM or SIGINT; returns once every child has exited.
    /// - Parameter portFile: where to write the router's port once it listens (`--port-file`).
    func run(registry: PrometheusCollectorRegistry, logger: Logger, portFile: String? = nil) async throws {
        let gateway = try RouterGateway(configuration: router, registry: registry, logger: logger,
                                        onListening: PortFile.writer(portFile, logger: logger))
        let portFiles = FileManager.default.temporaryDirectory
            .appendingPathComponent("shoal-cluster-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: portFiles, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: portFiles) }
        let supervisor = ReplicaSupervisor(
            executable: executable, children: children, gateway: gateway, shutdownTimeout: shutdownTimeout,
            portFiles: portFiles.path, logger: logger)
        logger.info("starting local cluster", metadata: [
            "replicas": "\(children.count)", "executable": "\(executable)",
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
    enum Code: Sendable { case childFailed }
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
    /// The directory of the children's port files.
    let portFiles: String
    let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let pids: Mutex<[Int: pid_t]> = Mutex([:])

    init(executable: String, children: [LocalCluster.Child], gateway: RouterGateway, shutdownTimeout: Duration,
         portFiles: String, logger: Logger) {
        self.executable = executable
        self.children = children
        self.gateway = gateway
        self.shutdownTimeout = shutdownTimeout
        self.portFiles = portFiles
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
        let portFile = "\(portFiles)/replica-\(child.index).port"
        var previousPort: Int?
        while !isStopping {
            // The last start's file names a port that may no longer be this child's.
            try? FileManager.default.removeItem(atPath: portFile)
            var arguments = child.arguments
            if let previousPort, let flag = arguments.firstIndex(of: "--port"), flag + 1 < arguments.count {
                arguments[flag + 1] = "\(previousPort)"
            }
            let process = ChildProcess(
                executable: executable, arguments: arguments + ["--port-file", portFile],
                environment: child.environment, prefix: "[replica \(child.index)] ")
            let pid = try process.start()
            pids.withLock { $0[child.index] = pid }
            // A child killed by stopChildren between the check above and start() must not be missed.
            if isStopping { kill(pid, SIGTERM) }
            logger.info("replica started", metadata: ["replica": "\(child.index)", "pid": "\(pid)"])
            let admission = Task {
                await self.admitWhenHealthy(child, portFile: portFile, process: process, client: client)
            }
            let status = await process.exitStatus()
            admission.cancel()
            let (url, admitted) = await admission.value
            pids.withLock { _ = $0.removeValue(forKey: child.index) }
            if let url { _ = try? gateway.removeReplica(url) }
            if isStopping {
                logger.info("replica stopped", metadata: ["replica": "\(child.index)", "status": "\(status)"])
                return
            }
            if admitted {
                backoff = Self.initialBackoff
                failedStarts = 0
                previousPort = url.flatMap { URLComponents(string: $0)?.port }
            } else {
                // Perhaps its old port was taken: let the kernel pick the next one.
                previousPort = nil
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

    /// Waits for the child's port file, then polls its `/health` until it answers 200 and adds it to the router.
    /// - Returns: the child's URL once its port is known, and whether it was admitted (not if it exited, the
    ///   cluster stopped, or the task was cancelled).
    private func admitWhenHealthy(_ child: LocalCluster.Child, portFile: String, process: ChildProcess,
                                  client: HTTPClient) async -> (url: String?, admitted: Bool) {
        var url: String?
        while !Task.isCancelled, !isStopping, process.isRunning {
            guard let known = url ?? PortFile.read(portFile).map({ "http://127.0.0.1:\($0)" }) else {
                try? await Task.sleep(for: .milliseconds(50))
                continue
            }
            url = known
            var request = HTTPClientRequest(url: known + "/health")
            request.method = .GET
            if let response = try? await client.execute(request, timeout: .seconds(2)), response.status == .ok {
                do {
                    try await gateway.addReplica(known)
                    logger.info("replica admitted", metadata: ["replica": "\(child.index)", "url": "\(known)"])
                    return (known, true)
                } catch {
                    logger.debug("replica not admitted yet", metadata: ["replica": "\(child.index)", "error": "\(error)"])
                }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return (url, false)
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
            .merging([ParentWatch.variable: String(getpid())]) { $1 }
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

    /// The process id once started.
    var pid: pid_t { process.processIdentifier }

    /// Asks the process to stop (SIGTERM) if it still runs.
    func terminate() {
        if isRunning { process.terminate() }
    }

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
