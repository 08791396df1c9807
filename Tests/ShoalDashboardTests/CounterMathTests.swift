import ShoalDashboard
import Testing

@Suite struct CounterMathTests {
    @Test func rateIsTheIncreaseOverTheSeconds() {
        #expect(CounterMath.rate(from: 1000, to: 1100, seconds: 2) == 50)
        #expect(CounterMath.rate(from: 5, to: 5, seconds: 2) == 0)
    }

    @Test func aCounterThatWentBackWasResetAndCountsFromZero() {
        #expect(CounterMath.increase(from: 1000, to: 30) == 30)
        #expect(CounterMath.rate(from: 1000, to: 30, seconds: 3) == 10)
    }

    @Test func noTimeNoRate() {
        #expect(CounterMath.rate(from: 1, to: 2, seconds: 0) == nil)
    }
}
