/// The cumulative buckets of a Prometheus histogram (`_bucket{le="..."}`), possibly summed over several series.
package struct HistogramBuckets: Sendable, Equatable {
    /// Upper bounds, ascending; a complete histogram ends with `+Inf`.
    package private(set) var bounds: [Double]
    /// Observations at or below each bound (cumulative), as many as `bounds`.
    package private(set) var counts: [Double]

    /// - Parameters:
    ///   - bounds: upper bounds in any order (sorted here, with their counts).
    ///   - counts: the cumulative count of each bound.
    package init(bounds: [Double], counts: [Double]) {
        precondition(bounds.count == counts.count, "one count per bound")
        let order = bounds.indices.sorted { bounds[$0] < bounds[$1] }
        self.bounds = order.map { bounds[$0] }
        self.counts = order.map { counts[$0] }
    }

    /// Collects the `<name>_bucket` samples whose labels `matching` accepts, adding the counts of series with the
    /// same `le` (several models of one replica, several replicas of a pool).
    /// - Returns: nil when no bucket matched.
    package init?(samples: [PrometheusSample], name: String, matching: (PrometheusSample) -> Bool = { _ in true }) {
        let bucketName = name + "_bucket"
        var byBound: [Double: Double] = [:]
        for sample in samples where sample.name == bucketName && matching(sample) {
            guard let text = sample.labels["le"], let bound = PrometheusTextParser.value(text), !bound.isNaN else {
                continue
            }
            byBound[bound, default: 0] += sample.value
        }
        guard !byBound.isEmpty else { return nil }
        self.init(bounds: Array(byBound.keys), counts: Array(byBound.values))
    }

    /// Observations in all (the `+Inf` bucket's count, or the last bucket's).
    package var total: Double { counts.last ?? 0 }

    /// The observations made after `earlier` (the bucket-by-bucket difference), as from two scrapes of one series.
    /// A histogram whose counts went back (a restarted replica) or whose bounds changed counts from zero: the
    /// difference is then the whole of this one.
    package func increase(since earlier: HistogramBuckets) -> HistogramBuckets {
        guard earlier.bounds == bounds, zip(counts, earlier.counts).allSatisfy({ $0 >= $1 }) else { return self }
        return HistogramBuckets(sortedBounds: bounds, counts: zip(counts, earlier.counts).map { $0 - $1 })
    }

    /// The sum of two histograms with the same bounds, or nil when the bounds differ.
    package func adding(_ other: HistogramBuckets) -> HistogramBuckets? {
        guard other.bounds == bounds else { return nil }
        return HistogramBuckets(sortedBounds: bounds, counts: zip(counts, other.counts).map { $0 + $1 })
    }

    private init(sortedBounds: [Double], counts: [Double]) {
        bounds = sortedBounds
        self.counts = counts
    }

    /// The `q`-quantile estimated as Prometheus' `histogram_quantile` does: find the bucket holding the rank
    /// `q * total` and interpolate linearly inside it (the first bucket starts at 0). A rank in the `+Inf`
    /// bucket answers the highest finite bound.
    /// - Parameter q: between 0 and 1.
    /// - Returns: nil when there are no observations, `q` is out of range, or the last bound is not `+Inf`.
    /// - Complexity: O(buckets).
    package func quantile(_ q: Double) -> Double? {
        guard (0...1).contains(q), bounds.count >= 2, bounds.last == .infinity else { return nil }
        // Counts of a scrape taken while observations were being recorded may dip; make them monotonic.
        var cumulative = counts
        for i in cumulative.indices.dropFirst() { cumulative[i] = max(cumulative[i], cumulative[i - 1]) }
        let observations = cumulative[cumulative.count - 1]
        guard observations > 0 else { return nil }
        var rank = q * observations
        // The first bucket that reaches the rank (and holds observations, for q = 0).
        guard let b = cumulative.firstIndex(where: { $0 >= rank && $0 > 0 }) else { return nil }
        if b == bounds.count - 1 { return bounds[bounds.count - 2] }
        if b == 0 && bounds[0] <= 0 { return bounds[0] }
        let start = b == 0 ? 0 : bounds[b - 1]
        let end = bounds[b]
        let before = b == 0 ? 0 : cumulative[b - 1]
        let inBucket = cumulative[b] - before
        rank -= before
        return start + (end - start) * (rank / inBucket)
    }
}
