import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import ShoalEngine

/// A load generator like vLLM's `bench serve`: streams completions from any OpenAI-compatible server at a
/// fixed concurrency and reports throughput and latency percentiles.
struct BenchServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Load-test an OpenAI-compatible server (Shoal, llama-server, vLLM) with streaming completions.")

    @Option(help: "Base URL of the server.")
    var url: String = "http://127.0.0.1:8080"

    @Option(help: "Model name to send (default: the first one /v1/models lists).")
    var model: String?

    @Option(help: "Requests in flight at once.")
    var concurrency: Int = 8

    @Option(help: "Requests in total.")
    var requests: Int = 64

    @Option(name: .customLong("prompt-tokens"), help: "Approximate prompt length in tokens (random words).")
    var promptTokens: Int = 100

    @Option(name: .customLong("shared-prefix-tokens"), help: "A prefix of about this many tokens shared by every prompt (prefix-cache workloads).")
    var sharedPrefixTokens: Int = 0

    @Option(name: .customLong("prefix-groups"), help: "Distinct shared prefixes (users with their own system prompt); each request draws one at random and sends it as `user`.")
    var prefixGroups: Int = 1

    @Option(name: .customLong("max-tokens"), help: "max_tokens of every request.")
    var maxTokens: Int = 64

    @Flag(name: .customLong("ignore-eos"), help: "Ask the server to generate exactly max_tokens.")
    var ignoreEOS = false

    @Option(name: .customLong("response-format"), help: "Constrain every output: json_object (OpenAI's JSON mode).")
    var responseFormat: String?

    @Option(name: .customLong("extra-body"), help: "A JSON object whose fields are added to every request (e.g. {\"guided_json\": {...}}).")
    var extraBody: String?

    @Flag(name: .customLong("fixed-prompt"), help: "Send the same prompt every time instead of random ones.")
    var fixedPrompt = false

    @Option(help: "Sampling temperature.")
    var temperature: Double = 0

    @Option(help: "Seed of the prompt generator.")
    var seed: UInt64 = 1

    @Option(name: .customLong("api-key"), help: "Bearer token to send.")
    var apiKey: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard concurrency >= 1, requests >= 1, promptTokens >= 1, maxTokens >= 1, sharedPrefixTokens >= 0 else {
            throw ValidationError("--concurrency, --requests, --prompt-tokens and --max-tokens must be at least 1")
        }
        guard prefixGroups >= 1 else { throw ValidationError("--prefix-groups must be at least 1") }
        guard URL(string: url)?.host != nil else { throw ValidationError("--url '\(url)' is not a URL") }
        if let extraBody, (try? JSONSerialization.jsonObject(with: Data(extraBody.utf8))) as? [String: Any] == nil {
            throw ValidationError("--extra-body must be a JSON object")
        }
    }

    func run() async throws {
        // One connection per concurrent request: the pool's default of 8 per host made the requests beyond the
        // 8th wait for a connection and fail with getConnectionFromPoolTimeout while the server was busy.
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.connectionPool = .init(idleTimeout: .seconds(60),
                                                   concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, concurrency))
        clientConfiguration.timeout.connect = .seconds(60)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        do {
            try await run(client: client)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func run(client: HTTPClient) async throws {
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let modelName: String
        if let model { modelName = model } else { modelName = try await firstModel(client: client, base: base) }
        var generator = PromptGenerator(seed: seed)
        let shared = (0..<prefixGroups).map { _ in sharedPrefixTokens > 0 ? generator.text(words: sharedPrefixTokens) : "" }
        let fixed = generator.text(words: promptTokens)
        let prompts: [(text: String, user: String?)] = (0..<requests).map { _ in
            let group = prefixGroups > 1 ? generator.index(below: prefixGroups) : 0
            let text = shared[group] + (fixedPrompt ? fixed : generator.text(words: promptTokens))
            return (text, prefixGroups > 1 ? "user-\(group)" : nil)
        }

        let start = ContinuousClock.now
        let results = try await withThrowingTaskGroup(of: RequestResult.self) { group in
            var next = 0
            var results: [RequestResult] = []
            func launch() {
                let prompt = prompts[next]
                next += 1
                group.addTask {
                    await self.stream(client: client, base: base, model: modelName, prompt: prompt.text, user: prompt.user)
                }
            }
            for _ in 0..<min(concurrency, requests) { launch() }
            while let result = try await group.next() {
                results.append(result)
                if next < requests { launch() }
            }
            return results
        }
        let duration = (ContinuousClock.now - start).seconds
        let report = ServeReport(results: results, duration: duration, concurrency: concurrency, model: modelName, url: base)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            report.printTable()
        }
    }

    private func firstModel(client: HTTPClient, base: String) async throws -> String {
        var request = HTTPClientRequest(url: base + "/v1/models")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        let response = try await client.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        struct Models: Decodable { struct Model: Decodable { var id: String }; var data: [Model] }
        guard let first = try? JSONDecoder().decode(Models.self, from: Data(buffer: body)).data.first?.id else {
            throw ValidationError("\(base)/v1/models lists no model; pass --model")
        }
        return first
    }

    /// One streamed request; never throws (a failure is a result).
    private func stream(client: HTTPClient, base: String, model: String, prompt: String, user: String?) async -> RequestResult {
        var result = RequestResult()
        let clock = ContinuousClock()
        let start = clock.now
        do {
            var request = HTTPClientRequest(url: base + "/v1/completions")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            // A fresh connection per request: servers differ in how long they keep idle connections, and a reused
            // connection that the server just closed would count as a failed request.
            request.headers.add(name: "Connection", value: "close")
            if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
            var body: [String: Any] = [
                "model": model, "prompt": prompt, "max_tokens": maxTokens, "temperature": temperature,
                "stream": true, "stream_options": ["include_usage": true],
            ]
            if ignoreEOS { body["ignore_eos"] = true }
            if let user { body["user"] = user }
            if let responseFormat { body["response_format"] = ["type": responseFormat] }
            if let extraBody, let extra = try JSONSerialization.jsonObject(with: Data(extraBody.utf8)) as? [String: Any] {
                body.merge(extra) { _, new in new }
            }
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
            let response = try await client.execute(request, timeout: .seconds(600))
            guard response.status == .ok else {
                let text = try await response.body.collect(upTo: 1 << 16)
                result.error = "HTTP \(response.status.code): \(String(buffer: text).prefix(200))"
                return result
            }
            var pending = Data()
            var last = start
            for try await buffer in response.body {
                pending.append(contentsOf: buffer.readableBytesView)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    guard line.hasPrefix("data:") else { continue }
                    let payload = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
                    if payload == "[DONE]" { continue }
                    guard let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any] else { continue }
                    if let usage = object["usage"] as? [String: Any], let completion = usage["completion_tokens"] as? Int {
                        result.usageCompletionTokens = completion
                        result.promptTokens = usage["prompt_tokens"] as? Int
                    }
                    let choices = object["choices"] as? [[String: Any]] ?? []
                    guard let text = choices.first?["text"] as? String, !text.isEmpty else { continue }
                    let now = clock.now
                    if result.firstTokenSeconds == nil {
                        result.firstTokenSeconds = (now - start).seconds
                    } else {
                        result.interTokenSeconds.append((now - last).seconds)
                    }
                    last = now
                    result.chunks += 1
                }
            }
            result.totalSeconds = (clock.now - start).seconds
            if result.firstTokenSeconds == nil { result.error = "no tokens streamed" }
        } catch {
            result.error = "\(error)"
        }
        return result
    }
}

/// Random prompts of common English words (each about one token in GPT-2-style vocabularies).
struct PromptGenerator {
    static let words = ("the of and to in is that it for as was with be by on not he this are or his from at which but have an they " +
        "you were her she there one all we their been has when who will more no if out so said what up its about into than them can " +
        "only other new some could time these two may then do first any my now such like our over man me even most made after also " +
        "did many before must through back years where much your way well down should because each just those people how too little " +
        "state good very make world still own see men work long get here between both life being under never day same another know " +
        "while last might us great old year off come since against go came right used take three").split(separator: " ").map(String.init)
    private var state: UInt64

    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    private mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }

    /// A number in `0..<bound`.
    mutating func index(below bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }

    /// About `words` tokens of text, each word with its leading space.
    mutating func text(words count: Int) -> String {
        (0..<count).map { _ in " " + Self.words[Int(next() % UInt64(Self.words.count))] }.joined()
    }
}

struct RequestResult: Sendable {
    var firstTokenSeconds: Double?
    var interTokenSeconds: [Double] = []
    var totalSeconds: Double = 0
    var chunks = 0
    var usageCompletionTokens: Int?
    var promptTokens: Int?
    var error: String?
    var outputTokens: Int { usageCompletionTokens ?? chunks }
}

/// Percentiles of a latency series, in seconds.
struct LatencySummary: Encodable {
    var mean: Double
    var p50: Double
    var p90: Double
    var p99: Double

    init(_ values: [Double]) {
        let sorted = values.sorted()
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let rank = p / 100 * Double(sorted.count - 1)
            let lower = Int(rank.rounded(.down)), upper = Int(rank.rounded(.up))
            return sorted[lower] + (sorted[upper] - sorted[lower]) * (rank - Double(lower))
        }
        mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)
        p50 = percentile(50)
        p90 = percentile(90)
        p99 = percentile(99)
    }
}

struct ServeReport: Encodable {
    var url: String
    var model: String
    var concurrency: Int
    var requests: Int
    var completed: Int
    var errors: Int
    var error_samples: [String]
    var duration_seconds: Double
    var requests_per_second: Double
    var output_tokens: Int
    var prompt_tokens: Int
    var output_tokens_per_second: Double
    var total_tokens_per_second: Double
    var ttft_seconds: LatencySummary
    var itl_seconds: LatencySummary
    var e2e_seconds: LatencySummary

    init(results: [RequestResult], duration: Double, concurrency: Int, model: String, url: String) {
        let ok = results.filter { $0.error == nil }
        self.url = url
        self.model = model
        self.concurrency = concurrency
        requests = results.count
        completed = ok.count
        errors = results.count - ok.count
        error_samples = Array(Set(results.compactMap(\.error))).prefix(5).map { String($0.prefix(300)) }
        duration_seconds = duration
        requests_per_second = Double(ok.count) / max(duration, 1e-9)
        output_tokens = ok.reduce(0) { $0 + $1.outputTokens }
        prompt_tokens = ok.reduce(0) { $0 + ($1.promptTokens ?? 0) }
        output_tokens_per_second = Double(output_tokens) / max(duration, 1e-9)
        total_tokens_per_second = Double(output_tokens + prompt_tokens) / max(duration, 1e-9)
        ttft_seconds = LatencySummary(ok.compactMap(\.firstTokenSeconds))
        itl_seconds = LatencySummary(ok.flatMap(\.interTokenSeconds))
        e2e_seconds = LatencySummary(ok.map(\.totalSeconds))
    }

    func printTable() {
        print("url: \(url)  model: \(model)  concurrency: \(concurrency)")
        print(String(format: "requests: %d ok, %d failed in %.2f s (%.2f req/s)", completed, errors, duration_seconds, requests_per_second))
        print(String(format: "tokens: %d prompt, %d output; output %.1f tok/s, total %.1f tok/s",
                     prompt_tokens, output_tokens, output_tokens_per_second, total_tokens_per_second))
        for (name, s) in [("TTFT", ttft_seconds), ("ITL", itl_seconds), ("E2E", e2e_seconds)] {
            print(String(format: "%-5@ mean %8.1f ms  p50 %8.1f ms  p90 %8.1f ms  p99 %8.1f ms", name, s.mean * 1000, s.p50 * 1000, s.p90 * 1000, s.p99 * 1000))
        }
        for sample in error_samples { print("error: \(sample)") }
    }
}
