import ShoalEngine
import Testing

struct SeededRandomTests {
    /// xoshiro256** seeded through SplitMix64, values from an independent Python implementation.
    @Test(arguments: [
        (UInt64(0), [UInt64(0x99ec_5f36_cb75_f2b4), 0xbf6e_1f78_4956_452a, 0x1a5f_849d_4933_e6e0, 0x6aa5_94f1_262d_2d2c]),
        (UInt64(42), [UInt64(0x1578_0b2e_0c2e_c716), 0x6104_d986_6d11_3a7e, 0xae17_5332_39e4_99a1, 0xecb8_ad47_03b3_60a1]),
        (UInt64.max, [UInt64(0x8f55_20d5_2a7e_ad08), 0xc476_a018_caa1_802d, 0x81de_31c0_d260_469e, 0xbf65_8d7e_065f_3c2f]),
    ])
    func matchesTheReferenceSequence(_ seed: UInt64, _ expected: [UInt64]) {
        var random = SeededRandom(seed: seed)
        #expect((0..<4).map { _ in random.next() } == expected)
    }

    @Test func unitIntervalStaysInRange() {
        var random = SeededRandom(seed: 7)
        var sum = 0.0
        for _ in 0..<10_000 {
            let u = random.nextUnitInterval()
            #expect(u >= 0 && u < 1)
            sum += u
        }
        #expect(abs(sum / 10_000 - 0.5) < 0.02)
    }
}
