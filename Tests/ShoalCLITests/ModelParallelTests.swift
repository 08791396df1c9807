import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import ShoalTestSupport

/// Model parallelism through the CLI, on a 4-layer tiny model: pipeline stages in worker processes compute
/// exactly what one process computes, tensor-parallel ranks (alone or in each of two stages, over shared memory or
/// the links) the same to float rounding, links prove their key, and a stopped or killed worker fails its requests
/// quickly, turns `/health` to 503, and the group re-forms when the worker is back.
@Suite struct ModelParallelTests {
    static let tinyPath: String = {
        var tiny = TinyModel()
        tiny.layers = 4
        return (try? tiny.writeTemporary()) ?? "/nonexistent"
    }()

    func generate(_ extra: [String], precision: String = "exact") throws -> ShoalProcess.Output {
        try ShoalProcess.run([
            "generate", "--model", Self.tinyPath, "--prompt", "hello world", "--max-tokens", "12", "--temperature", "0",
            "--ignore-eos", "--logprobs", "3", "--json", "--threads", "2", "--precision", precision,
        ] + extra)
    }

    @Test(arguments: ["exact", "fast"], [2, 3])
    func pipelineStagesGenerateExactlyWhatOneProcessDoes(precision: String, stages: Int) throws {
        let alone = try generate([], precision: precision)
        #expect(alone.status == 0, "\(alone.stderr)")
        let split = try generate(["--pipeline-parallel", "\(stages)"], precision: precision)
        #expect(split.status == 0, "\(split.stderr)")
        // Same ids, same text and the same log-probabilities to the last digit.
        #expect(split.stdout == alone.stdout)
        #expect(split.stderr.contains("pipeline stages: "))
    }

    @Test(arguments: ["exact", "fast"], [[], ["--no-shared-memory"], ["--pipeline-parallel", "2"], ["--pipeline-parallel", "2", "--no-shared-memory"]])
    func tensorParallelRanksGenerateWhatOneProcessDoes(precision: String, extra: [String]) throws {
        let alone = try generate([], precision: precision)
        #expect(alone.status == 0, "\(alone.stderr)")
        let split = try generate(["--tensor-parallel", "2"] + extra, precision: precision)
        #expect(split.status == 0, "\(split.stderr)")
        #expect(split.stderr.contains("tensor-parallel ranks: 2"))
        #expect(split.stderr.contains("pipeline stages: 0..<2, 2..<4") == extra.contains("--pipeline-parallel"))
        // Ranks on one host add their partial sums through shared memory unless told not to (with two stages, each
        // stage's two workers report it, stage 0's one).
        let attached = split.stderr.components(separatedBy: "all-reduce through shared memory").count - 1
        #expect(attached == (extra.contains("--no-shared-memory") ? 0 : extra.contains("--pipeline-parallel") ? 3 : 1), "\(split.stderr)")
        // The row-parallel sums are added in another order than in one process: the same ids, and
        // log-probabilities equal to float rounding.
        func tokens(_ output: ShoalProcess.Output) throws -> [[String: Any]] {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
            return try #require(object["tokens"] as? [[String: Any]])
        }
        let a = try tokens(alone), b = try tokens(split)
        #expect(a.count == 12 && b.count == 12)
        for (x, y) in zip(a, b) {
            #expect(x["id"] as? Int == y["id"] as? Int)
            let lx = try #require(x["logprob"] as? Double), ly = try #require(y["logprob"] as? Double)
            #expect(abs(lx - ly) < 1e-3)
        }
    }

    /// Concurrent requests through a two-stage pipeline keep two batches in flight (each with its share of the
    /// sequences), and a long prompt's chunks of 8 follow each other through the stages: every answer must still be
    /// exactly what one process generates for its prompt. On SmolLM2: the
    /// tiny model's random weights have near-ties that batching (another summation order) flips.
    @Test(.enabled(if: RealModel.shouldTest(RealModel.smolLM2)))
    func batchesInFlightThroughAPipelineAnswerAsOneProcessDoes() async throws {
        let model = RealModel.path(RealModel.smolLM2)
        let long = "The river town grew up around a mill, a bridge and a market square, and every spring the water rose "
            + "over the lower streets until the people built a wall of stone along the bank, which still stands today and"
        let prompts = ["hello world", "the cat sat on", "one two three", "a b c d e", "quantized weights", "ok", long]
        var expected: [String] = []
        for prompt in prompts {
            let alone = try ShoalProcess.run([
                "generate", "--model", model, "--prompt", prompt, "--max-tokens", "10", "--temperature", "0",
                "--ignore-eos", "--json", "--threads", "1",
            ])
            #expect(alone.status == 0, "\(alone.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(alone.stdout.utf8)) as? [String: Any])
            expected.append(try #require(object["text"] as? String))
        }
        let (server, base) = try await LocalClusterTests.startServer([
            "--model", model, "--threads", "2", "--pipeline-parallel", "2", "--kv-cache-memory", "32MiB",
            "--precision", "exact", "--long-prefill-threshold", "8",
        ])
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }
        for _ in 0..<2 {
            let texts = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for (index, prompt) in prompts.enumerated() {
                    group.addTask {
                        let answer = try await LocalClusterTests.request(base + "/v1/completions", method: "POST", body: [
                            "prompt": prompt, "max_tokens": 10, "temperature": 0, "ignore_eos": true,
                        ], timeout: 60)
                        return (index, try (answer.json()["choices"] as? [[String: Any]])?.first?["text"] as? String)
                    }
                }
                var texts = [String?](repeating: nil, count: prompts.count)
                for try await (index, text) in group { texts[index] = text }
                return texts
            }
            #expect(texts == expected.map { Optional($0) })
        }
        // /metrics splits the steps' time per process.
        let metrics = String(decoding: try await LocalClusterTests.request(base + "/metrics").body, as: UTF8.self)
        func value(_ series: String, part: String? = nil) -> Double? {
            metrics.split(separator: "\n")
                .first { line in line.hasPrefix(series + "{") && (part.map { line.contains("part=\"\($0)\"") } ?? true) }
                .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
        }
        #expect((value("shoal:model_parallel_steps_total") ?? 0) > 0, "\(metrics)")
        #expect((value("shoal:model_parallel_compute_seconds_total", part: "stage 1") ?? 0) > 0, "the worker's stage computed")
        #expect((value("shoal:model_parallel_compute_seconds_total", part: "stage 0") ?? 0) > 0, "the leader's stage computed")
        #expect(value("shoal:model_parallel_network_seconds_total", part: "stage 1") != nil)
    }

    /// A worker without a copy of the model receives only its share from the leader (a stage's layers, or a rank's
    /// slices of them), checks it, keeps it for the next leader, and computes exactly what a worker with the file does.
    @Test(arguments: [["--pipeline-parallel", "2"], ["--tensor-parallel", "2"]])
    func aWorkerWithoutTheFileReceivesOnlyItsShare(mode: [String]) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("shoal-share-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let log = folder + "/worker.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let worker = Process()
        worker.executableURL = URL(fileURLWithPath: ShoalProcess.binary)
        worker.arguments = ["worker", "--listen", "127.0.0.1:0", "--port-file", folder + "/port", "--threads", "1",
                            "--model-dir", folder + "/models", "--ignore-leader-path"]
        worker.standardInput = FileHandle.nullDevice
        worker.standardOutput = FileHandle.nullDevice
        worker.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try worker.run()
        defer { kill(worker.processIdentifier, SIGKILL) }
        var port: Int?
        let listening = await LocalClusterTests.waitUntil(seconds: 30) {
            port = (try? String(contentsOfFile: folder + "/port", encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            return port != nil
        }
        try #require(listening)
        let workers = ["--workers", "127.0.0.1:\(try #require(port))"]
        let alone = try generate([])
        let first = try generate(mode + workers)
        #expect(first.status == 0, "\(first.stderr)")
        let second = try generate(mode + workers)
        #expect(second.status == 0, "\(second.stderr)")
        if mode.contains("--pipeline-parallel") {
            #expect(first.stdout == alone.stdout)
            #expect(second.stdout == alone.stdout)
        } else {
            // A rank bound from its packaged slices computes on the same bytes as one bound from the whole file.
            let withFile = try generate(mode)
            #expect(withFile.status == 0, "\(withFile.stderr)")
            #expect(first.stdout == withFile.stdout)
            #expect(second.stdout == withFile.stdout)
        }
        // One share, smaller than the model, received once and used again.
        let shares = try FileManager.default.contentsOfDirectory(atPath: folder + "/models/shards").filter { $0.hasSuffix(".gguf") }
        #expect(shares.count == 1, "\(shares)")
        let shareBytes = try #require(try FileManager.default.attributesOfItem(atPath: folder + "/models/shards/" + shares[0])[.size] as? Int)
        let modelBytes = try #require(try FileManager.default.attributesOfItem(atPath: Self.tinyPath)[.size] as? Int)
        // A pipeline stage's layers; a tensor-parallel rank's slices of every layer (and the whole embedding).
        #expect(shareBytes < modelBytes, "\(shareBytes) of \(modelBytes)")
        if mode.contains("--tensor-parallel") { #expect(shares[0].contains("rank1of2"), "\(shares)") }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.components(separatedBy: "received layers").count - 1 == 1, "\(text)")
        #expect(text.contains("using the share received earlier") || text.contains("still holding"), "\(text)")
    }

    @Test func aWorkerRefusesALeaderWithoutItsKey() throws {
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("shoal-worker-\(UUID()).port").path
        defer { try? FileManager.default.removeItem(atPath: portFile) }
        let worker = Process()
        worker.executableURL = URL(fileURLWithPath: ShoalProcess.binary)
        worker.arguments = ["worker", "--listen", "127.0.0.1:0", "--port-file", portFile, "--threads", "1", "--api-key", "right-key"]
        worker.standardInput = FileHandle.nullDevice
        worker.standardOutput = FileHandle.nullDevice
        worker.standardError = FileHandle.nullDevice
        try worker.run()
        defer { kill(worker.processIdentifier, SIGKILL) }
        var port: Int?
        let deadline = ContinuousClock.now + .seconds(30)
        while port == nil, ContinuousClock.now < deadline {
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if port == nil { Thread.sleep(forTimeInterval: 0.05) }
        }
        let endpoint = "127.0.0.1:\(try #require(port))"

        let wrong = try generate(["--pipeline-parallel", "2", "--workers", endpoint, "--worker-key", "wrong-key"])
        #expect(wrong.status != 0)
        #expect(wrong.stdout.isEmpty)
        #expect(wrong.stderr.contains("wrong link key"), "\(wrong.stderr)")

        let alone = try generate([])
        let right = try generate(["--pipeline-parallel", "2", "--workers", endpoint, "--worker-key", "right-key"])
        #expect(right.status == 0, "\(right.stderr)")
        #expect(right.stdout == alone.stdout)

        let count = try generate(["--pipeline-parallel", "3", "--workers", endpoint])
        #expect(count.status != 0)
        #expect(count.stderr.contains("--pipeline-parallel 3 needs 2"), "\(count.stderr)")
    }

    @Test(arguments: [["--pipeline-parallel", "2"], ["--tensor-parallel", "2"], ["--tensor-parallel", "2", "--no-shared-memory"]])
    func aStoppedOrKilledWorkerFailsItsRequestsAndTheGroupReforms(mode: [String]) async throws {
        let reference = try generate([], precision: "fast")
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(reference.stdout.utf8)) as? [String: Any])["text"] as? String

        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("shoal-pp-\(UUID()).port")
        defer { try? FileManager.default.removeItem(at: portFile) }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("shoal-pp-\(UUID()).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: log)
        defer { try? FileManager.default.removeItem(at: log) }
        func logText() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        let server = Process()
        server.executableURL = URL(fileURLWithPath: ShoalProcess.binary)
        server.arguments = [
            "serve", "--model", Self.tinyPath, "--port", "0", "--port-file", portFile.path, "--threads", "2",
            "--step-timeout", "2", "--kv-cache-memory", "8MiB", "--shutdown-timeout", "5",
        ] + mode
        server.standardInput = FileHandle.nullDevice
        server.standardOutput = logHandle
        server.standardError = logHandle
        try server.run()
        var workers = Set<pid_t>()
        defer {
            if server.isRunning { kill(server.processIdentifier, SIGKILL) }
            for pid in workers where LocalClusterTests.isAlive(pid) { kill(pid, SIGCONT); kill(pid, SIGKILL) }
        }
        var port: Int?
        let listening = await LocalClusterTests.waitUntil(seconds: 60) {
            port = (try? String(contentsOf: portFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            return port != nil
        }
        try #require(listening, "no port file:\n\(logText())")
        let base = "http://127.0.0.1:\(try #require(port))"
        func health() async -> Int { (try? await LocalClusterTests.request(base + "/health", timeout: 5))?.status ?? 0 }
        func complete() async throws -> LocalClusterTests.HTTPAnswer {
            try await LocalClusterTests.request(base + "/v1/completions", method: "POST", body: [
                "prompt": "hello world", "max_tokens": 12, "temperature": 0, "ignore_eos": true,
            ], timeout: 30)
        }
        func text(_ answer: LocalClusterTests.HTTPAnswer) throws -> String? {
            try (answer.json()["choices"] as? [[String: Any]])?.first?["text"] as? String
        }
        let up = await LocalClusterTests.waitUntil(seconds: 60) { await health() == 200 }
        try #require(up, "never healthy:\n\(logText())")
        workers = LocalClusterTests.children(of: server.processIdentifier)
        let worker = try #require(workers.first, "no worker process")
        #expect(workers.count == 1)
        #expect(try text(try await complete()) == expected)

        // Stopped: the step times out (2 s), the request fails with an error body, and /health says 503.
        #expect(kill(worker, SIGSTOP) == 0)
        let started = ContinuousClock.now
        let failed = try await complete()
        #expect(failed.status >= 500, "\(String(decoding: failed.body, as: UTF8.self))")
        #expect(try failed.json()["error"] != nil)
        #expect(ContinuousClock.now - started < .seconds(15))
        #expect(await health() == 503)
        // Back: the group re-forms without restarting the leader, and answers as before.
        #expect(kill(worker, SIGCONT) == 0)
        let reformed = await LocalClusterTests.waitUntil(seconds: 60) { await health() == 200 }
        try #require(reformed, "the group did not re-form:\n\(logText())")
        #expect(try text(try await complete()) == expected)
        // The worker kept its share across the dropped link: the group re-formed without reloading it.
        #expect(logText().contains("still holding"), "\(logText())")

        // Killed: its requests fail, the local supervisor restarts it, and the group re-forms.
        #expect(kill(worker, SIGKILL) == 0)
        let afterKill = try await complete()
        if afterKill.status == 200 {
            #expect(try text(afterKill) == expected)
        } else {
            #expect(try afterKill.json()["error"] != nil)
        }
        let restarted = await LocalClusterTests.waitUntil(seconds: 60) {
            let now = LocalClusterTests.children(of: server.processIdentifier)
            guard !now.isEmpty, !now.contains(worker) else { return false }
            return await health() == 200
        }
        try #require(restarted, "the killed worker was not restarted and re-joined:\n\(logText())")
        workers.formUnion(LocalClusterTests.children(of: server.processIdentifier))
        #expect(try text(try await complete()) == expected)
        #expect(logText().contains("restarting"))

        // SIGTERM: the leader exits 0 and takes its workers with it.
        #expect(kill(server.processIdentifier, SIGTERM) == 0)
        let exited = await LocalClusterTests.waitUntil(seconds: 60) { !server.isRunning }
        try #require(exited, "serve did not exit:\n\(logText())")
        #expect(server.terminationStatus == 0, "\(logText())")
        let gone = await LocalClusterTests.waitUntil(seconds: 10) { workers.allSatisfy { !LocalClusterTests.isAlive($0) } }
        #expect(gone)
    }
}
