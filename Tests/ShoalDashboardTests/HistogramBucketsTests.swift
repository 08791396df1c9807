import ShoalDashboard
import Testing

@Suite struct HistogramBucketsTests {
    let bounds: [Double] = [0.1, 0.2, 0.4, 0.8, .infinity]

    @Test func quantileInterpolatesInsideTheBucketLikePrometheus() throws {
        // 10 observations: 4 in (0, 0.1], 4 in (0.1, 0.2], 2 in (0.2, 0.4].
        let histogram = HistogramBuckets(bounds: bounds, counts: [4, 8, 10, 10, 10])
        // rank 5 is the first of the second bucket's 4: 0.1 + 0.1 * 1/4.
        #expect(abs(try #require(histogram.quantile(0.5)) - 0.125) < 1e-12)
        // rank 9.9 is in the third bucket: 0.2 + 0.2 * 1.9/2.
        #expect(abs(try #require(histogram.quantile(0.99)) - 0.39) < 1e-12)
        // rank 2 in the first bucket, which starts at 0.
        #expect(abs(try #require(histogram.quantile(0.2)) - 0.05) < 1e-12)
        #expect(histogram.quantile(0) == 0)
    }

    @Test func aRankInTheInfBucketAnswersTheHighestFiniteBound() {
        let histogram = HistogramBuckets(bounds: bounds, counts: [0, 0, 0, 1, 10])
        #expect(histogram.quantile(0.5) == 0.8)
    }

    @Test func noObservationsOrNoInfBucketGiveNothing() {
        #expect(HistogramBuckets(bounds: bounds, counts: [0, 0, 0, 0, 0]).quantile(0.5) == nil)
        #expect(HistogramBuckets(bounds: [0.1, 0.2], counts: [1, 2]).quantile(0.5) == nil)
        #expect(HistogramBuckets(bounds: bounds, counts: [1, 1, 1, 1, 1]).quantile(1.5) == nil)
    }

    @Test func quantileOverBucketDeltasSeesOnlyTheWindow() throws {
        // Lifetime: 100 fast requests before the window; in the window, 10 slow ones (0.4, 0.8].
        let before = HistogramBuckets(bounds: bounds, counts: [100, 100, 100, 100, 100])
        let after = HistogramBuckets(bounds: bounds, counts: [100, 100, 100, 110, 110])
        let window = after.increase(since: before)
        #expect(window.counts == [0, 0, 0, 10, 10])
        #expect(abs(try #require(window.quantile(0.5)) - 0.6) < 1e-12)
        // The lifetime view would say the median is fast.
        #expect(try #require(after.quantile(0.5)) < 0.1)
    }

    @Test func aResetHistogramCountsFromZero() {
        let before = HistogramBuckets(bounds: bounds, counts: [50, 60, 70, 80, 90])
        let restarted = HistogramBuckets(bounds: bounds, counts: [1, 2, 2, 2, 2])
        #expect(restarted.increase(since: before) == restarted)
    }

    @Test func bucketsSumAcrossSeriesAndSortByBound() throws {
        let samples = try PrometheusTextParser.parse("""
            h_bucket{model_name="a",le="+Inf"} 3
            h_bucket{model_name="a",le="0.5"} 2
            h_bucket{model_name="b",le="0.5"} 1
            h_bucket{model_name="b",le="+Inf"} 1
            other_bucket{le="0.5"} 100
            """)
        let both = try #require(HistogramBuckets(samples: samples, name: "h"))
        #expect(both.bounds == [0.5, .infinity])
        #expect(both.counts == [3, 4])
        let onlyB = try #require(HistogramBuckets(samples: samples, name: "h") { $0.labels["model_name"] == "b" })
        #expect(onlyB.counts == [1, 1])
        #expect(HistogramBuckets(samples: samples, name: "missing") == nil)
    }

    @Test func addingNeedsTheSameBounds() {
        let a = HistogramBuckets(bounds: bounds, counts: [1, 2, 3, 4, 5])
        #expect(a.adding(a)?.counts == [2, 4, 6, 8, 10])
        #expect(a.adding(HistogramBuckets(bounds: [1, .infinity], counts: [1, 1])) == nil)
    }
}
