import ShoalGGUF
import ShoalTestSupport
import Testing


/// Raw little-endian GGUF bytes, for crafting files the writer would refuse to produce.
struct RawGGUF {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func string(_ s: String) { raw(Array(s.utf8)) }
    mutating func raw(_ b: [UInt8]) {
        u64(UInt64(b.count))
        bytes.append(contentsOf: b)
    }

    /// Magic, version and the two counts.
    static func header(version: UInt32 = 3, tensors: UInt64, kvs: UInt64) -> RawGGUF {
        var r = RawGGUF()
        r.bytes = Array("GGUF".utf8)
        r.u32(version)
        r.u64(tensors)
        r.u64(kvs)
        return r
    }

    /// A tensor info entry.
    mutating func tensor(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) {
        string(name)
        u32(UInt32(dims.count))
        for d in dims { u64(d) }
        u32(type)
        u64(offset)
    }

    /// Pads with zeros to `alignment`, then appends `count` data bytes.
    mutating func data(count: Int, alignment: Int = 32) {
        while bytes.count % alignment != 0 { bytes.append(0) }
        bytes.append(contentsOf: repeatElement(0xAB, count: count))
    }
}

/// Opens `bytes`; returns the GGUFError if it throws one, nil if it opens. Any other error is recorded as an issue.
func openError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> GGUFError? {
    do {
        _ = try GGUFFile(bytes: bytes)
        return nil
    } catch let error as GGUFError {
        return error
    } catch {
        Issue.record("unexpected error type \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// A small file using every value type, nested arrays and several tensor types.
func sampleFile(alignment: Int = 32) throws -> (writer: GGUFWriter, tensorData: [String: [UInt8]]) {
    var w = GGUFWriter(alignment: alignment)
    for (key, value) in sampleMetadata { w.set(key, value) }
    var rng = SeededGenerator(seed: 7)
    var data: [String: [UInt8]] = [:]
    let shapes: [(String, GGMLType, [Int])] = [
        ("f32.weight", .f32, [4, 3]),
        ("odd.f16", .f16, [7]),
        ("q8.weight", .q8_0, [64, 2]),
        ("q4k.weight", .q4_K, [256, 1, 2]),
        ("q41.weight", .q4_1, [32, 2, 2, 2]),
    ]
    for (name, type, dims) in shapes {
        let count = type.byteCount(elements: dims.reduce(1, *))!
        let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
        try w.addTensor(name: name, type: type, dimensions: dims, data: bytes)
        data[name] = bytes
    }
    return (w, data)
}

let sampleMetadata: [(String, GGUFValue)] = [
    ("general.architecture", .string("llama")),
    ("u8", .uint8(255)),
    ("i8", .int8(-128)),
    ("u16", .uint16(65535)),
    ("i16", .int16(-32768)),
    ("u32", .uint32(.max)),
    ("i32", .int32(.min)),
    ("u64", .uint64(.max)),
    ("i64", .int64(.min)),
    ("f32", .float32(-1.5e-7)),
    ("f64", .float64(.pi)),
    ("yes", .bool(true)),
    ("no", .bool(false)),
    ("empty string", .string("")),
    ("unicode", .string("héllo ✓ 🐟 \u{0}")),
    ("strings", .array([.string("a"), .string(""), .string("Ġthe")])),
    ("floats", .array([.float32(1), .float32(-2.5)])),
    ("ints", .array([.int32(1), .int32(-2), .int32(3)])),
    ("empty array", .array([])),
    ("nested", .array([.array([.uint8(1), .uint8(2)]), .array([.string("x")]), .array([])])),
    ("deep", .array([.array([.array([.bool(true), .bool(false)])])])),
]
