import Foundation
import ShoalAPI
import ShoalBench
import Testing

@Suite struct BenchResultTests {
    /// Three successes (one without usage, one of a single token) and a failure, over 2 s.
    static let outcomes = [
        RequestOutcome(ttft: 0.1, itls: [0.02, 0.03], latency: 0.2, chunks: 3, usageCompletionTokens: 3, usagePromptTokens: 10),
        RequestOutcome(ttft: 0.3, itls: [0.04], latency: 0.5, chunks: 2, estimatedPromptTokens: 7),
        RequestOutcome(ttft: 0.2, latency: 0.2, chunks: 1, usageCompletionTokens: 1, usagePromptTokens: 5),
        RequestOutcome(latency: 0.05, estimatedPromptTokens: 4, error: "HTTP 500: overloaded"),
    ]

    static func result(percentiles: [Double] = [50, 90, 99], goodput: GoodputObjectives? = nil,
                       rate: Double = .infinity, cap: Int? = 4) -> BenchResult {
        BenchResult(settings: BenchSettings(modelID: "org/SmolLM2", baseURL: "http://127.0.0.1:1", requestRate: rate,
                                            maxConcurrency: cap, percentiles: percentiles, goodput: goodput, date: "20250101-000000"),
                    outcomes: outcomes, duration: 2)
    }

    static func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-9 }

    @Test func percentilesInterpolateLikeNumpy() {
        let sorted = [1.0, 2, 3, 4]
        #expect(Self.close(LatencyStatistics.percentile(sorted: sorted, 50), 2.5))
        #expect(Self.close(LatencyStatistics.percentile(sorted: sorted, 90), 3.7))
        #expect(Self.close(LatencyStatistics.percentile(sorted: sorted, 0), 1))
        #expect(Self.close(LatencyStatistics.percentile(sorted: sorted, 100), 4))
        #expect(LatencyStatistics.percentile(sorted: [], 99) == 0)
        let stats = LatencyStatistics(seconds: [0.004, 0.001, 0.003, 0.002], percentiles: [25, 99.9])
        #expect(Self.close(stats.mean, 2.5) && Self.close(stats.median, 2.5))
        #expect(Self.close(stats.std, (1.25 as Double).squareRoot()), "population standard deviation, as numpy's default")
        #expect(Self.close(stats.value(at: 25)!, 1.75))
        #expect(LatencyStatistics.fieldName(99) == "p99" && LatencyStatistics.fieldName(99.9) == "p99.9")
    }

    @Test func tpotLeavesOutTheFirstToken() {
        #expect(Self.close(Self.outcomes[0].tpot!, 0.05))
        #expect(Self.close(Self.outcomes[1].tpot!, 0.2), "chunks stand in for tokens without usage")
        #expect(Self.outcomes[2].tpot == nil, "one output token has no TPOT")
        #expect(Self.outcomes[0].outputTokens == 3 && Self.outcomes[1].outputTokens == 2)
        #expect(Self.outcomes[1].promptTokens == 7 && Self.outcomes[0].promptTokens == 10)
    }

    @Test func countsThroughputsAndStatistics() {
        let result = Self.result()
        #expect(result.completed == 3 && result.failed == 1)
        #expect(result.totalInputTokens == 22 && result.totalOutputTokens == 6)
        #expect(Self.close(result.requestThroughput, 1.5) && Self.close(result.outputThroughput, 3) && Self.close(result.totalTokenThroughput, 14))
        #expect(Self.close(result.ttft.mean, 200) && Self.close(result.ttft.median, 200))
        #expect(Self.close(result.ttft.std, (0.02 / 3).squareRoot() * 1000))
        #expect(Self.close(result.ttft.value(at: 90)!, 280) && Self.close(result.ttft.value(at: 99)!, 298))
        #expect(Self.close(result.tpot.mean, 125) && Self.close(result.tpot.std, 75) && Self.close(result.tpot.value(at: 99)!, 198.5))
        #expect(Self.close(result.itl.mean, 30) && Self.close(result.itl.median, 30))
        #expect(Self.close(result.e2el.mean, 300) && Self.close(result.e2el.median, 200))
        #expect(result.requestGoodput == nil)
    }

    @Test func goodputCountsRequestsThatMeetEveryObjective() throws {
        let both = try GoodputObjectives(parsing: ["ttft:250", "tpot:100"])
        #expect(both == GoodputObjectives(ttft: 250, tpot: 100))
        // The first and the third (a one-token request's TPOT counts as 0) meet both; the second is too slow to start.
        #expect(Self.close(Self.result(goodput: both).requestGoodput!, 1.0))
        #expect(Self.result(goodput: GoodputObjectives(e2el: 150)).requestGoodput == 0)
        #expect(Self.close(Self.result(goodput: GoodputObjectives(e2el: 500)).requestGoodput!, 1.5), "at the objective counts as met")
        for bad in ["ttft", "ttft:abc", "latency:5", "tpot:-1", "ttft:1:2"] {
            #expect(throws: GoodputObjectives.ParseError.self) { try GoodputObjectives(parsing: [bad]) }
        }
    }

    @Test func theSummaryHasVLLMsFieldNames() throws {
        let summary = Self.result(percentiles: [50, 99.9], goodput: GoodputObjectives(ttft: 250)).summary()
        var expected: Set<String> = [
            "date", "backend", "endpoint_type", "label", "model_id", "tokenizer_id", "base_url", "dataset_name", "seed",
            "num_prompts", "request_rate", "burstiness", "max_concurrency", "duration", "completed", "failed",
            "total_input_tokens", "total_output_tokens", "request_throughput", "request_goodput", "output_throughput",
            "total_token_throughput", "percentiles",
        ]
        for metric in ["ttft", "tpot", "itl", "e2el"] {
            expected.formUnion(["mean_\(metric)_ms", "median_\(metric)_ms", "std_\(metric)_ms", "p50_\(metric)_ms", "p99.9_\(metric)_ms"])
        }
        #expect(Set(summary.keys) == expected)
        #expect(summary["request_rate"] == .string("inf"))
        #expect(summary["max_concurrency"] == .number(4))
        #expect(summary["completed"] == .number(3))
        #expect(Self.result(rate: 20, cap: nil).summary()["request_rate"] == .number(20))
        #expect(Self.result(cap: nil).summary()["max_concurrency"] == .null)
        #expect(Self.result().summary()["request_goodput"] == .null)
    }

    @Test func theSavedResultHasVLLMsPerRequestArrays() throws {
        let saved = Self.result().savedResult()
        #expect(saved["input_lens"] == .array([10, 7, 5, 4].map { .number($0) }))
        #expect(saved["output_lens"] == .array([3, 2, 1, 0].map { .number($0) }))
        #expect(saved["ttfts"] == .array([0.1, 0.3, 0.2, 0].map { .number($0) }))
        #expect(saved["itls"] == .array([[0.02, 0.03], [0.04], [], []].map { .array($0.map { .number($0) }) }))
        #expect(saved["errors"] == .array(["", "", "", "HTTP 500: overloaded"].map { .string($0) }))
        for key in ["latencies", "start_times", "queue_times"] {
            #expect(saved[key].map { if case .array(let items) = $0 { items.count } else { 0 } } == 4, "\(key)")
        }
        // It is valid JSON that Python reads back (an infinite rate is the string "inf", as vLLM writes it).
        let text = try JSONValue.object(saved).text(pretty: false)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["request_rate"] as? String == "inf")
        #expect(object["p99_ttft_ms"] as? Double != nil)
    }

    @Test func theJSONReportKeepsTheFieldsScriptsRead() {
        let report = Self.result().report()
        for key in ["url", "model", "concurrency", "requests", "completed", "errors", "error_samples", "duration_seconds",
                    "requests_per_second", "output_tokens", "prompt_tokens", "output_tokens_per_second", "total_tokens_per_second",
                    "ttft_seconds", "itl_seconds", "e2e_seconds", "mean_tpot_ms", "p99_itl_ms"] {
            #expect(report[key] != nil, "\(key)")
        }
        #expect(report["errors"] == .number(1))
        #expect(report["error_samples"] == .array([.string("HTTP 500: overloaded")]))
        #expect(report["requests_per_second"] == .number(1.5))
        guard case .number(let p50)? = report["ttft_seconds"]?["p50"] else { Issue.record("ttft_seconds.p50"); return }
        #expect(Self.close(p50, 0.2))
    }

    @Test func fileNamesFollowVLLM() throws {
        #expect(Self.result(rate: 20).defaultFileName == "shoal-20.0qps-concurrency4-SmolLM2-20250101-000000.json")
        #expect(Self.result(rate: .infinity, cap: nil).defaultFileName == "shoal-infqps-SmolLM2-20250101-000000.json")
        let sweep = try BenchSweep(parsing: "concurrency=1,2")
        #expect(sweep.defaultFileName(settings: Self.result().settings) == "shoal-sweep-concurrency-SmolLM2-20250101-000000.json")
    }

    @Test func sweepsParseAndKeepEveryLevel() throws {
        #expect(try BenchSweep(parsing: "concurrency=1,2,8") == BenchSweep(parameter: .concurrency, values: [1, 2, 8]))
        #expect(try BenchSweep(parsing: "request-rate=0.5, 4,inf") == BenchSweep(parameter: .requestRate, values: [0.5, 4, .infinity]))
        #expect(try BenchSweep(parsing: "request_rate=1").parameter == .requestRate)
        for bad in ["concurrency=0", "concurrency=1.5", "rate=1", "request-rate=-1", "request-rate=nan", "concurrency=", "concurrency"] {
            #expect(throws: BenchSweep.ParseError.self, "\(bad)") { try BenchSweep(parsing: bad) }
        }
        let sweep = try BenchSweep(parsing: "concurrency=1,2")
        let document = sweep.document(results: [Self.result(cap: 1), Self.result(cap: 2)])
        #expect(document["sweep_parameter"] == .string("max_concurrency"))
        #expect(document["sweep_values"] == .array([.number(1), .number(2)]))
        guard case .array(let results)? = document["results"] else { Issue.record("results"); return }
        #expect(results.map { $0["max_concurrency"] } == [.number(1), .number(2)])
        #expect(results.allSatisfy { $0["ttfts"] != nil })
    }
}
