import ShoalCommands
import ArgumentParser
import Foundation
import Glibc
import ShoalCluster
import ShoalStore

/// `shoal worker`: holds one share of a model for a leader (`serve`, `generate` or `bench` with
/// `--pipeline-parallel`) and computes it on request.
struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve one share of a model (a pipeline stage, a tensor-parallel rank) to a leader over an authenticated TCP link.",
        discussion: """
            The worker binds its share from the leader's file when that path is readable here (a shared file \
            system), else from a .gguf with the same sha256 in --model-dir, else it asks the leader for just its \
            share, checks it by size and sha256 and keeps it in --shard-dir for the next time.
            """)

    @Option(help: "Address to listen on, HOST:PORT (port 0 lets the kernel pick). Loopback unless told otherwise.")
    var listen: String = "127.0.0.1:0"

    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("api-key"), help: "The link key leaders must prove (default: $SHOAL_WORKER_KEY, else none).")
    var apiKey: String?

    @Option(name: .customLong("port-file"), help: "Write the bound port to this file once listening.")
    var portFile: String?

    @Option(name: .customLong("model-dir"), help: "Folder to look in for the leader's model file by its sha256 (repeatable; default: the model store).")
    var modelDirs: [String] = []

    @Option(name: .customLong("shard-dir"), help: "Folder for the shares received from leaders (default: the first --model-dir's shards/).")
    var shardDir: String?

    @Flag(name: .customLong("ignore-leader-path"), help: "Do not read the leader's model path even when it is readable here: use --model-dir or receive the share.")
    var ignoreLeaderPath = false

    @Flag(name: .customLong("exit-with-parent"), help: .hidden)
    var exitWithParent = false

    func validate() throws {
        _ = try Self.parse(listen: listen)
        if let threads, threads < 1 || threads > 512 { throw ValidationError("--threads must be between 1 and 512") }
        if let portFile { try PortFile.validate(portFile) }
    }

    /// `HOST:PORT` (IPv6 hosts in brackets) as its parts.
    static func parse(listen text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--listen '\(text)' is not HOST:PORT")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ValidationError("--listen '\(text)' has no host") }
        return (host, port)
    }

    func run() throws {
        let (host, port) = try Self.parse(listen: listen)
        let key = apiKey ?? ProcessInfo.processInfo.environment["SHOAL_WORKER_KEY"] ?? ""
        let folders = modelDirs.isEmpty ? [ModelStore().root] : modelDirs
        let server: WorkerServer
        do {
            server = try WorkerServer(
                configuration: .init(host: host, port: port, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount,
                                     key: key, modelFolders: folders, shardFolder: shardDir, useLeaderPath: !ignoreLeaderPath),
                log: { printError("worker: \($0)") })
        } catch {
            throw ValidationError("cannot listen on \(listen): \(error)")
        }
        if let portFile { try Data("\(server.port)\n".utf8).write(to: URL(fileURLWithPath: portFile), options: .atomic) }
        printError("worker: listening on \(host):\(server.port)\(key.isEmpty ? " (no link key)" : "")")
        if exitWithParent {
            let parent = getppid()
            let watchdog = Thread {
                while getppid() == parent { Thread.sleep(forTimeInterval: 0.5) }
                Glibc.exit(0)
            }
            watchdog.start()
        }
        server.run()
    }
}
