import ShoalTestSupport
import Testing
import ShoalKernels

@Suite struct RoPETests {
    @Test(arguments: [0, 1, 2, 17, 100, 1000, 4095])
    func matchesDoubleReference(position: Int) {
        for neox in [false, true] {
            var rng = SeededGenerator(seed: UInt64(position))
            let heads = 3, headDim = 64
            for ropeDims in [64, 32] {
                let x = randomFloats(heads * headDim, using: &rng)
                let fast = Buffer(bytes: heads * headDim * 4)
                let tabled = Buffer(bytes: heads * headDim * 4)
                let reference = Buffer(bytes: heads * headDim * 4)
                for buffer in [fast, tabled, reference] { buffer.floats.update(from: x.floats, count: heads * headDim) }
                let table = RoPETable(ropeDims: ropeDims, base: 10000, positions: 2048)
                if neox {
                    ropeNeox(fast.floats, heads: heads, headDim: headDim, ropeDims: ropeDims, position: position, base: 10000)
                    ropeNeox(tabled.floats, heads: heads, headDim: headDim, table: table, position: position)
                    ropeNeoxReference(reference.floats, heads: heads, headDim: headDim, ropeDims: ropeDims, position: position, base: 10000)
                } else {
                    ropeNorm(fast.floats, heads: heads, headDim: headDim, ropeDims: ropeDims, position: position, base: 10000)
                    ropeNorm(tabled.floats, heads: heads, headDim: headDim, table: table, position: position)
                    ropeNormReference(reference.floats, heads: heads, headDim: headDim, ropeDims: ropeDims, position: position, base: 10000)
                }
                // Float angles (as in the float32 reference model) differ from Double ones by about position * 2^-24 radians.
                let tolerance = 1e-6 + Float(position) * 1.2e-7
                var failures = 0
                for i in 0..<heads * headDim {
                    if !(abs(fast.floats[i] - reference.floats[i]) <= tolerance) { failures += 1 }
                    if fast.floats[i] != tabled.floats[i] { failures += 1 }
                    // Dimensions past ropeDims stay as they were.
                    if i % headDim >= ropeDims && fast.floats[i] != x.floats[i] { failures += 1 }
                }
                #expect(failures == 0, "neox \(neox) ropeDims \(ropeDims) position \(position)")
            }
        }
    }
}
