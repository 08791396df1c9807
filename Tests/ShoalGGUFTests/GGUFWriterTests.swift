import Foundation
import ShoalGGUF
import Testing

struct GGUFWriterTests {
    @Test(arguments: [32, 64])
    func roundTrip(alignment: Int) throws {
        let (writer, tensorData) = try sampleFile(alignment: alignment)
        let bytes = writer.serialized()
        let file = try GGUFFile(bytes: bytes)

        #expect(file.version == 3)
        #expect(file.alignment == alignment)
        #expect(file.dataOffset % alignment == 0)
        #expect(file.fileSize == bytes.count)
        var expectedKeys = sampleMetadata.map(\.0)
        if alignment != 32 { expectedKeys.insert("general.alignment", at: 0) }
        #expect(file.metadataKeys == expectedKeys)
        for (key, value) in sampleMetadata {
            #expect(file.metadata[key] == value, "\(key)")
        }
        #expect(file.architecture == "llama")

        #expect(file.tensors.map(\.name) == ["f32.weight", "odd.f16", "q8.weight", "q4k.weight", "q41.weight"])
        for t in file.tensors {
            #expect(t.offset % alignment == 0)
            #expect(Array(file.data(for: t)) == tensorData[t.name])
        }
        let q4k = try #require(file.tensor(named: "q4k.weight"))
        #expect(q4k.type == .q4_K)
        #expect(q4k.dimensions == [256, 1, 2])
        #expect(q4k.rowCount == 2)
        #expect(q4k.rowBytes == 144)
        #expect(q4k.elementCount == 512)
        #expect(file.tensor(named: "missing") == nil)
    }

    @Test(arguments: [GGUFFile.Residency.mapped, .hugePageCopy])
    func writeToPathAndOpen(residency: GGUFFile.Residency) throws {
        let (writer, tensorData) = try sampleFile()
        let path = NSTemporaryDirectory() + "shoal-gguf-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).gguf"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writer.write(to: path)
        let file = try GGUFFile(path: path, residency: residency)
        #expect(Array(file.bytes) == writer.serialized())
        for t in file.tensors {
            #expect(Array(file.data(for: t)) == tensorData[t.name])
        }
    }

    /// Version 2 has the same layout as version 3 for little-endian files.
    @Test func readsVersion2() throws {
        var bytes = try sampleFile().writer.serialized()
        bytes[4] = 2
        let file = try GGUFFile(bytes: bytes)
        #expect(file.version == 2)
        #expect(file.tensors.count == 5)
        #expect(file.metadata.count == sampleMetadata.count)
    }

    @Test func setTwiceKeepsPosition() throws {
        var w = GGUFWriter()
        w.set("a", .uint32(1))
        w.set("b", .uint32(2))
        w.set("a", .string("again"))
        let file = try GGUFFile(bytes: w.serialized())
        #expect(file.metadataKeys == ["a", "b"])
        #expect(file.metadata["a"] == .string("again"))
    }

    @Test func emptyFile() throws {
        let file = try GGUFFile(bytes: GGUFWriter().serialized())
        #expect(file.metadata.isEmpty)
        #expect(file.tensors.isEmpty)
    }

    @Test func zeroSizedTensor() throws {
        var w = GGUFWriter()
        try w.addTensor(name: "empty", type: .f32, dimensions: [0, 5], data: [])
        try w.addTensor(name: "after", type: .f32, dimensions: [1], data: [1, 2, 3, 4])
        let file = try GGUFFile(bytes: w.serialized())
        let empty = try #require(file.tensor(named: "empty"))
        #expect(empty.byteCount == 0)
        #expect(empty.rowCount == 5)
        #expect(file.data(for: empty).count == 0)
        #expect(file.data(for: empty).baseAddress != nil)
        #expect(Array(file.data(for: file.tensor(named: "after")!)) == [1, 2, 3, 4])
    }

    @Test func addTensorRejectsBadInput() throws {
        var w = GGUFWriter()
        #expect(throws: GGUFError.self) { try w.addTensor(name: "short", type: .f32, dimensions: [4], data: [0, 0]) }
        #expect(throws: GGUFError.self) { try w.addTensor(name: "nodims", type: .f32, dimensions: [], data: []) }
        #expect(throws: GGUFError.self) {
            try w.addTensor(name: "5d", type: .f32, dimensions: [1, 1, 1, 1, 1], data: [0, 0, 0, 0])
        }
        #expect(throws: GGUFError.self) { try w.addTensor(name: "neg", type: .f32, dimensions: [-1], data: []) }
        let partialBlock = try #require(throws: GGUFError.self) {
            try w.addTensor(name: "partial", type: .q8_0, dimensions: [16, 2], data: [UInt8](repeating: 0, count: 34))
        }
        #expect(partialBlock.message.contains("partial"))
        try w.addTensor(name: "ok", type: .f32, dimensions: [1], data: [0, 0, 0, 0])
        let duplicate = try #require(throws: GGUFError.self) {
            try w.addTensor(name: "ok", type: .f32, dimensions: [1], data: [0, 0, 0, 0])
        }
        #expect(duplicate.code == .duplicate)
        #expect(try GGUFFile(bytes: w.serialized()).tensors.count == 1)
    }

    @Test func writeToMissingDirectoryThrows() throws {
        let error = try #require(throws: GGUFError.self) {
            try GGUFWriter().write(to: "/nonexistent-dir-shoal/x.gguf")
        }
        #expect(error.code == .io)
        #expect(error.message.contains("/nonexistent-dir-shoal/x.gguf"))
    }
}
