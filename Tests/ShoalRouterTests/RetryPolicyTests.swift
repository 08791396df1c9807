import ShoalRouter
import Testing

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(100), maxBackoff: .seconds(1),
                             maxTotalTime: .seconds(5))

    @Test(arguments: [502, 503, 504, 429])
    func retriesGatewayAndRateLimitStatuses(status: Int) {
        var random = RouterRandom(seed: 1)
        let decision = policy.decide(after: .status(status), attempt: 1, firstByteSent: false, elapsed: .zero,
                                     random: &random)
        guard case .retry = decision else {
            Issue.record("status \(status) not retried: \(decision)")
            return
        }
    }

    @Test(arguments: [400, 401, 403, 404, 413, 422, 500, 501])
    func neverRetriesOtherStatuses(status: Int) {
        var random = RouterRandom(seed: 1)
        let decision = policy.decide(after: .status(status), attempt: 1, firstByteSent: false, elapsed: .zero,
                                     random: &random)
        #expect(decision != .retry(after: .zero))
        if case .retry = decision { Issue.record("status \(status) retried") }
    }

    @Test func retriesConnectErrorsAndTimeouts() {
        #expect(policy.isRetryable(.connect))
        #expect(policy.isRetryable(.timeout))
        #expect(!policy.isRetryable(.other))
    }

    @Test func neverAfterTheFirstByte() {
        var random = RouterRandom(seed: 1)
        let decision = policy.decide(after: .connect, attempt: 1, firstByteSent: true, elapsed: .zero, random: &random)
        #expect(decision == .giveUp(reason: "the response had started"))
    }

    @Test func capsAttemptsAndTotalTime() {
        var random = RouterRandom(seed: 1)
        if case .retry = policy.decide(after: .connect, attempt: 3, firstByteSent: false, elapsed: .zero, random: &random) {
            Issue.record("retried past maxAttempts")
        }
        if case .retry = policy.decide(after: .connect, attempt: 1, firstByteSent: false, elapsed: .seconds(5),
                                       random: &random) {
            Issue.record("retried past maxTotalTime")
        }
    }

    @Test(arguments: [1, 2, 3, 4, 10] as [Int])
    func backoffIsJitteredExponentialAndCapped(attempt: Int) {
        var random = RouterRandom(seed: UInt64(attempt))
        let full = min(0.1 * Double(1 << (attempt - 1)), 1.0)
        var seen = Set<Int64>()
        for _ in 0..<50 {
            let delay = policy.backoff(attempt: attempt, random: &random)
            let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) * 1e-18
            #expect(seconds >= full / 2 - 1e-9 && seconds <= full + 1e-9, "attempt \(attempt): \(seconds)")
            seen.insert(delay.components.attoseconds)
        }
        #expect(seen.count > 1, "no jitter")
    }

    @Test func validateRefusesClientErrors() {
        var bad = RetryPolicy()
        bad.retryableStatuses = [404]
        #expect(throws: RouterError.self) { try bad.validate() }
        #expect(throws: RouterError.self) { try RetryPolicy(maxAttempts: 0).validate() }
    }
}
