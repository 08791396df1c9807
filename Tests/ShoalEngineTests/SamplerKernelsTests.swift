import Foundation
import ShoalEngine
import Testing

/// The vector passes against their scalar twins, over sizes around the 16-lane width.
struct SamplerKernelsTests {
    static let sizes = [1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 127, 129, 1023, 1025, 3000]

    static func randomLogits(_ count: Int, seed: UInt64, ties: Bool = false) -> [Float] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in
            let u = Float(random.nextUnitInterval())
            return ties ? Float(Int(u * 8)) : u * 40 - 20
        }
    }

    @Test func vectorExpIsBitIdenticalToScalarExp() {
        var random = SeededRandom(seed: 1)
        var inputs: [Float] = [-.infinity, -200, -87.34, -87.33654, -87.3, -50, -1, -0.5, 0, 0.5, 1, 10, 88, 88.3, 100]
        for _ in 0..<4000 { inputs.append(Float(random.nextUnitInterval()) * 180 - 90) }
        while inputs.count % 16 != 0 { inputs.append(0) }
        for start in stride(from: 0, to: inputs.count, by: 16) {
            let vector = SamplerKernels.exp(SIMD16<Float>(inputs[start..<start + 16]))
            for lane in 0..<16 {
                let scalar = SamplerKernels.exp(inputs[start + lane])
                #expect(vector[lane].bitPattern == scalar.bitPattern, "exp(\(inputs[start + lane]))")
            }
        }
    }

    @Test func expIsAccurate() {
        var worst: Double = 0
        var x: Float = -87
        while x < 88 {
            let exact = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(SamplerKernels.exp(x)) - exact) / exact)
            x += 0.01
        }
        #expect(worst < 3e-7)
        #expect(SamplerKernels.exp(-.infinity) == 0)
        #expect(SamplerKernels.exp(-100) == 0)
        #expect(SamplerKernels.exp(0) == 1)
    }

    @Test(arguments: Self.sizes)
    func argmaxMatchesReference(_ count: Int) {
        for (seed, ties) in [(UInt64(count), false), (UInt64(count + 1), true)] {
            var values = Self.randomLogits(count, seed: seed, ties: ties)
            if count > 4 {
                values[count / 2] = .nan
                values[1] = -.infinity
            }
            let (vector, reference) = values.withUnsafeBufferPointer {
                (SamplerKernels.argmax($0.baseAddress!, count: count), SamplerKernels.argmaxReference($0.baseAddress!, count: count))
            }
            #expect(vector.index == reference.index, "count \(count) ties \(ties)")
            #expect(vector.value == reference.value)
        }
    }

    @Test func argmaxOfAllNegativeInfinityIsZero() {
        let values = [Float](repeating: -.infinity, count: 40)
        let result = values.withUnsafeBufferPointer { SamplerKernels.argmax($0.baseAddress!, count: 40) }
        #expect(result.index == 0)
    }

    @Test(arguments: Self.sizes)
    func sumExpMatchesReference(_ count: Int) {
        let values = Self.randomLogits(count, seed: UInt64(count) * 3)
        let m = values.max()!
        for (scale, floor) in [(Float(1), -Float.infinity), (Float(1) / 0.7, m - 5)] {
            values.withUnsafeBufferPointer { p in
                let reference = SamplerKernels.sumExpReference(p.baseAddress!, count: count, shift: m, scale: scale, floor: floor)
                var chunks = [Double](repeating: .nan, count: (count + 1023) / 1024)
                let vector = SamplerKernels.sumExp(p.baseAddress!, count: count, shift: m, scale: scale, floor: floor, chunkSums: &chunks)
                #expect(abs(vector - reference) <= 1e-6 * reference, "count \(count)")
                #expect(abs(chunks.reduce(0, +) - vector) <= 1e-9 * vector)
            }
        }
    }

    @Test(arguments: Self.sizes)
    func massProfileMatchesReference(_ count: Int) {
        let values = Self.randomLogits(count, seed: UInt64(count) * 5)
        let m = values.max()!
        for (temperature, floor) in [(Float(1), -Float.infinity), (Float(0.6), m - 3)] {
            values.withUnsafeBufferPointer { p in
                let scale = 1 / temperature
                let profile = SamplerKernels.massProfile(p.baseAddress!, count: count, shift: m, scale: scale, floor: floor)
                let total = SamplerKernels.sumExpReference(p.baseAddress!, count: count, shift: m, scale: scale, floor: floor)
                #expect(abs(profile.total - total) <= 1e-6 * total)
                for (window, mass) in zip(SamplerKernels.windows, profile.above) {
                    let expected = SamplerKernels.sumExpReference(
                        p.baseAddress!, count: count, shift: m, scale: scale, floor: max(floor, m - window / scale))
                    #expect(abs(mass - expected) <= 1e-6 * total, "count \(count) window \(window)")
                }
            }
        }
    }

    @Test(arguments: [1, 5, 20, 100])
    func selectTopMatchesAFullSort(_ k: Int) {
        for count in [1, 17, 100, 3000] {
            for ties in [false, true] {
                let values = Self.randomLogits(count, seed: UInt64(count * 7 + k), ties: ties)
                var heap: [SamplerCandidate] = []
                values.withUnsafeBufferPointer { SamplerKernels.selectTop($0.baseAddress!, count: count, k: k, into: &heap) }
                let expected = values.indices.sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }.prefix(k)
                #expect(Set(heap.map { Int($0.index) }) == Set(expected), "count \(count) k \(k) ties \(ties)")
                #expect(heap.allSatisfy { values[Int($0.index)] == $0.logit })
            }
        }
    }

    @Test func collectKeepsValuesAtOrAboveTheFloorInOrder() {
        let values = Self.randomLogits(1000, seed: 5)
        var found: [SamplerCandidate] = []
        values.withUnsafeBufferPointer { SamplerKernels.collect($0.baseAddress!, count: 1000, floor: 12, into: &found) }
        #expect(found.map { Int($0.index) } == values.indices.filter { values[$0] >= 12 })
    }

    /// The cutoff of the sorted reference: walk down from the top until the mass reaches the target.
    static func referenceCutoff(_ candidates: [SamplerCandidate], target: Double) -> Float {
        let sorted = candidates.sorted { $0.logit > $1.logit }
        var accumulated: Double = 0
        for c in sorted {
            accumulated += Double(c.weight)
            if accumulated >= target { return c.logit }
        }
        return sorted.last!.logit
    }

    @Test(arguments: [2, 10, 17, 100, 1000, 5000])
    func nucleusCutoffMatchesASortedWalk(_ count: Int) {
        var random = SeededRandom(seed: UInt64(count))
        for trial in 0..<20 {
            let ties = trial % 2 == 1
            let logits = Self.randomLogits(count, seed: UInt64(count * 100 + trial), ties: ties)
            let m = logits.max()!
            var candidates = logits.enumerated().map {
                SamplerCandidate(index: Int32($0.offset), logit: $0.element, weight: Float(Foundation.exp(Double($0.element - m) / 2)))
            }
            let total = candidates.reduce(0) { $0 + Double($1.weight) }
            let p = random.nextUnitInterval()
            let expected = Self.referenceCutoff(candidates, target: p * total)
            let cutoff = SamplerKernels.nucleusCutoff(&candidates, target: p * total)
            #expect(cutoff == expected, "count \(count) trial \(trial) p \(p)")
            #expect(candidates.count == count)
        }
    }
}
