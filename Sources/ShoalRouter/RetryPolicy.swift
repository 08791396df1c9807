/// When a request that failed before its first byte reached the client may go to another replica.
///
/// Retried: connect errors, timeouts before the response head, and 502 / 503 / 504 / 429. Never retried: other
/// 4xx, any other status, or anything once the client has received a byte. Backoff is exponential with
/// "equal jitter" (half fixed, half random), and both the attempts and the total time are capped.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int = 3
    public var initialBackoff: Duration = .milliseconds(25)
    public var maxBackoff: Duration = .seconds(1)
    public var multiplier: Double = 2
    /// No retry starts later than this after the request arrived.
    public var maxTotalTime: Duration = .seconds(15)
    /// Statuses that are retried.
    public var retryableStatuses: Set<Int> = [429, 502, 503, 504]

    public init(maxAttempts: Int = 3, initialBackoff: Duration = .milliseconds(25), maxBackoff: Duration = .seconds(1),
                multiplier: Double = 2, maxTotalTime: Duration = .seconds(15),
                retryableStatuses: Set<Int> = [429, 502, 503, 504]) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.multiplier = multiplier
        self.maxTotalTime = maxTotalTime
        self.retryableStatuses = retryableStatuses
    }

    /// - Throws: `RouterError` naming the field out of range.
    public func validate() throws {
        guard maxAttempts >= 1 else { throw RouterError(.invalidConfiguration, "retry maxAttempts must be at least 1") }
        guard initialBackoff >= .zero, maxBackoff >= initialBackoff else {
            throw RouterError(.invalidConfiguration, "retry backoff must satisfy 0 <= initial <= max")
        }
        guard multiplier >= 1 else { throw RouterError(.invalidConfiguration, "retry multiplier must be at least 1") }
        guard retryableStatuses.allSatisfy({ !(400..<500).contains($0) || $0 == 429 }) else {
            throw RouterError(.invalidConfiguration, "4xx statuses other than 429 are never retried")
        }
    }

    /// How an attempt failed.
    public enum Failure: Sendable, Equatable {
        /// The connection could not be made (refused, reset before the head, DNS).
        case connect
        /// No response head within the deadline.
        case timeout
        /// The replica answered with this status.
        case status(Int)
        /// Anything else (a malformed response).
        case other
    }

    public enum Decision: Sendable, Equatable {
        case retry(after: Duration)
        case giveUp(reason: String)
    }

    /// Whether this failure kind is retried at all.
    public func isRetryable(_ failure: Failure) -> Bool {
        switch failure {
        case .connect, .timeout: true
        case .status(let code): retryableStatuses.contains(code) && (code == 429 || !(400..<500).contains(code))
        case .other: false
        }
    }

    /// What to do after attempt number `attempt` (1-based) failed.
    /// - Parameters:
    ///   - firstByteSent: whether any byte of the response reached the client (then never retry).
    ///   - elapsed: time since the request arrived.
    ///   - random: jitter source (seeded in tests).
    public func decide(after failure: Failure, attempt: Int, firstByteSent: Bool, elapsed: Duration,
                       random: inout some RandomNumberGenerator) -> Decision {
        if firstByteSent { return .giveUp(reason: "the response had started") }
        guard isRetryable(failure) else { return .giveUp(reason: "not retryable: \(failure)") }
        guard attempt < maxAttempts else { return .giveUp(reason: "\(maxAttempts) attempts made") }
        let delay = backoff(attempt: attempt, random: &random)
        guard elapsed + delay < maxTotalTime else { return .giveUp(reason: "retry time budget spent") }
        return .retry(after: delay)
    }

    /// The jittered delay before attempt `attempt + 1`: half of the capped exponential, plus up to that again.
    public func backoff(attempt: Int, random: inout some RandomNumberGenerator) -> Duration {
        let base = initialBackoff.inSeconds * pow2(multiplier, max(0, attempt - 1))
        let capped = min(base, maxBackoff.inSeconds)
        let jittered = capped / 2 + Double.random(in: 0...1, using: &random) * capped / 2
        return .nanoseconds(Int64(jittered * 1e9))
    }

    private func pow2(_ base: Double, _ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<min(exponent, 64) { result *= base }
        return result
    }
}

extension Duration {
    /// The duration in seconds.
    var inSeconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) * 1e-18
    }
}
