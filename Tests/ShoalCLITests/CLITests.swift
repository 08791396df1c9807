import Foundation
import Testing
import ShoalGGUF
import ShoalModels
import ShoalTestSupport

/// The `shoal` command-line contract that scripts and benchmarks depend on, on a tiny model file.
@Suite struct CLITests {
    /// `pull --list` names real files a user can bring for every architecture Shoal runs.
    @Test func theCatalogueNamesFilesForEveryArchitecture() throws {
        let output = try ShoalProcess.run(["pull", "--list"])
        #expect(output.status == 0, "\(output.stderr)")
        let broughtLines = output.stdout.split(separator: "\n").filter { $0.hasPrefix("# ") && $0.contains("\t") }
        for architecture in ModelRegistry.architectures where architecture != "gemma3" {
            #expect(broughtLines.contains { $0.contains("\t\(architecture): ") }, "no file named for \(architecture)")
        }
        #expect(output.stdout.contains("gemma3-270m\t"), "the catalogue itself still comes first")
    }

    static let tinyPath: String = (try? TinyModel().writeTemporary()) ?? "/nonexistent"

    func json(_ text: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try #require(object as? [String: Any])
    }

    @Test func tokenizeJSON() throws {
        let out = try ShoalProcess.run(["tokenize", "--model", Self.tinyPath, "--json", "hello world"])
        #expect(out.status == 0, "\(out.stderr)")
        let ids = try #require(try json(out.stdout)["ids"] as? [Int])
        // The tiny vocabulary's merges: "hello" is one token, " world" is " wor" + "ld".
        #expect(ids == [260, 263, 264])
    }

    @Test func generateJSONShape() throws {
        let out = try ShoalProcess.run([
            "generate", "--model", Self.tinyPath, "--prompt-ids", "10,20,30", "--max-tokens", "5",
            "--temperature", "0", "--logprobs", "3", "--ignore-eos", "--json", "--threads", "1",
        ])
        #expect(out.status == 0, "\(out.stderr)")
        let object = try json(out.stdout)
        #expect(object["prompt_ids"] as? [Int] == [10, 20, 30])
        let tokens = try #require(object["tokens"] as? [[String: Any]])
        #expect(tokens.count == 5)
        for token in tokens {
            #expect(token["id"] is Int)
            #expect(token["text"] is String)
            #expect((token["logprob"] as? Double).map { $0 <= 0 } == true)
            let top = try #require(token["top_logprobs"] as? [[String: Any]])
            #expect(top.count == 3)
            #expect(top.first?["id"] as? Int == token["id"] as? Int)
        }
        #expect(object["finish_reason"] as? String == "length")
        #expect(object["text"] is String)
        #expect(out.stderr.contains("tok/s"))
    }

    @Test func generateStreamsTextAndGreedyIsDeterministic() throws {
        let args = ["generate", "--model", Self.tinyPath, "--prompt", "hello", "--max-tokens", "8", "--temperature", "0", "--ignore-eos"]
        let a = try ShoalProcess.run(args)
        let b = try ShoalProcess.run(args)
        #expect(a.status == 0, "\(a.stderr)")
        #expect(a.stdout == b.stdout)
        let j = try ShoalProcess.run(args + ["--json"])
        #expect(try json(j.stdout)["text"] as? String == String(a.stdout.dropLast()))
    }

    @Test func renderUsesTheChatTemplate() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("shoal-msgs-\(UUID()).json")
        try Data(#"[{"role":"user","content":[{"type":"text","text":"hi"}]}]"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let out = try ShoalProcess.run(["render", "--model", Self.tinyPath, "--messages", file.path])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout == "<user>hi<|end|><assistant>")
    }

    @Test(arguments: [
        (["generate", "--model", "/nonexistent/model.gguf", "--prompt", "x"], "/nonexistent/model.gguf"),
        (["generate", "--model", "no-such-model", "--prompt", "x"], "no-such-model"),
        (["generate", "--prompt", "x", "--chat", "y"], "exactly one"),
        (["generate", "--model", "TINY", "--prompt-ids", "1,x"], "'x'"),
        (["generate", "--model", "TINY", "--prompt-ids", "1,99999"], "99999"),
        (["generate", "--model", "TINY", "--prompt", "x", "--temperature", "-1"], "temperature"),
        (["generate", "--model", "TINY", "--prompt-ids", "1", "--max-tokens", "100000"], "context"),
        (["bench", "--model", "TINY", "--repetitions", "0"], "repetitions"),
        (["generate", "--model", "TINY", "--prompt", "x", "--precision", "half"], "--precision must be exact or fast"),
        (["serve", "--model", "TINY", "--precision", "int4"], "--precision must be exact or fast"),
        (["bench", "kernels", "--samples", "0"], "samples"),
        (["serve", "--model", "TINY", "--port", "0", "--port-file", "/tmp"], "--port-file /tmp is a directory"),
        (["route", "--port", "0", "--port-file", "/nonexistent/dir/port"], "cannot write in /nonexistent/dir"),
    ])
    func badInputGivesAOneLineError(arguments: [String], mentions: String) throws {
        let args = arguments.map { $0 == "TINY" ? Self.tinyPath : $0 }
        let out = try ShoalProcess.run(args, environment: ["SHOAL_HOME": FileManager.default.temporaryDirectory.path + "/shoal-empty-home"])
        #expect(out.status != 0)
        #expect(out.stderr.contains(mentions), "stderr: \(out.stderr)")
        #expect(!out.stderr.contains("Fatal error"))
        #expect(!out.stderr.contains("Backtrac"))
    }

    @Test func corruptModelFileIsRejected() throws {
        var bytes = try TinyModel().serialized()
        bytes.removeLast(bytes.count / 2)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("shoal-truncated-\(UUID()).gguf").path
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let out = try ShoalProcess.run(["generate", "--model", path, "--prompt", "x"])
        #expect(out.status != 0)
        #expect(out.stderr.contains("Error"))
        #expect(!out.stderr.contains("Backtrac"))
    }

    /// `bench serve` against a real server with more concurrent requests than an HTTP client pools by default
    /// (8 a host): every request completes and the report counts them. (The pool's limit made requests fail only
    /// when the server was slow for longer than the client's connect timeout; this model answers too fast for that.)
    @Test func benchServeRunsEveryConcurrentRequest() async throws {
        let (server, base) = try await LocalClusterTests.startServer(["--model", Self.tinyPath, "--threads", "1", "--kv-cache-memory", "8MiB"])
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }
        let out = try ShoalProcess.run(["bench", "serve", "--url", base, "--concurrency", "12", "--requests", "24",
                                        "--prompt-tokens", "16", "--max-tokens", "4", "--ignore-eos", "--json"])
        #expect(out.status == 0, "\(out.stderr)")
        let report = try json(out.stdout)
        #expect(report["errors"] as? Int == 0, "\(report["error_samples"] ?? "")")
        #expect(report["completed"] as? Int == 24)
    }

    /// Options that cannot work together are refused before any request is sent (no server is listening).
    @Test func benchServeRefusesContradictoryOptions() throws {
        let refusals: [([String], String)] = [
            (["--sweep", "concurrency=1,2", "--concurrency", "4"], "both set the concurrency"),
            (["--sweep", "request-rate=1,2", "--request-rate", "4"], "both set the rate"),
            (["--sweep", "threads=1"], "expected concurrency=1,2,4 or request-rate=1,2,4"),
            (["--plot-dir", "plots"], "--plot-dir draws a sweep"),
            (["--dataset-name", "sharegpt"], "needs --dataset-path"),
            (["--dataset-path", "x.json"], "--dataset-path is for --dataset-name sharegpt"),
            (["--goodput", "ttft:fast"], "expected KEY:VALUE"),
            (["--request-rate", "0"], "--request-rate must be a positive number or inf"),
            (["--metric-percentiles", "50,101"], "--metric-percentiles"),
        ]
        for (arguments, message) in refusals {
            let out = try ShoalProcess.run(["bench", "serve", "--url", "http://127.0.0.1:9"] + arguments)
            #expect(out.status != 0, "\(arguments)")
            #expect(out.stderr.contains(message), "\(arguments): \(out.stderr)")
        }
    }

    @Test func benchReportsBothTests() throws {
        let out = try ShoalProcess.run(["bench", "--model", Self.tinyPath, "--prompt-tokens", "32", "--gen-tokens", "8",
                                        "--repetitions", "2", "--json", "--threads", "1"])
        #expect(out.status == 0, "\(out.stderr)")
        let object = try json(out.stdout)
        let pp = try #require(object["prefill_tokens_per_second"] as? [String: Any])
        let tg = try #require(object["decode_tokens_per_second"] as? [String: Any])
        #expect((pp["median"] as? Double ?? 0) > 0)
        #expect((tg["samples"] as? [Double])?.count == 2)
        #expect(object["precision"] as? String == "exact")
    }

    @Test func benchKernelsReportsBothPrecisions() throws {
        let out = try ShoalProcess.run(["bench", "kernels", "--threads", "1", "--samples", "1"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("matmul Q4_1 1536x576 x 8 tokens, fast (int8 activations):"))
        #expect(out.stdout.contains("GFLOP/s"))
    }
}
