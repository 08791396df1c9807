import ShoalTestSupport
import ShoalGGUF
import Testing
import ShoalKernels

/// Q5_0 and the K-quants: hand-built blocks whose weights are known, and the SIMD decoders against their scalar twins.
///
/// The expected weights are written weight by weight ("which bits make weight i"), not loop by loop as ggml's
/// decoders are, so a mistake copied into both decoders would still show.
@Suite struct KQuantDequantizeTests {
    /// The 12 bytes that ggml's `get_scale_min_k4` unpacks into these 6-bit scales and mins.
    func packScalesK4(_ sc: [UInt8], _ m: [UInt8]) -> [UInt8] {
        var s = [UInt8](repeating: 0, count: 12)
        for j in 0..<4 {
            s[j] = sc[j] | (sc[j + 4] >> 4) << 6
            s[j + 4] = m[j] | (m[j + 4] >> 4) << 6
            s[j + 8] = (sc[j + 4] & 15) | (m[j + 4] & 15) << 4
        }
        return s
    }

    func decoded(_ type: GGMLType, _ block: Buffer, count: Int) -> [[Float]] {
        let out = Buffer(bytes: count * 4)
        return [dequantizeRow, dequantizeRowReference].map { dequantize in
            dequantize(type, block.raw, out.floats, count)
            return Array(UnsafeBufferPointer(start: out.floats, count: count))
        }
    }

    @Test func q5_0BlockHasKnownValues() {
        let block = Buffer(bytes: 22)
        block.raw.storeBytes(of: halfBits(0.5), as: UInt16.self)
        let h: UInt32 = 0xA5C3_0F71
        block.raw.storeBytes(of: h, toByteOffset: 2, as: UInt32.self)
        for j in 0..<16 { block.raw.storeBytes(of: UInt8(j | ((15 - j) << 4)), toByteOffset: 6 + j, as: UInt8.self) }
        for values in decoded(.q5_0, block, count: 32) {
            for i in 0..<32 {
                let nibble = i < 16 ? i : 15 - (i - 16)
                let fifth = Int((h >> i) & 1)
                #expect(values[i] == Float(nibble + 16 * fifth - 16) * 0.5, "weight \(i)")
            }
        }
    }

    @Test(arguments: [false, true])
    func q4_KAndQ5_KBlocksHaveKnownValues(fiveBits: Bool) {
        let type: GGMLType = fiveBits ? .q5_K : .q4_K
        let sc: [UInt8] = [1, 63, 17, 32, 5, 48, 60, 33]
        let m: [UInt8] = [0, 7, 63, 40, 21, 50, 16, 3]
        let block = Buffer(bytes: type.blockBytes)
        block.raw.storeBytes(of: halfBits(0.5), as: UInt16.self)
        block.raw.storeBytes(of: halfBits(0.25), toByteOffset: 2, as: UInt16.self)
        for (i, byte) in packScalesK4(sc, m).enumerated() { block.raw.storeBytes(of: byte, toByteOffset: 4 + i, as: UInt8.self) }
        let qh = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let qs = (0..<128).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        let qsOffset = fiveBits ? 48 : 16
        if fiveBits { for l in 0..<32 { block.raw.storeBytes(of: qh[l], toByteOffset: 16 + l, as: UInt8.self) } }
        for l in 0..<128 { block.raw.storeBytes(of: qs[l], toByteOffset: qsOffset + l, as: UInt8.self) }
        for values in decoded(type, block, count: 256) {
            for i in 0..<256 {
                // Weight i is in sub-block i / 32; sub-block s reads byte 32 * (s / 2) + i % 32, low nibble if s is even.
                let sub = i / 32, l = i % 32
                let byte = qs[32 * (sub / 2) + l]
                var q = Int(sub % 2 == 0 ? byte & 15 : byte >> 4)
                if fiveBits { q += Int((qh[l] >> sub) & 1) * 16 }
                let expected = 0.5 * Float(sc[sub]) * Float(q) - 0.25 * Float(m[sub])
                #expect(values[i] == expected, "\(type) weight \(i)")
            }
        }
    }

    @Test func q6_KBlockHasKnownValues() {
        let block = Buffer(bytes: 210)
        let ql = (0..<128).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ 3) }
        let qh = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 53 &+ 17) }
        let scales: [Int8] = [-8, 1, 2, 3, 127, -128, 5, -1, 7, 9, -33, 64, 0, 11, -2, 100]
        for i in 0..<128 { block.raw.storeBytes(of: ql[i], toByteOffset: i, as: UInt8.self) }
        for i in 0..<64 { block.raw.storeBytes(of: qh[i], toByteOffset: 128 + i, as: UInt8.self) }
        for i in 0..<16 { block.raw.storeBytes(of: scales[i], toByteOffset: 192 + i, as: Int8.self) }
        block.raw.storeBytes(of: halfBits(0.25), toByteOffset: 208, as: UInt16.self)
        for values in decoded(.q6_K, block, count: 256) {
            for i in 0..<256 {
                // Half n = i / 128; within it quarter k = (i % 128) / 32 and l = i % 32. Quarters 0 and 2 read the
                // low / high nibble of ql[64n + l], quarters 1 and 3 those of ql[64n + 32 + l]; bits 2k, 2k+1 of
                // qh[32n + l] are the top two bits; the scale is scales[8n + 2k + l / 16].
                let n = i / 128, k = (i % 128) / 32, l = i % 32
                let byte = ql[64 * n + (k % 2 == 1 ? 32 : 0) + l]
                let nibble = Int(k < 2 ? byte & 15 : byte >> 4)
                let top = Int((qh[32 * n + l] >> (2 * k)) & 3)
                let expected = 0.25 * Float(scales[8 * n + 2 * k + l / 16]) * Float((nibble | top << 4) - 32)
                #expect(values[i] == expected, "weight \(i)")
            }
        }
    }

    @Test(arguments: [GGMLType.q5_0, .q4_K, .q5_K, .q6_K], [256, 512, 1536, 2048])
    func simdEqualsReferenceExactly(type: GGMLType, count: Int) {
        let seed = UInt64(count) &* 131 &+ UInt64(type.rawValue)
        var rng = SeededGenerator(seed: seed)
        let row = randomMatrix(type, rows: 1, columns: count, using: &rng)
        let fast = Buffer(bytes: count * 4)
        let reference = Buffer(bytes: count * 4)
        dequantizeRow(type, row.raw, fast.floats, count: count)
        dequantizeRowReference(type, row.raw, reference.floats, count: count)
        var differences = 0
        for i in 0..<count where fast.floats[i].bitPattern != reference.floats[i].bitPattern { differences += 1 }
        #expect(differences == 0, "\(type) count \(count) seed \(seed)")
    }
}
