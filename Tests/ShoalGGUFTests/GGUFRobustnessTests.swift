import Foundation
import ShoalGGUF
import ShoalTestSupport
import Testing

/// Truncated, corrupted and hostile files must open or throw `GGUFError`, never crash or read out of bounds.
struct GGUFRobustnessTests {
    /// Checks that an opened file's tensors lie inside it, and touches their first and last bytes.
    private func checkInvariants(_ file: GGUFFile) {
        #expect(file.alignment > 0 && file.alignment & (file.alignment - 1) == 0)
        #expect(file.metadataKeys.count == file.metadata.count)
        for t in file.tensors {
            #expect(file.dataOffset + t.offset + t.byteCount <= file.fileSize)
            let data = file.data(for: t)
            if data.count > 0 {
                _ = data[0] &+ data[data.count - 1]
            }
        }
    }

    @Test func everyTruncationThrows() throws {
        let bytes = try sampleFile().writer.serialized()
        #expect(throws: Never.self) { try GGUFFile(bytes: bytes) }
        for length in 0..<bytes.count {
            let error = openError(Array(bytes[..<length]))
            #expect(error != nil, "prefix of \(length) bytes opened")
            if let error, length >= 24 {
                #expect(error.code == .truncated || error.code == .outOfBounds, "\(length): \(error)")
            }
        }
    }

    @Test(arguments: [1 as UInt64, 2, 3, 4])
    func randomByteFlips(seed: UInt64) throws {
        let original = try sampleFile().writer.serialized()
        var rng = SeededGenerator(seed: seed)
        var opened = 0
        for round in 0..<500 {
            var bytes = original
            // Corrupt mostly the header and tables, where the interesting parsing happens.
            let limit = round % 4 == 0 ? bytes.count : min(bytes.count, 700)
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let i = Int.random(in: 0..<limit, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[i] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
                case 1: bytes[i] = UInt8.random(in: 0...255, using: &rng)
                default: bytes[i] = [0x00, 0xFF, 0x7F, 0x80][Int.random(in: 0..<4, using: &rng)]
                }
            }
            if Int.random(in: 0..<8, using: &rng) == 0 {
                bytes.removeLast(Int.random(in: 0..<bytes.count, using: &rng))
            }
            do {
                let file = try GGUFFile(bytes: bytes)
                checkInvariants(file)
                opened += 1
            } catch is GGUFError {
            } catch {
                Issue.record("seed \(seed) round \(round): unexpected error \(error)")
            }
        }
        // Flips in tensor data or unused bits leave files that open: the test must have exercised both paths.
        #expect(opened > 0, "seed \(seed)")
        #expect(opened < 500, "seed \(seed)")
    }

    @Test func randomGarbage() {
        var rng = SeededGenerator(seed: 99)
        for length in [0, 1, 4, 8, 23, 24, 25, 100, 4096] {
            for _ in 0..<50 {
                var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if length >= 8 {  // Valid magic and version, random everything else.
                    bytes.replaceSubrange(0..<8, with: Array("GGUF".utf8) + [3, 0, 0, 0])
                }
                _ = openError(bytes)
            }
        }
    }

    // MARK: Hand-crafted hostile files

    private func expectError(
        _ bytes: [UInt8], _ code: GGUFError.Code, mentioning parts: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let error = openError(bytes, sourceLocation: sourceLocation) else {
            Issue.record("file opened; expected \(code)", sourceLocation: sourceLocation)
            return
        }
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        for part in parts {
            #expect(error.message.contains(part), "'\(error.message)' should mention '\(part)'", sourceLocation: sourceLocation)
        }
    }

    @Test func badMagicAndVersion() {
        expectError([], .notGGUF)
        expectError(Array("GGU".utf8), .notGGUF)
        expectError(Array("GGML".utf8) + [3, 0, 0, 0] + [UInt8](repeating: 0, count: 16), .notGGUF)
        expectError(RawGGUF.header(version: 1, tensors: 0, kvs: 0).bytes, .unsupportedVersion, mentioning: ["1"])
        expectError(RawGGUF.header(version: 4, tensors: 0, kvs: 0).bytes, .unsupportedVersion, mentioning: ["4"])
        expectError(RawGGUF.header(version: 0x0300_0000, tensors: 0, kvs: 0).bytes, .unsupportedVersion, mentioning: ["big-endian"])
        #expect(openError(RawGGUF.header(version: 2, tensors: 0, kvs: 0).bytes) == nil)
        expectError(Array("GGUF".utf8) + [3, 0, 0, 0, 1, 0, 0], .truncated, mentioning: ["tensor count"])
    }

    @Test func absurdCounts() {
        expectError(RawGGUF.header(tensors: .max, kvs: 0).bytes, .truncated, mentioning: ["tensor count"])
        expectError(RawGGUF.header(tensors: 1 << 40, kvs: 0).bytes, .truncated, mentioning: ["tensor count"])
        expectError(RawGGUF.header(tensors: 0, kvs: .max).bytes, .truncated, mentioning: ["metadata count"])

        var longKey = RawGGUF.header(tensors: 0, kvs: 1)
        longKey.u64(.max)
        longKey.bytes += [UInt8](repeating: 0, count: 16)
        expectError(longKey.bytes, .truncated, mentioning: ["metadata key #0"])

        var longString = RawGGUF.header(tensors: 0, kvs: 1)
        longString.string("s")
        longString.u32(8)
        longString.u64(1 << 62)
        expectError(longString.bytes, .truncated, mentioning: ["'s'"])

        var longArray = RawGGUF.header(tensors: 0, kvs: 1)
        longArray.string("arr")
        longArray.u32(9)
        longArray.u32(6)  // float32
        longArray.u64(1 << 61)
        longArray.bytes += [UInt8](repeating: 0, count: 64)
        expectError(longArray.bytes, .truncated, mentioning: ["'arr'", "element count"])

        var manyStrings = RawGGUF.header(tensors: 0, kvs: 1)
        manyStrings.string("tokens")
        manyStrings.u32(9)
        manyStrings.u32(8)  // string: each needs at least its 8-byte length
        manyStrings.u64(100)
        manyStrings.bytes += [UInt8](repeating: 0, count: 799)
        expectError(manyStrings.bytes, .truncated, mentioning: ["'tokens'"])
        manyStrings.bytes.append(0)
        #expect(openError(manyStrings.bytes) == nil)
    }

    @Test func badMetadataValues() {
        var unknownType = RawGGUF.header(tensors: 0, kvs: 1)
        unknownType.string("key")
        unknownType.u32(13)
        unknownType.u64(0)
        expectError(unknownType.bytes, .unknownType, mentioning: ["'key'", "13"])

        var unknownElement = RawGGUF.header(tensors: 0, kvs: 1)
        unknownElement.string("key")
        unknownElement.u32(9)
        unknownElement.u32(0xFFFF_FFFF)
        unknownElement.u64(0)
        expectError(unknownElement.bytes, .unknownType, mentioning: ["'key'"])

        var badBool = RawGGUF.header(tensors: 0, kvs: 1)
        badBool.string("flag")
        badBool.u32(7)
        badBool.u8(2)
        expectError(badBool.bytes, .invalidValue, mentioning: ["'flag'"])

        var badKey = RawGGUF.header(tensors: 0, kvs: 1)
        badKey.raw([0x61, 0xFF, 0xFE])
        badKey.u32(0)
        badKey.u8(0)
        expectError(badKey.bytes, .invalidString, mentioning: ["metadata key #0"])

        var badString = RawGGUF.header(tensors: 0, kvs: 1)
        badString.string("name")
        badString.u32(8)
        badString.raw([0xC3])  // a lone lead byte
        expectError(badString.bytes, .invalidString, mentioning: ["'name'"])

        var duplicate = RawGGUF.header(tensors: 0, kvs: 2)
        for _ in 0..<2 {
            duplicate.string("k")
            duplicate.u32(0)
            duplicate.u8(1)
        }
        expectError(duplicate.bytes, .duplicate, mentioning: ["'k'"])

        // Arrays nested 1000 deep must not exhaust the stack.
        var deep = RawGGUF.header(tensors: 0, kvs: 1)
        deep.string("deep")
        deep.u32(9)
        for _ in 0..<1000 {
            deep.u32(9)
            deep.u64(1)
        }
        deep.u32(0)
        deep.u64(0)
        expectError(deep.bytes, .invalidValue, mentioning: ["'deep'", "deep"])
    }

    @Test(arguments: [
        (UInt64(0), "0"), (UInt64(3), "3"), (UInt64(48), "48"), (UInt64(1) << 33, "8589934592"),
    ])
    func badAlignment(value: UInt64, text: String) {
        var r = RawGGUF.header(tensors: 0, kvs: 1)
        r.string("general.alignment")
        r.u32(10)
        r.u64(value)
        if value == 1 << 33 {
            #expect(openError(r.bytes) == nil)  // a power of two, just large
        } else {
            expectError(r.bytes, .invalidValue, mentioning: ["general.alignment", text])
        }
    }

    @Test func alignmentOfWrongType() {
        var r = RawGGUF.header(tensors: 0, kvs: 1)
        r.string("general.alignment")
        r.u32(8)
        r.string("32")
        expectError(r.bytes, .invalidValue, mentioning: ["general.alignment"])
    }

    /// One tensor entry and `dataBytes` bytes of data.
    private func oneTensor(
        name: String = "w", dims: [UInt64] = [4], type: UInt32 = 0, offset: UInt64 = 0, dataBytes: Int = 16
    ) -> [UInt8] {
        var r = RawGGUF.header(tensors: 1, kvs: 0)
        r.tensor(name, dims: dims, type: type, offset: offset)
        r.data(count: dataBytes)
        return r.bytes
    }

    @Test func validTensorOpens() throws {
        let file = try GGUFFile(bytes: oneTensor())
        #expect(file.tensors.first?.byteCount == 16)
        #expect(file.dataOffset == 64)
    }

    @Test func badTensors() {
        expectError(oneTensor(type: 4), .unknownType, mentioning: ["'w'", "4"])
        expectError(oneTensor(name: "blk.0.attn_q.weight", type: 1000), .unknownType, mentioning: ["blk.0.attn_q.weight", "1000"])
        expectError(oneTensor(dims: []), .invalidValue, mentioning: ["'w'", "0 dimensions"])
        expectError(oneTensor(dims: [1, 1, 1, 1, 1]), .invalidValue, mentioning: ["'w'", "5 dimensions"])
        expectError(oneTensor(dims: [.max]), .invalidValue, mentioning: ["'w'"])
        expectError(oneTensor(dims: [1 << 63]), .invalidValue, mentioning: ["'w'"])
        expectError(oneTensor(dims: [1 << 40, 1 << 40]), .invalidValue, mentioning: ["'w'"])
        expectError(oneTensor(dims: [1 << 31, 1 << 31, 4]), .invalidValue, mentioning: ["'w'"])  // bytes overflow
        expectError(oneTensor(dims: [1 << 20]), .outOfBounds, mentioning: ["'w'"])
        expectError(oneTensor(dims: [16], type: 8, dataBytes: 34), .invalidValue, mentioning: ["'w'", "block size 32"])
        expectError(oneTensor(offset: 8), .outOfBounds, mentioning: ["'w'", "alignment"])
        expectError(oneTensor(offset: 32), .outOfBounds, mentioning: ["'w'"])
        expectError(oneTensor(offset: UInt64(Int.max) - 31), .outOfBounds, mentioning: ["'w'"])
        expectError(oneTensor(offset: .max), .outOfBounds, mentioning: ["'w'"])
        expectError(oneTensor(dataBytes: 15), .outOfBounds, mentioning: ["'w'"])
        #expect(openError(oneTensor(dataBytes: 17)) == nil)

        var badName = RawGGUF.header(tensors: 1, kvs: 0)
        badName.raw([0xED, 0xA0, 0x80])  // an encoded surrogate
        badName.u32(1)
        badName.u64(4)
        badName.u32(0)
        badName.u64(0)
        badName.data(count: 16)
        expectError(badName.bytes, .invalidString, mentioning: ["tensor #0"])

        var duplicate = RawGGUF.header(tensors: 2, kvs: 0)
        duplicate.tensor("same", dims: [4], type: 0, offset: 0)
        duplicate.tensor("same", dims: [4], type: 0, offset: 32)
        duplicate.data(count: 64)
        expectError(duplicate.bytes, .duplicate, mentioning: ["'same'"])
    }

    @Test func pathErrorsNameThePath() throws {
        let missing = try #require(throws: GGUFError.self) { try GGUFFile(path: "/nonexistent/model.gguf") }
        #expect(missing.code == .io)
        #expect(missing.message.contains("/nonexistent/model.gguf"))
        let directory = try #require(throws: GGUFError.self) { try GGUFFile(path: "/tmp") }
        #expect(directory.code == .io)
        #expect(directory.message.contains("/tmp"))

        // Mapped files go through the same checks: an empty file, a stub and a truncated sample.
        let base = NSTemporaryDirectory() + "shoal-gguf-trunc-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let sample = try sampleFile().writer.serialized()
        for (i, length) in [0, 5, 100, sample.count - 1].enumerated() {
            let path = "\(base)-\(i).gguf"
            defer { try? FileManager.default.removeItem(atPath: path) }
            try Data(sample[..<length]).write(to: URL(fileURLWithPath: path))
            let error = try #require(throws: GGUFError.self) { try GGUFFile(path: path) }
            #expect(error.message.hasPrefix(path), "\(error)")
        }
    }
}
