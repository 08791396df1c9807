import ShoalGGUF
import ShoalKernels
import ShoalTestSupport


/// Owned, 64-byte aligned bytes freed at deinit.
final class Buffer {
    let raw: UnsafeMutableRawPointer
    let bytes: Int
    init(bytes: Int) {
        self.bytes = bytes
        raw = .allocate(byteCount: max(bytes, 1), alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: max(bytes, 1))
    }
    deinit { raw.deallocate() }
    var floats: UnsafeMutablePointer<Float> { raw.assumingMemoryBound(to: Float.self) }
}

/// Random floats in -scale...scale.
func randomFloats(_ count: Int, scale: Float = 1, using rng: inout SeededGenerator) -> Buffer {
    let buffer = Buffer(bytes: count * 4)
    for i in 0..<count { buffer.floats[i] = Float.random(in: -scale...scale, using: &rng) }
    return buffer
}

func halfBits(_ value: Float) -> UInt16 { Float16(value).bitPattern }

/// A random `rows` x `columns` matrix of `type` with sane block scales (no NaN or inf).
func randomMatrix(_ type: GGMLType, rows: Int, columns: Int, using rng: inout SeededGenerator) -> Buffer {
    let rowBytes = columns / type.blockSize * type.blockBytes
    let buffer = Buffer(bytes: rows * rowBytes)
    let raw = buffer.raw
    for i in 0..<rows * rowBytes { raw.storeBytes(of: UInt8.random(in: 0...255, using: &rng), toByteOffset: i, as: UInt8.self) }
    let blocks = rows * columns / type.blockSize
    switch type {
    case .f32:
        for i in 0..<rows * columns { raw.storeBytes(of: Float.random(in: -1...1, using: &rng), toByteOffset: 4 * i, as: Float.self) }
    case .f16:
        for i in 0..<rows * columns { raw.storeBytes(of: halfBits(Float.random(in: -1...1, using: &rng)), toByteOffset: 2 * i, as: UInt16.self) }
    case .bf16:
        for i in 0..<rows * columns {
            let bits = UInt16(Float.random(in: -1...1, using: &rng).bitPattern >> 16)
            raw.storeBytes(of: bits, toByteOffset: 2 * i, as: UInt16.self)
        }
    case .q4_0, .q8_0:
        for b in 0..<blocks {
            raw.storeBytes(of: halfBits(Float.random(in: 0.001...0.05, using: &rng)), toByteOffset: b * type.blockBytes, as: UInt16.self)
        }
    case .q4_1:
        for b in 0..<blocks {
            let d = Float.random(in: 0.001...0.05, using: &rng)
            raw.storeBytes(of: halfBits(d), toByteOffset: b * 20, as: UInt16.self)
            raw.storeBytes(of: halfBits(-8 * d + Float.random(in: -0.02...0.02, using: &rng)), toByteOffset: b * 20 + 2, as: UInt16.self)
        }
    case .q5_1:
        for b in 0..<blocks {
            let d = Float.random(in: 0.001...0.05, using: &rng)
            raw.storeBytes(of: halfBits(d), toByteOffset: b * 24, as: UInt16.self)
            raw.storeBytes(of: halfBits(-16 * d + Float.random(in: -0.02...0.02, using: &rng)), toByteOffset: b * 24 + 2, as: UInt16.self)
        }
    case .q5_0:
        for b in 0..<blocks {
            raw.storeBytes(of: halfBits(Float.random(in: 0.001...0.05, using: &rng)), toByteOffset: b * 22, as: UInt16.self)
        }
    case .q4_K, .q5_K:
        for b in 0..<blocks {
            raw.storeBytes(of: halfBits(Float.random(in: 0.0005...0.005, using: &rng)), toByteOffset: b * type.blockBytes, as: UInt16.self)
            raw.storeBytes(of: halfBits(Float.random(in: 0.0005...0.005, using: &rng)), toByteOffset: b * type.blockBytes + 2, as: UInt16.self)
        }
    case .q6_K:
        for b in 0..<blocks {
            raw.storeBytes(of: halfBits(Float.random(in: 0.0005...0.005, using: &rng)), toByteOffset: b * 210 + 208, as: UInt16.self)
        }
    default:
        fatalError("no random generator for \(type)")
    }
    return buffer
}

let supportedTypes: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0]
/// Types whose blocks hold 256 weights (rows must be a multiple of 256 long).
let kQuantTypes: [GGMLType] = [.q4_K, .q5_K, .q6_K]
