/// When each request of a run is due, as vLLM's `bench serve` computes it: gaps between arrivals drawn from a
/// gamma distribution with shape `burstiness` and mean `1 / rate` (burstiness 1 is a Poisson process, below 1
/// burstier, above 1 more even), added up, then scaled so that the last request is due at exactly
/// `count / rate` seconds (vLLM does this so that runs with different seeds offer the same load). An infinite rate
/// makes every request due at once; an infinite burstiness makes the gaps all `1 / rate`.
package struct ArrivalSchedule: Sendable, Equatable {
    /// Seconds from the start of the run at which each request is due, in order; never decreasing.
    package var offsets: [Double]

    /// - Parameters:
    ///   - count: requests in the run.
    ///   - rate: requests per second (`.infinity`: all at once).
    ///   - burstiness: the gamma shape (> 0, `.infinity` allowed).
    ///   - seed: the seed of the draws.
    package init(count: Int, rate: Double, burstiness: Double, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        let gaps = Self.gaps(count: count, rate: rate, burstiness: burstiness, generator: &generator)
        var offsets: [Double] = []
        offsets.reserveCapacity(count)
        var sum = 0.0
        for gap in gaps {
            sum += gap
            offsets.append(sum)
        }
        if let last = offsets.last, last > 0, rate.isFinite {
            let factor = (Double(count) / rate) / last
            offsets = offsets.map { $0 * factor }
        }
        self.offsets = offsets
    }

    /// The raw gaps between arrivals (before the scaling), the first one included: vLLM waits one gap before the
    /// first request too.
    package static func gaps(count: Int, rate: Double, burstiness: Double, generator: inout SeededGenerator) -> [Double] {
        precondition(rate > 0 && burstiness > 0, "the rate and the burstiness must be positive")
        if rate == .infinity { return Array(repeating: 0, count: count) }
        if burstiness == .infinity { return Array(repeating: 1 / rate, count: count) }
        let scale = 1 / (rate * burstiness)
        return (0..<count).map { _ in generator.nextGamma(shape: burstiness, scale: scale) }
    }
}
