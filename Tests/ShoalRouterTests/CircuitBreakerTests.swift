import ShoalRouter
import Testing

@Suite struct CircuitBreakerTests {
    typealias Breaker = CircuitBreaker<MockInstant>
    let t0 = MockInstant.zero

    @Test func opensAfterFiveConsecutiveFailures() {
        var breaker = Breaker()
        for i in 0..<4 {
            #expect(breaker.acquire(now: t0) == .allowed)
            breaker.record(.failure, now: t0)
            #expect(breaker.state == .closed(consecutiveFailures: i + 1))
        }
        #expect(breaker.acquire(now: t0) == .allowed)
        breaker.record(.failure, now: t0)
        #expect(breaker.state == .open(since: t0))
        #expect(breaker.acquire(now: t0.advanced(by: .seconds(29))) == .rejected)
        #expect(!breaker.isAvailable(now: t0.advanced(by: .seconds(29))))
    }

    @Test func successResetsTheCount() {
        var breaker = Breaker()
        for _ in 0..<4 { breaker.record(.failure, now: t0) }
        breaker.record(.success, now: t0)
        for _ in 0..<4 { breaker.record(.failure, now: t0) }
        #expect(breaker.state == .closed(consecutiveFailures: 4))
    }

    @Test func clientErrorsNeverCount() {
        var breaker = Breaker()
        for _ in 0..<20 {
            #expect(Breaker.Outcome.status(404) == .success)
            breaker.record(.status(400), now: t0)
            breaker.record(.status(429), now: t0)
        }
        #expect(breaker.state == .closed(consecutiveFailures: 0))
        #expect(Breaker.Outcome.status(503) == .failure)
    }

    @Test func halfOpenAllowsOneProbeAndClosesAfterTwoSuccesses() {
        var breaker = Breaker()
        for _ in 0..<5 { breaker.record(.failure, now: t0) }
        let later = t0.advanced(by: .seconds(30))
        #expect(breaker.isAvailable(now: later))
        #expect(breaker.acquire(now: later) == .probe)
        #expect(breaker.acquire(now: later) == .rejected, "a second request while the probe runs")
        breaker.record(.success, now: later)
        #expect(breaker.state == .halfOpen(probeInFlight: false, successes: 1))
        #expect(breaker.acquire(now: later) == .probe)
        breaker.record(.success, now: later)
        #expect(breaker.state == .closed(consecutiveFailures: 0))
        #expect(breaker.acquire(now: later) == .allowed)
    }

    @Test func failedProbeReopens() {
        var breaker = Breaker()
        for _ in 0..<5 { breaker.record(.failure, now: t0) }
        let later = t0.advanced(by: .seconds(31))
        #expect(breaker.acquire(now: later) == .probe)
        breaker.record(.failure, now: later)
        #expect(breaker.state == .open(since: later))
        #expect(breaker.acquire(now: later.advanced(by: .seconds(29))) == .rejected)
        #expect(breaker.acquire(now: later.advanced(by: .seconds(30))) == .probe)
    }

    @Test func ignoredProbeFreesTheSlot() {
        var breaker = Breaker()
        for _ in 0..<5 { breaker.record(.failure, now: t0) }
        let later = t0.advanced(by: .seconds(30))
        #expect(breaker.acquire(now: later) == .probe)
        breaker.record(.ignored, now: later)
        #expect(breaker.acquire(now: later) == .probe)
    }

    @Test func configurable() throws {
        let configuration = Breaker.Configuration(failureThreshold: 2, openDuration: .seconds(1), successThreshold: 1)
        try configuration.validate()
        var breaker = Breaker(configuration: configuration)
        breaker.record(.failure, now: t0)
        breaker.record(.failure, now: t0)
        #expect(breaker.state.name == "open")
        #expect(breaker.acquire(now: t0.advanced(by: .seconds(1))) == .probe)
        breaker.record(.success, now: t0.advanced(by: .seconds(1)))
        #expect(breaker.state.gaugeValue == 0)
        #expect(throws: RouterError.self) { try Breaker.Configuration(failureThreshold: 0).validate() }
    }

    @Test func healthTrackerHysteresis() {
        var tracker = HealthTracker(configuration: .init(unhealthyThreshold: 3, healthyThreshold: 2))
        let results = [false, true, false, false, false].map { tracker.record(probePassed: $0) }
        // A pass resets the failure streak; the third failure in a row flips the verdict.
        #expect(results == [false, false, false, false, true])
        #expect(!tracker.isHealthy)
        let back = [true, true].map { tracker.record(probePassed: $0) }
        #expect(back == [false, true])
        #expect(tracker.isHealthy)
    }
}
