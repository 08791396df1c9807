import Foundation

/// A seeded random number generator (SplitMix64) with the draws a load generator needs: uniform, normal and
/// gamma. The same seed gives the same arrival schedule and the same prompts on every machine, so a run can be
/// repeated.
package struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    package init(seed: UInt64) {
        state = seed
    }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform draw from the open interval (0, 1): never 0, so its logarithm is finite.
    package mutating func nextUnit() -> Double {
        (Double(next() >> 11) + 0.5) / 9_007_199_254_740_992.0
    }

    /// A draw from the standard normal distribution (Box-Muller).
    package mutating func nextNormal() -> Double {
        let u = nextUnit(), v = nextUnit()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }

    /// A draw from the gamma distribution with this shape (k > 0) and scale (theta > 0): mean k * theta,
    /// variance k * theta^2. Marsaglia and Tsang's method; a shape below 1 draws with shape + 1 and multiplies by
    /// U^(1/k).
    package mutating func nextGamma(shape: Double, scale: Double) -> Double {
        precondition(shape > 0 && scale > 0, "gamma needs a positive shape and scale")
        if shape < 1 {
            return nextGamma(shape: shape + 1, scale: scale) * pow(nextUnit(), 1 / shape)
        }
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double
            var v: Double
            repeat {
                x = nextNormal()
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = nextUnit()
            if u < 1 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1 - v + log(v)) {
                return d * v * scale
            }
        }
    }
}
