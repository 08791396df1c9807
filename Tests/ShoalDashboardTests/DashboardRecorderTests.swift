import ShoalDashboard
import Testing

@Suite struct DashboardRecorderTests {
    let bounds: [Double] = [0.1, 0.5, 1, .infinity]

    func metrics(tokens: Double, finished: Double = 0, hits: Double = 0, queries: Double = 0,
                 ttft: [Double]? = nil, running: Double = 1, kv: Double = 0.25) -> ReplicaMetrics {
        ReplicaMetrics(running: running, waiting: 2, kvCacheUsage: kv, prefixCacheHits: hits, prefixCacheQueries: queries,
                       generationTokens: tokens, finishedRequests: finished,
                       timeToFirstToken: HistogramBuckets(bounds: bounds, counts: ttft ?? [0, 0, 0, 0]))
    }

    func replica(_ id: String, _ metrics: ReplicaMetrics?, healthy: Bool = true, inFlight: Int = 0) -> ReplicaObservation {
        ReplicaObservation(id: id, models: ["m"], status: healthy ? "healthy" : "unhealthy", healthy: healthy,
                           breaker: "closed", inFlight: inFlight, errors: 1, migrations: 0, metrics: metrics,
                           scrapeError: metrics == nil ? "connection refused" : nil)
    }

    @Test func oneScrapeGivesGaugesButNoRates() throws {
        var recorder = DashboardRecorder()
        recorder.record([replica("a", metrics(tokens: 500, finished: 7))], at: 100)
        let row = try #require(recorder.snapshot(kind: "router", title: "t").rows.first)
        #expect(row.running == 1 && row.waiting == 2 && row.kvCacheUsage == 0.25)
        #expect(row.generationTokens == 500 && row.finishedRequests == 7)
        #expect(row.outputTokensPerSecond == nil && row.ttftP50Seconds == nil && row.prefixCacheHitRate == nil)
    }

    @Test func ratesComeFromTheWindowNotLifetimeTotals() throws {
        var recorder = DashboardRecorder(configuration: .init(interval: 2, rateWindow: 4, quantileWindow: 60))
        // 10,000 tokens before the dashboard started; then 100 tokens per second.
        for (i, time) in [0.0, 2, 4, 6].enumerated() {
            recorder.record([replica("a", metrics(tokens: 10_000 + 200 * Double(i)))], at: time)
        }
        let snapshot = recorder.snapshot(kind: "router", title: "t")
        #expect(snapshot.rows.first?.outputTokensPerSecond == 100)
        #expect(snapshot.totals.outputTokensPerSecond == 100)
        #expect(snapshot.history.map(\.outputTokensPerSecond) == [nil, 100, 100, 100])
    }

    @Test func percentilesAndHitRateUseBucketDeltasOverTheWindow() throws {
        var recorder = DashboardRecorder(configuration: .init(interval: 2, rateWindow: 10, quantileWindow: 4))
        // Before the window: 1000 fast first tokens and a cold prefix cache.
        recorder.record([replica("a", metrics(tokens: 0, hits: 0, queries: 1000, ttft: [1000, 1000, 1000, 1000]))], at: 0)
        recorder.record([replica("a", metrics(tokens: 0, hits: 0, queries: 1000, ttft: [1000, 1000, 1000, 1000]))], at: 2)
        // In the window: 10 slow ones, all in (0.5, 1]; 300 of 400 prompt tokens hit the cache.
        recorder.record([replica("a", metrics(tokens: 0, hits: 300, queries: 1400, ttft: [1000, 1000, 1010, 1010]))], at: 4)
        recorder.record([replica("a", metrics(tokens: 0, hits: 300, queries: 1400, ttft: [1000, 1000, 1010, 1010]))], at: 6)
        let row = try #require(recorder.snapshot(kind: "router", title: "t").rows.first)
        #expect(abs(try #require(row.ttftP50Seconds) - 0.75) < 1e-12)
        #expect(abs(try #require(row.ttftP99Seconds) - 0.995) < 1e-12)
        #expect(row.prefixCacheHitRate == 0.75)
    }

    @Test func aFailedScrapeBlanksTheMetricsButKeepsTheRouterView() throws {
        var recorder = DashboardRecorder()
        recorder.record([replica("a", metrics(tokens: 10)), replica("b", metrics(tokens: 10))], at: 0)
        recorder.record([replica("a", metrics(tokens: 30)), replica("b", nil, healthy: false, inFlight: 2)], at: 2)
        let snapshot = recorder.snapshot(kind: "router", title: "t")
        let b = try #require(snapshot.rows.last)
        #expect(b.id == "b" && !b.healthy && b.status == "unhealthy" && b.inFlight == 2 && b.errors == 1)
        #expect(b.running == nil && b.outputTokensPerSecond == nil && b.scrapeError == "connection refused")
        #expect(snapshot.totals.replicas == 2 && snapshot.totals.healthyReplicas == 1)
        #expect(snapshot.totals.outputTokensPerSecond == 10)
        #expect(snapshot.history.last?.healthyReplicas == 1)
    }

    @Test func aRestartedReplicaCountsFromZero() throws {
        var recorder = DashboardRecorder(configuration: .init(interval: 2, rateWindow: 2))
        recorder.record([replica("a", metrics(tokens: 5000))], at: 0)
        recorder.record([replica("a", metrics(tokens: 40))], at: 2)
        #expect(recorder.snapshot(kind: "router", title: "t").rows.first?.outputTokensPerSecond == 20)
    }

    @Test func anIntervalLongerThanTheWindowStillGivesRates() throws {
        var recorder = DashboardRecorder(configuration: .init(interval: 30, rateWindow: 10))
        recorder.record([replica("a", metrics(tokens: 0))], at: 0)
        recorder.record([replica("a", metrics(tokens: 300))], at: 30)
        #expect(recorder.snapshot(kind: "router", title: "t").rows.first?.outputTokensPerSecond == 10)
    }

    @Test func removedRowsAreForgottenAndHistoryIsBounded() throws {
        var recorder = DashboardRecorder(configuration: .init(interval: 1, historyLength: 5))
        for time in 0..<12 {
            let rows = time < 6 ? [replica("a", metrics(tokens: 0)), replica("b", metrics(tokens: 0))]
                : [replica("b", metrics(tokens: 0))]
            recorder.record(rows, at: Double(time))
        }
        let snapshot = recorder.snapshot(kind: "server", title: "t")
        #expect(snapshot.rows.map(\.id) == ["b"])
        #expect(snapshot.history.map(\.time) == [7, 8, 9, 10, 11])
        #expect(snapshot.now == 11)
    }

    @Test func snapshotEncodesSnakeCaseJSON() throws {
        var recorder = DashboardRecorder()
        recorder.record([replica("a", metrics(tokens: 1))], at: 0)
        let text = String(decoding: try recorder.snapshot(kind: "router", title: "t").json(), as: UTF8.self)
        #expect(text.contains(#""in_flight":0"#))
        #expect(text.contains(#""kv_cache_usage":0.25"#))
        #expect(text.contains(#""history":[{"#))
    }
}
