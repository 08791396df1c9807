import ShoalTestSupport
import Glibc
import Testing
import ShoalKernels

@Suite struct VectorOpsTests {
    static let sizes = [1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 127, 129, 576, 1023]

    func expectClose(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int, relative: Float, absolute: Float,
                     _ what: String) {
        var failures = 0
        for i in 0..<count where !(abs(a[i] - b[i]) <= relative * abs(b[i]) + absolute) { failures += 1 }
        #expect(failures == 0, "\(what) count \(count)")
    }

    @Test(arguments: sizes)
    func dotMatchesReference(count: Int) {
        var rng = SeededGenerator(seed: UInt64(count))
        let a = randomFloats(count, using: &rng)
        let b = randomFloats(count, using: &rng)
        var magnitude: Float = 0
        for i in 0..<count { magnitude += abs(a.floats[i] * b.floats[i]) }
        #expect(abs(dot(a.floats, b.floats, count: count) - dotReference(a.floats, b.floats, count: count)) <= 1e-6 * magnitude)
    }

    @Test(arguments: sizes)
    func elementwiseMatchReference(count: Int) {
        var rng = SeededGenerator(seed: UInt64(count) &+ 1000)
        let x = randomFloats(count, scale: 4, using: &rng)
        let y = randomFloats(count, scale: 4, using: &rng)
        let fast = Buffer(bytes: count * 4)
        var expected = [Float](repeating: 0, count: count)

        fast.floats.update(from: y.floats, count: count)
        axpy(0.75, x.floats, fast.floats, count: count)
        for i in 0..<count { expected[i] = 0.75 * x.floats[i] + y.floats[i] }
        expectClose(fast.floats, expected, count: count, relative: 1e-6, absolute: 1e-6, "axpy")

        fast.floats.update(from: y.floats, count: count)
        add(fast.floats, x.floats, count: count)
        for i in 0..<count { expected[i] = y.floats[i] + x.floats[i] }
        expectClose(fast.floats, expected, count: count, relative: 0, absolute: 0, "add")

        fast.floats.update(from: y.floats, count: count)
        scale(fast.floats, by: -1.5, count: count)
        for i in 0..<count { expected[i] = y.floats[i] * -1.5 }
        expectClose(fast.floats, expected, count: count, relative: 0, absolute: 0, "scale")

        fast.floats.update(from: x.floats, count: count)
        expected.withUnsafeMutableBufferPointer { e in
            e.baseAddress!.update(from: x.floats, count: count)
            siluMul(fast.floats, y.floats, count: count)
            siluMulReference(e.baseAddress!, y.floats, count: count)
        }
        expectClose(fast.floats, expected, count: count, relative: 2e-6, absolute: 1e-7, "siluMul")

        fast.floats.update(from: x.floats, count: count)
        expected.withUnsafeMutableBufferPointer { e in
            e.baseAddress!.update(from: x.floats, count: count)
            geluTanhMul(fast.floats, y.floats, count: count)
            geluTanhMulReference(e.baseAddress!, y.floats, count: count)
        }
        expectClose(fast.floats, expected, count: count, relative: 2e-6, absolute: 2e-6, "geluTanhMul")

        let weight = randomFloats(count, using: &rng)
        expected.withUnsafeMutableBufferPointer { e in
            rmsNorm(x.floats, weight: weight.floats, count: count, eps: 1e-5, fast.floats)
            rmsNormReference(x.floats, weight: weight.floats, count: count, eps: 1e-5, e.baseAddress!)
        }
        expectClose(fast.floats, expected, count: count, relative: 1e-6, absolute: 1e-7, "rmsNorm")

        fast.floats.update(from: x.floats, count: count)
        expected.withUnsafeMutableBufferPointer { e in
            e.baseAddress!.update(from: x.floats, count: count)
            softmaxInPlace(fast.floats, count: count)
            softmaxInPlaceReference(e.baseAddress!, count: count)
        }
        expectClose(fast.floats, expected, count: count, relative: 2e-6, absolute: 1e-9, "softmax")
    }

    @Test func rmsNormWorksInPlace() {
        var rng = SeededGenerator(seed: 5)
        let x = randomFloats(100, using: &rng)
        let weight = randomFloats(100, using: &rng)
        let expected = Buffer(bytes: 400)
        rmsNormReference(x.floats, weight: weight.floats, count: 100, eps: 1e-6, expected.floats)
        rmsNorm(x.floats, weight: weight.floats, count: 100, eps: 1e-6, x.floats)
        expectClose(x.floats, expected.floats, count: 100, relative: 1e-6, absolute: 1e-7, "rmsNorm in place")
    }

    @Test func softmaxHandlesMaskedValues() {
        var values: [Float] = [1, -.infinity, 2, -.infinity, 3, 0, -.infinity, -.infinity, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        values.withUnsafeMutableBufferPointer { softmaxInPlace($0.baseAddress!, count: $0.count) }
        #expect(values[1] == 0 && values[3] == 0 && values[6] == 0)
        #expect(abs(values.reduce(0, +) - 1) < 1e-6)
        #expect(values[4] > values[2] && values[2] > values[0])
    }

    @Test func expIsAccurateAndHandlesSpecialValues() {
        var worst = 0.0
        var x: Float = -103
        while x < 88.5 {
            let lanes = expLanes(SIMD16<Float>((0..<16).map { x + Float($0) * 0.0137 }))
            for lane in 0..<16 {
                let input = x + Float(lane) * 0.0137
                let exact = Glibc.exp(Double(input))
                if exact > 1e-37 && exact < 3e38 { worst = max(worst, abs(Double(lanes[lane]) - exact) / exact) }
            }
            x += 0.37
        }
        #expect(worst < 3e-7)
        let special = expLanes(SIMD16<Float>(-.infinity, .infinity, .nan, 0, 89, -120, 1, -1, 0, 0, 0, 0, 0, 0, 0, 0))
        #expect(special[0] == 0)
        #expect(special[1] == .infinity)
        #expect(special[2].isNaN)
        #expect(special[3] == 1)
        #expect(special[4] == .infinity)
        #expect(special[5] == 0)
        #expect(abs(special[6] - Float(M_E)) <= 2.4e-7 * Float(M_E))
    }
}
