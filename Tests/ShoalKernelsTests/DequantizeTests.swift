import ShoalTestSupport
import ShoalGGUF
import Testing
import ShoalKernels

@Suite struct DequantizeTests {
    @Test func q4_1BlockHasKnownValues() {
        let block = Buffer(bytes: 20)
        block.raw.storeBytes(of: halfBits(0.5), as: UInt16.self)
        block.raw.storeBytes(of: halfBits(-2), toByteOffset: 2, as: UInt16.self)
        for j in 0..<16 { block.raw.storeBytes(of: UInt8(j | ((15 - j) << 4)), toByteOffset: 4 + j, as: UInt8.self) }
        let out = Buffer(bytes: 32 * 4)
        for dequantize in [dequantizeRow, dequantizeRowReference] {
            dequantize(.q4_1, block.raw, out.floats, 32)
            for j in 0..<16 {
                #expect(out.floats[j] == Float(j) * 0.5 - 2)
                #expect(out.floats[j + 16] == Float(15 - j) * 0.5 - 2)
            }
        }
    }

    @Test func q4_0BlockHasKnownValues() {
        let block = Buffer(bytes: 18)
        block.raw.storeBytes(of: halfBits(0.25), as: UInt16.self)
        for j in 0..<16 { block.raw.storeBytes(of: UInt8(j | ((15 - j) << 4)), toByteOffset: 2 + j, as: UInt8.self) }
        let out = Buffer(bytes: 32 * 4)
        for dequantize in [dequantizeRow, dequantizeRowReference] {
            dequantize(.q4_0, block.raw, out.floats, 32)
            for j in 0..<16 {
                #expect(out.floats[j] == Float(j - 8) * 0.25)
                #expect(out.floats[j + 16] == Float(7 - j) * 0.25)
            }
        }
    }

    @Test func q8_0BlockHasKnownValues() {
        let block = Buffer(bytes: 34)
        block.raw.storeBytes(of: halfBits(0.125), as: UInt16.self)
        let values: [Int8] = (0..<32).map { Int8(truncatingIfNeeded: $0 * 8 - 128) }
        for j in 0..<32 { block.raw.storeBytes(of: values[j], toByteOffset: 2 + j, as: Int8.self) }
        let out = Buffer(bytes: 32 * 4)
        for dequantize in [dequantizeRow, dequantizeRowReference] {
            dequantize(.q8_0, block.raw, out.floats, 32)
            for j in 0..<32 { #expect(out.floats[j] == Float(values[j]) * 0.125) }
        }
    }

    @Test(arguments: [
        (UInt16(0x0000), Float(0)), (UInt16(0x8000), Float(-0.0)), (UInt16(0x3C00), Float(1)), (UInt16(0xC000), Float(-2)),
        (UInt16(0x7BFF), Float(65504)), (UInt16(0x0001), Float(0x1p-24)), (UInt16(0x03FF), Float(1023 * 0x1p-24)),
        (UInt16(0x8001), Float(-0x1p-24)), (UInt16(0x0400), Float(0x1p-14)), (UInt16(0x7C00), Float.infinity),
        (UInt16(0xFC00), -Float.infinity), (UInt16(0x3555), Float(0.333251953125)),
    ])
    func halfConversion(bits: UInt16, expected: Float) {
        #expect(floatFromHalf(bits).bitPattern == expected.bitPattern)
        #expect(floatFromHalfReference(bits).bitPattern == expected.bitPattern)
        let one = Buffer(bytes: 2)
        one.raw.storeBytes(of: bits, as: UInt16.self)
        let out = Buffer(bytes: 4)
        dequantizeRow(.f16, one.raw, out.floats, count: 1)
        #expect(out.floats[0].bitPattern == expected.bitPattern)
    }

    @Test func halfNaNStaysNaN() {
        #expect(floatFromHalf(0x7E00).isNaN)
        #expect(floatFromHalfReference(0x7E00).isNaN)
        #expect(floatFromHalfReference(0x7C01).isNaN)
    }

    @Test(arguments: [
        (UInt16(0x3F80), Float(1)), (UInt16(0xC040), Float(-3)), (UInt16(0x7F80), Float.infinity),
        (UInt16(0xFF80), -Float.infinity), (UInt16(0x0001), Float(bitPattern: 0x0001_0000)), (UInt16(0x0000), Float(0)),
        (UInt16(0x8000), Float(-0.0)),
    ])
    func bfloat16Conversion(bits: UInt16, expected: Float) {
        let one = Buffer(bytes: 2)
        one.raw.storeBytes(of: bits, as: UInt16.self)
        let out = Buffer(bytes: 4)
        dequantizeRow(.bf16, one.raw, out.floats, count: 1)
        #expect(out.floats[0].bitPattern == expected.bitPattern)
        dequantizeRowReference(.bf16, one.raw, out.floats, count: 1)
        #expect(out.floats[0].bitPattern == expected.bitPattern)
    }

    @Test(arguments: supportedTypes, [32, 64, 96, 576, 1536])
    func simdMatchesReference(type: GGMLType, count: Int) {
        let seed = UInt64(count) &* 31 &+ UInt64(type.rawValue)
        var rng = SeededGenerator(seed: seed)
        let row = randomMatrix(type, rows: 1, columns: count, using: &rng)
        let fast = Buffer(bytes: count * 4)
        let reference = Buffer(bytes: count * 4)
        dequantizeRow(type, row.raw, fast.floats, count: count)
        dequantizeRowReference(type, row.raw, reference.floats, count: count)
        var worst: Float = 0
        for i in 0..<count {
            worst = max(worst, abs(fast.floats[i] - reference.floats[i]) / max(abs(reference.floats[i]), 1e-3))
        }
        // Only Q4_1's fused multiply-add may round differently (one ulp).
        #expect(worst <= 2.4e-7, "seed \(seed)")
    }

    @Test func oddF16AndBF16CountsUseTheScalarTail() {
        var rng = SeededGenerator(seed: 7)
        for type in [GGMLType.f16, .bf16, .f32] {
            for count in [1, 2, 3, 7, 15, 17, 31, 33] {
                let row = randomMatrix(type, rows: 1, columns: count, using: &rng)
                let fast = Buffer(bytes: count * 4)
                let reference = Buffer(bytes: count * 4)
                dequantizeRow(type, row.raw, fast.floats, count: count)
                dequantizeRowReference(type, row.raw, reference.floats, count: count)
                for i in 0..<count { #expect(fast.floats[i] == reference.floats[i], "\(type) count \(count) index \(i)") }
            }
        }
    }
}
