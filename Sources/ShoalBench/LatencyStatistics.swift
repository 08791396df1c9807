/// Mean, median, standard deviation and chosen percentiles of a latency series, in milliseconds, computed as
/// vLLM computes them with numpy: linear interpolation between the closest ranks, the population standard
/// deviation, and 0 for an empty series.
package struct LatencyStatistics: Sendable, Equatable {
    package var mean: Double
    package var median: Double
    package var std: Double
    /// (percentile, value in ms), in the order asked for.
    package var percentiles: [(percentile: Double, value: Double)]

    /// - Parameters:
    ///   - seconds: the series, in seconds.
    ///   - percentiles: which percentiles to compute (0...100).
    package init(seconds: [Double], percentiles: [Double]) {
        let sorted = seconds.sorted()
        mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count) * 1000
        median = Self.percentile(sorted: sorted, 50) * 1000
        if sorted.isEmpty {
            std = 0
        } else {
            let meanSeconds = sorted.reduce(0, +) / Double(sorted.count)
            std = (sorted.reduce(0) { $0 + ($1 - meanSeconds) * ($1 - meanSeconds) } / Double(sorted.count)).squareRoot() * 1000
        }
        self.percentiles = percentiles.map { ($0, Self.percentile(sorted: sorted, $0) * 1000) }
    }

    /// numpy's default percentile: the value at rank `p / 100 * (n - 1)`, interpolated linearly; 0 when empty.
    package static func percentile(sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = p / 100 * Double(sorted.count - 1)
        let lower = Int(rank.rounded(.down)), upper = Int(rank.rounded(.up))
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (rank - Double(lower))
    }

    /// The value of percentile `p` if it was computed.
    package func value(at p: Double) -> Double? {
        percentiles.first { $0.percentile == p }?.value
    }

    package static func == (a: LatencyStatistics, b: LatencyStatistics) -> Bool {
        a.mean == b.mean && a.median == b.median && a.std == b.std
            && a.percentiles.map(\.percentile) == b.percentiles.map(\.percentile)
            && a.percentiles.map(\.value) == b.percentiles.map(\.value)
    }

    /// vLLM's name for a percentile field: `p99`, `p99.9`.
    package static func fieldName(_ p: Double) -> String {
        p == p.rounded() ? "p\(Int(p))" : "p\(p)"
    }
}
