import Foundation
package import ShoalAPI

/// The result of one benchmark run in vLLM's terms (`vllm bench serve`): counts, throughputs and the mean,
/// median, standard deviation and chosen percentiles of TTFT, TPOT, ITL and end-to-end latency, under vLLM's
/// field names, so that results of Shoal, vLLM and llama-server runs can be put side by side.
package struct BenchResult: Sendable {
    package var settings: BenchSettings
    /// One per request, in the order the requests were due.
    package var outcomes: [RequestOutcome]
    /// Seconds from the start of the run to the end of its last request.
    package var duration: Double

    package var completed: Int
    package var failed: Int
    /// Prompt tokens of the successful requests (the server's usage, else the dataset's estimate).
    package var totalInputTokens: Int
    /// Output tokens of the successful requests (the server's usage, else the chunks counted).
    package var totalOutputTokens: Int
    /// Good requests per second; nil without objectives.
    package var requestGoodput: Double?
    package var ttft: LatencyStatistics
    /// Over the successful requests with at least two output tokens.
    package var tpot: LatencyStatistics
    /// Over every gap between chunks of every successful request.
    package var itl: LatencyStatistics
    package var e2el: LatencyStatistics

    package init(settings: BenchSettings, outcomes: [RequestOutcome], duration: Double) {
        self.settings = settings
        self.outcomes = outcomes
        self.duration = duration
        let ok = outcomes.filter(\.succeeded)
        completed = ok.count
        failed = outcomes.count - ok.count
        totalInputTokens = ok.reduce(0) { $0 + $1.promptTokens }
        totalOutputTokens = ok.reduce(0) { $0 + $1.outputTokens }
        if let goodput = settings.goodput {
            requestGoodput = Double(ok.filter(goodput.isMet(by:)).count) / Self.positive(duration)
        }
        let percentiles = settings.percentiles
        ttft = LatencyStatistics(seconds: ok.compactMap(\.ttft), percentiles: percentiles)
        tpot = LatencyStatistics(seconds: ok.compactMap(\.tpot), percentiles: percentiles)
        itl = LatencyStatistics(seconds: ok.flatMap(\.itls), percentiles: percentiles)
        e2el = LatencyStatistics(seconds: ok.map(\.latency), percentiles: percentiles)
    }

    private static func positive(_ duration: Double) -> Double { max(duration, 1e-9) }

    package var requestThroughput: Double { Double(completed) / Self.positive(duration) }
    package var outputThroughput: Double { Double(totalOutputTokens) / Self.positive(duration) }
    package var totalTokenThroughput: Double { Double(totalInputTokens + totalOutputTokens) / Self.positive(duration) }

    /// The metrics under vLLM's names, in the order vLLM prints them.
    package static let metricNames = ["ttft", "tpot", "itl", "e2el"]

    private var statistics: [(name: String, values: LatencyStatistics)] {
        [("ttft", ttft), ("tpot", tpot), ("itl", itl), ("e2el", e2el)]
    }

    /// The run's settings and aggregate metrics under vLLM's field names (no per-request arrays).
    package func summary() -> [String: JSONValue] {
        var fields: [String: JSONValue] = [
            "date": .string(settings.date),
            "backend": .string("openai"),
            "endpoint_type": .string("openai"),
            "label": .string(settings.label),
            "model_id": .string(settings.modelID),
            "tokenizer_id": .null,
            "base_url": .string(settings.baseURL),
            "dataset_name": .string(settings.datasetName),
            "seed": .number(Double(settings.seed)),
            "num_prompts": .number(Double(outcomes.count)),
            "request_rate": BenchSettings.json(rate: settings.requestRate),
            "burstiness": settings.burstiness.isFinite ? .number(settings.burstiness) : .string("inf"),
            "max_concurrency": settings.maxConcurrency.map { .number(Double($0)) } ?? .null,
            "duration": .number(duration),
            "completed": .number(Double(completed)),
            "failed": .number(Double(failed)),
            "total_input_tokens": .number(Double(totalInputTokens)),
            "total_output_tokens": .number(Double(totalOutputTokens)),
            "request_throughput": .number(requestThroughput),
            "request_goodput": requestGoodput.map(JSONValue.number) ?? .null,
            "output_throughput": .number(outputThroughput),
            "total_token_throughput": .number(totalTokenThroughput),
            "percentiles": .array(settings.percentiles.map(JSONValue.number)),
        ]
        for (name, values) in statistics {
            fields["mean_\(name)_ms"] = .number(values.mean)
            fields["median_\(name)_ms"] = .number(values.median)
            fields["std_\(name)_ms"] = .number(values.std)
            for (p, value) in values.percentiles {
                fields["\(LatencyStatistics.fieldName(p))_\(name)_ms"] = .number(value)
            }
        }
        return fields
    }

    /// What `--save-result` writes: the summary and vLLM's per-request arrays (`input_lens`, `output_lens`,
    /// `ttfts`, `itls`, `latencies`, `start_times`, `queue_times` in seconds, and `errors`, "" for a success).
    /// A failed request has an output length of 0, a TTFT of 0 and no ITLs, as in vLLM.
    package func savedResult() -> [String: JSONValue] {
        var fields = summary()
        func numbers(_ values: [Double]) -> JSONValue { .array(values.map(JSONValue.number)) }
        fields["input_lens"] = numbers(outcomes.map { Double($0.promptTokens) })
        fields["output_lens"] = numbers(outcomes.map { $0.succeeded ? Double($0.outputTokens) : 0 })
        fields["ttfts"] = numbers(outcomes.map { $0.succeeded ? $0.ttft ?? 0 : 0 })
        fields["itls"] = .array(outcomes.map { $0.succeeded ? numbers($0.itls) : .array([]) })
        fields["latencies"] = numbers(outcomes.map(\.latency))
        fields["start_times"] = numbers(outcomes.map(\.startTime))
        fields["queue_times"] = numbers(outcomes.map(\.queueTime))
        fields["errors"] = .array(outcomes.map { .string($0.error ?? "") })
        return fields
    }

    /// What `bench serve --json` prints: the summary plus the fields it has always printed (`requests_per_second`,
    /// `output_tokens_per_second`, `ttft_seconds: {mean, p50, p90, p99}`, `errors` as a count, ...), which scripts
    /// read.
    package func report() -> [String: JSONValue] {
        var fields = summary()
        let ok = outcomes.filter(\.succeeded)
        func seconds(_ values: [Double]) -> JSONValue {
            let sorted = values.sorted()
            return .object([
                "mean": .number(sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)),
                "p50": .number(LatencyStatistics.percentile(sorted: sorted, 50)),
                "p90": .number(LatencyStatistics.percentile(sorted: sorted, 90)),
                "p99": .number(LatencyStatistics.percentile(sorted: sorted, 99)),
            ])
        }
        fields["url"] = .string(settings.baseURL)
        fields["model"] = .string(settings.modelID)
        fields["concurrency"] = settings.maxConcurrency.map { .number(Double($0)) } ?? .null
        fields["requests"] = .number(Double(outcomes.count))
        fields["errors"] = .number(Double(failed))
        fields["error_samples"] = .array(errorSamples.map(JSONValue.string))
        fields["duration_seconds"] = .number(duration)
        fields["requests_per_second"] = .number(requestThroughput)
        fields["output_tokens"] = .number(Double(totalOutputTokens))
        fields["prompt_tokens"] = .number(Double(totalInputTokens))
        fields["output_tokens_per_second"] = .number(outputThroughput)
        fields["total_tokens_per_second"] = .number(totalTokenThroughput)
        fields["ttft_seconds"] = seconds(ok.compactMap(\.ttft))
        fields["itl_seconds"] = seconds(ok.flatMap(\.itls))
        fields["e2e_seconds"] = seconds(ok.map(\.latency))
        return fields
    }

    /// Up to five distinct errors, each cut to 300 characters.
    package var errorSamples: [String] {
        var seen: Set<String> = []
        var samples: [String] = []
        for error in outcomes.compactMap(\.error) where samples.count < 5 && seen.insert(error).inserted {
            samples.append(String(error.prefix(300)))
        }
        return samples
    }

    /// The report as vLLM prints it.
    package func table() -> String {
        var lines: [String] = []
        func row(_ name: String, _ value: String) {
            lines.append(name.padding(toLength: 40, withPad: " ", startingAt: 0) + " " + value)
        }
        func number(_ value: Double) -> String { String(format: "%.2f", value) }
        func banner(_ title: String, _ fill: Character) -> String {
            let total = 50, left = (total - title.count) / 2
            return String(repeating: fill, count: max(0, left)) + title + String(repeating: fill, count: max(0, total - left - title.count))
        }
        lines.append(banner(" Serving Benchmark Result ", "="))
        row("Server:", settings.baseURL)
        row("Model:", settings.modelID)
        row("Successful requests:", "\(completed)")
        row("Failed requests:", "\(failed)")
        if let cap = settings.maxConcurrency { row("Maximum request concurrency:", "\(cap)") }
        if settings.requestRate.isFinite {
            row("Request rate configured (RPS):", number(settings.requestRate))
            row("Burstiness:", settings.burstiness.isFinite ? number(settings.burstiness) : "inf")
        }
        row("Benchmark duration (s):", number(duration))
        row("Total input tokens:", "\(totalInputTokens)")
        row("Total generated tokens:", "\(totalOutputTokens)")
        row("Request throughput (req/s):", number(requestThroughput))
        if let requestGoodput { row("Request goodput (req/s):", number(requestGoodput)) }
        row("Output token throughput (tok/s):", number(outputThroughput))
        row("Total token throughput (tok/s):", number(totalTokenThroughput))
        let headers = ["ttft": ("TTFT", "Time to First Token"), "tpot": ("TPOT", "Time per Output Token (excl. 1st token)"),
                       "itl": ("ITL", "Inter-token Latency"), "e2el": ("E2EL", "End-to-end Latency")]
        for (name, values) in statistics {
            let (short, long) = headers[name]!
            lines.append(banner(long, "-"))
            row("Mean \(short) (ms):", number(values.mean))
            row("Median \(short) (ms):", number(values.median))
            for (p, value) in values.percentiles {
                row("\(LatencyStatistics.fieldName(p).uppercased()) \(short) (ms):", number(value))
            }
        }
        lines.append(String(repeating: "=", count: 50))
        for sample in errorSamples { lines.append("error: \(sample)") }
        return lines.joined(separator: "\n")
    }

    /// vLLM's default result file name: `<label>-<rate>qps[-concurrency<N>]-<model>-<date>.json`, the model's last
    /// path component only.
    package var defaultFileName: String {
        let model = settings.modelID.split(separator: "/").last.map(String.init) ?? settings.modelID
        let cap = settings.maxConcurrency.map { "-concurrency\($0)" } ?? ""
        return "\(settings.label)-\(BenchSettings.text(rate: settings.requestRate))qps\(cap)-\(model)-\(settings.date).json"
    }
}
