import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import Testing
import ShoalTestSupport

/// `shoal serve --replicas 2` on the tiny model: serves through the router (also under a model alias) to clients
/// with the API key only, survives a SIGKILLed child (restarted and re-admitted), and stops every child on SIGTERM.
@Suite struct LocalClusterTests {
    static let adminKey = "cluster-test-key"
    static let apiKey = "cluster-client-key"
    static let clientHeaders = ["Authorization": "Bearer \(apiKey)"]

    struct HTTPAnswer {
        var status: Int
        var body: Data
        func json() throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        }
    }

    static func request(_ url: String, method: String = "GET", body: [String: Any]? = nil,
                        headers: [String: String] = [:], timeout: TimeInterval = 30) async throws -> HTTPAnswer {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.httpMethod = method
        request.timeoutInterval = timeout
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return HTTPAnswer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }

    /// Starts `shoal serve` with `arguments` on a port the kernel picks (`--port 0 --port-file`) and waits until
    /// `/health` answers 200. - Returns: the process (the caller stops it) and its base URL.
    static func startServer(_ arguments: [String]) async throws -> (process: Process, base: String) {
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("shoal-serve-\(UUID()).port")
        defer { try? FileManager.default.removeItem(at: portFile) }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: ShoalProcess.binary)
        server.arguments = ["serve", "--port", "0", "--port-file", portFile.path] + arguments
        server.standardInput = FileHandle.nullDevice
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        do {
            var port: Int?
            let listening = await waitUntil(seconds: 60) {
                port = (try? String(contentsOf: portFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                return port != nil
            }
            try #require(listening)
            let base = "http://127.0.0.1:\(try #require(port))"
            let up = await waitUntil(seconds: 60) { (try? await request(base + "/health", timeout: 5))?.status == 200 }
            try #require(up)
            return (server, base)
        } catch {
            kill(server.processIdentifier, SIGKILL)
            throw error
        }
    }

    /// Polls `condition` every 100 ms until it holds or `seconds` pass. - Returns: whether it held.
    static func waitUntil(seconds: Double, _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return await condition()
    }

    /// The direct children of `pid`, from /proc/PID/task/*/children.
    static func children(of pid: pid_t) -> Set<pid_t> {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        var result = Set<pid_t>()
        for task in tasks {
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
            for field in text.split(separator: " ") { if let child = pid_t(field) { result.insert(child) } }
        }
        return result
    }

    static func isAlive(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno != ESRCH
    }

    @Test func clusterServesSurvivesAKilledReplicaAndStopsCleanly() async throws {
        let tiny = try TinyModel().writeTemporary()
        let generated = try ShoalProcess.run([
            "generate", "--model", tiny, "--prompt", "hello", "--max-tokens", "8", "--temperature", "0",
            "--ignore-eos", "--json", "--threads", "1", "--precision", "fast",
        ])
        #expect(generated.status == 0, "\(generated.stderr)")
        let expected = try #require(
            try JSONSerialization.jsonObject(with: Data(generated.stdout.utf8)) as? [String: Any])["text"] as? String
        let expectedText = try #require(expected)

        let modelName = URL(fileURLWithPath: tiny).deletingPathExtension().lastPathComponent
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("shoal-cluster-\(UUID()).port")
        defer { try? FileManager.default.removeItem(at: portFile) }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("shoal-cluster-\(UUID()).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: log)
        defer { try? FileManager.default.removeItem(at: log) }
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        let parent = Process()
        parent.executableURL = URL(fileURLWithPath: ShoalProcess.binary)
        parent.arguments = [
            "serve", "--replicas", "2", "--model", tiny, "--port", "0", "--port-file", portFile.path, "--threads", "2",
            "--kv-cache-memory", "8MiB", "--shutdown-timeout", "5", "--alias", "auto=*->\(modelName)",
            "--policy", "least-loaded", "--api-key", Self.apiKey,
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["SHOAL_ROUTER_ADMIN_KEY"] = Self.adminKey
        environment.removeValue(forKey: "SHOAL_API_KEY")
        parent.environment = environment
        parent.standardInput = FileHandle.nullDevice
        parent.standardOutput = logHandle
        parent.standardError = logHandle
        try parent.run()
        var seenChildren = Set<pid_t>()
        defer {
            // Only on failure is anything still running here.
            if parent.isRunning { kill(parent.processIdentifier, SIGKILL) }
            for pid in seenChildren where Self.isAlive(pid) { kill(pid, SIGKILL) }
        }
        let parentPID = parent.processIdentifier
        // The router binds a port of the kernel's choosing and writes it to the port file.
        var port: Int?
        let listening = await Self.waitUntil(seconds: 60) {
            port = (try? String(contentsOf: portFile, encoding: .utf8)).flatMap {
                Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            return port != nil
        }
        try #require(listening, "no port file from the router:\n\(logText())")
        let base = "http://127.0.0.1:\(try #require(port))"

        func complete(model: String? = nil) async throws -> String? {
            var body: [String: Any] = ["prompt": "hello", "max_tokens": 8, "temperature": 0, "ignore_eos": true]
            if let model { body["model"] = model }
            let answer = try await Self.request(base + "/v1/completions", method: "POST", body: body, headers: Self.clientHeaders)
            guard answer.status == 200 else { return nil }
            let choices = try answer.json()["choices"] as? [[String: Any]]
            return choices?.first?["text"] as? String
        }
        func replicaListing() async -> [[String: Any]] {
            guard let answer = try? await Self.request(base + "/admin/replicas", headers: ["Authorization": "Bearer \(Self.adminKey)"]),
                  answer.status == 200 else { return [] }
            return (try? JSONSerialization.jsonObject(with: answer.body) as? [[String: Any]]) ?? []
        }
        func allHealthy(_ count: Int) async -> Bool {
            let listing = await replicaListing()
            return listing.count == count && listing.allSatisfy { $0["healthy"] as? Bool == true }
        }

        // Up: the router answers /health 200 and both replicas are admitted.
        let up = await Self.waitUntil(seconds: 120) {
            guard (try? await Self.request(base + "/health", timeout: 2))?.status == 200 else { return false }
            return await allHealthy(2)
        }
        try #require(up, "cluster never became healthy:\n\(logText())")
        seenChildren = Self.children(of: parentPID)
        #expect(seenChildren.count == 2, "children: \(seenChildren)")
        for _ in 0..<4 { #expect(try await complete() == expectedText) }
        // The alias routes to the model's pool and is listed with it.
        let listed = try await Self.request(base + "/v1/models", headers: Self.clientHeaders).json()["data"] as? [[String: Any]] ?? []
        #expect(Set(listed.compactMap { $0["id"] as? String }) == [modelName, "auto"])
        #expect(try await complete(model: "auto") == expectedText)
        #expect(try await complete(model: modelName) == expectedText)

        // Clients need the key; the replicas take only the router's own key, so they cannot be used around it.
        let noKey = try await Self.request(base + "/v1/completions", method: "POST", body: ["prompt": "hello", "max_tokens": 2])
        #expect(noKey.status == 401)
        #expect(String(decoding: noKey.body, as: UTF8.self).contains("invalid_api_key"))
        let wrongKey = try await Self.request(base + "/v1/models", headers: ["Authorization": "Bearer nope"])
        #expect(wrongKey.status == 401)
        let replicaURL = try #require(await replicaListing().first?["url"] as? String)
        let direct = try await Self.request(replicaURL + "/v1/completions", method: "POST",
                                            body: ["prompt": "hello", "max_tokens": 2], headers: Self.clientHeaders)
        #expect(direct.status == 401)
        #expect(logText().contains("[replica 0] "))
        #expect(logText().contains("[replica 1] "))

        // Kill one replica: requests keep succeeding on the other one.
        let urlsBefore = Set(await replicaListing().compactMap { $0["url"] as? String })
        let victim = try #require(seenChildren.min())
        #expect(kill(victim, SIGKILL) == 0)
        for _ in 0..<4 { #expect(try await complete() == expectedText, "\(logText())") }

        // It comes back: a new child process, re-admitted healthy.
        let back = await Self.waitUntil(seconds: 120) {
            let now = Self.children(of: parentPID)
            guard now.count == 2, !now.contains(victim) else { return false }
            return await allHealthy(2)
        }
        try #require(back, "killed replica was not restarted and re-admitted:\n\(logText())")
        let current = Self.children(of: parentPID)
        seenChildren.formUnion(current)
        #expect(logText().contains("restarting"))
        // It came back on its old port: the same replica to the router, so its metric series go on.
        #expect(Set(await replicaListing().compactMap { $0["url"] as? String }) == urlsBefore)
        for _ in 0..<4 { #expect(try await complete() == expectedText) }

        // SIGTERM: the parent exits 0 and no child is left.
        #expect(kill(parentPID, SIGTERM) == 0)
        let exited = await Self.waitUntil(seconds: 60) { !parent.isRunning }
        try #require(exited, "parent did not exit after SIGTERM:\n\(logText())")
        #expect(parent.terminationReason == .exit)
        #expect(parent.terminationStatus == 0, "\(logText())")
        let gone = await Self.waitUntil(seconds: 10) { current.allSatisfy { !Self.isAlive($0) } }
        #expect(gone, "children still alive: \(current.filter(Self.isAlive))")
        #expect(logText().contains("replica stopped"))
    }
}
