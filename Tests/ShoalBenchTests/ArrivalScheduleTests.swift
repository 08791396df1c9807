import ShoalBench
import Testing

@Suite struct ArrivalScheduleTests {
    static let seed: UInt64 = 20_240_613

    /// Gaps are gamma with shape b and scale 1 / (rate * b): mean 1 / rate, variance 1 / (rate^2 * b).
    @Test(arguments: [1.0, 0.5, 4.0])
    func gapsHaveTheGammaMeanAndVariance(burstiness: Double) {
        let rate = 4.0, count = 200_000
        var generator = SeededGenerator(seed: Self.seed)
        let gaps = ArrivalSchedule.gaps(count: count, rate: rate, burstiness: burstiness, generator: &generator)
        let mean = gaps.reduce(0, +) / Double(count)
        let variance = gaps.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count - 1)
        let expectedMean = 1 / rate, expectedVariance = 1 / (rate * rate * burstiness)
        #expect(abs(mean / expectedMean - 1) < 0.02, "seed \(Self.seed): mean \(mean), expected \(expectedMean)")
        #expect(abs(variance / expectedVariance - 1) < 0.05, "seed \(Self.seed): variance \(variance), expected \(expectedVariance)")
        #expect(gaps.allSatisfy { $0 > 0 })
    }

    @Test func scheduleEndsAtCountOverRateAndNeverGoesBack() {
        let schedule = ArrivalSchedule(count: 50, rate: 20, burstiness: 0.5, seed: Self.seed)
        #expect(schedule.offsets.count == 50)
        #expect(abs(schedule.offsets.last! - 50.0 / 20) < 1e-9)
        #expect(zip(schedule.offsets, schedule.offsets.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(schedule.offsets.first! > 0, "vLLM waits one gap before the first request too")
    }

    @Test func theSameSeedRepeatsTheSchedule() {
        let a = ArrivalSchedule(count: 100, rate: 3, burstiness: 1, seed: 7)
        let b = ArrivalSchedule(count: 100, rate: 3, burstiness: 1, seed: 7)
        let c = ArrivalSchedule(count: 100, rate: 3, burstiness: 1, seed: 8)
        #expect(a == b)
        #expect(a != c)
    }

    @Test func anInfiniteRateSendsEverythingAtOnceAndAnInfiniteBurstinessEvenly() {
        #expect(ArrivalSchedule(count: 5, rate: .infinity, burstiness: 1, seed: 1).offsets == [0, 0, 0, 0, 0])
        let even = ArrivalSchedule(count: 4, rate: 2, burstiness: .infinity, seed: 1).offsets
        for (offset, expected) in zip(even, [0.5, 1.0, 1.5, 2.0]) {
            #expect(abs(offset - expected) < 1e-12)
        }
    }
}
