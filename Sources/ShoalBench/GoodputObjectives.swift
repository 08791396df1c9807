/// Service level objectives for goodput, vLLM's `--goodput ttft:MS tpot:MS e2el:MS`: a request is good when it
/// meets every objective given (its TTFT, TPOT and end-to-end latency at most so many milliseconds; a request of
/// one output token has a TPOT of 0).
package struct GoodputObjectives: Sendable, Equatable {
    /// Milliseconds; nil when not given.
    package var ttft: Double?
    package var tpot: Double?
    package var e2el: Double?

    package init(ttft: Double? = nil, tpot: Double? = nil, e2el: Double? = nil) {
        self.ttft = ttft
        self.tpot = tpot
        self.e2el = e2el
    }

    /// Parses `KEY:MS` pairs.
    /// - Throws: `GoodputObjectives.ParseError` naming the pair that is wrong.
    package init(parsing pairs: [String]) throws {
        for pair in pairs {
            let parts = pair.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let value = Double(parts[1]), value.isFinite else {
                throw ParseError(message: "--goodput '\(pair)': expected KEY:VALUE with a number of milliseconds, e.g. ttft:500")
            }
            guard value >= 0 else { throw ParseError(message: "--goodput '\(pair)': the objective must not be negative") }
            switch parts[0] {
            case "ttft": ttft = value
            case "tpot": tpot = value
            case "e2el": e2el = value
            default: throw ParseError(message: "--goodput '\(pair)': the metric must be one of ttft, tpot, e2el")
            }
        }
    }

    package struct ParseError: Error, CustomStringConvertible, Equatable {
        package var message: String
        package var description: String { message }
    }

    /// Whether a successful request meets every objective.
    package func isMet(by outcome: RequestOutcome) -> Bool {
        // In seconds, as vLLM compares them.
        if let ttft, ttft / 1000 < outcome.ttft ?? 0 { return false }
        if let tpot, tpot / 1000 < outcome.tpot ?? 0 { return false }
        if let e2el, e2el / 1000 < outcome.latency { return false }
        return true
    }
}
