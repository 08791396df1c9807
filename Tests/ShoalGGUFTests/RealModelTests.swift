import Foundation
import ShoalGGUF
import Testing

/// Where the real SmolLM2 model lives: `$SHOAL_TEST_MODEL_DIR` or `~/.cache/shoal/models`.
enum RealModel {
    static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    static var path: String {
        let env = ProcessInfo.processInfo.environment
        let dir = env["SHOAL_TEST_MODEL_DIR"] ?? (NSHomeDirectory() + "/.cache/shoal/models")
        return dir + "/" + fileName
    }

    static var required: Bool { ProcessInfo.processInfo.environment["SHOAL_REQUIRE_MODELS"] == "1" }

    /// Run when the file exists, or when models are required (then a missing file fails the test).
    static var enabled: Bool { required || FileManager.default.fileExists(atPath: path) }
}

@Suite(.enabled(if: RealModel.enabled, "needs \(RealModel.fileName) (set SHOAL_TEST_MODEL_DIR)"))
struct RealModelTests {
    @Test func headerAndTable() throws {
        let file = try GGUFFile(path: RealModel.path)
        #expect(file.version == 3)
        #expect(file.tensors.count == 272)
        #expect(file.metadata.count == 33)
        #expect(file.metadataKeys.count == 33)
        #expect(file.dataOffset == 1_785_664)
        #expect(file.alignment == 32)
        #expect(file.fileSize == 98_362_432)
        #expect(file.architecture == "llama")

        let embedding = try #require(file.tensor(named: "token_embd.weight"))
        #expect(embedding.type == .q8_0)
        #expect(embedding.dimensions == [576, 49152])
        #expect(embedding.rowLength == 576)
        #expect(embedding.rowCount == 49152)
        #expect(embedding.rowBytes == 576 / 32 * 34)
        #expect(embedding.byteCount == 576 / 32 * 34 * 49152)
        #expect(file.data(for: embedding).count == embedding.byteCount)
    }

    @Test func metadata() throws {
        let file = try GGUFFile(path: RealModel.path)
        #expect(try file.stringArray("tokenizer.ggml.tokens").count == 49152)
        #expect(try file.stringArray("tokenizer.ggml.merges").count == 48900)
        #expect(try file.int("llama.embedding_length") == 576)
        #expect(try file.int("llama.block_count") == 30)
        #expect(try file.string("tokenizer.ggml.model") == "gpt2")
        #expect(try file.optionalInt("no.such.key") == nil)
        #expect(throws: GGUFError.self) { try file.int("no.such.key") }
        #expect(throws: GGUFError.self) { try file.int("general.architecture") }
        // Keys come in file order: the first is the architecture in files written by llama.cpp's tools.
        #expect(file.metadataKeys.first == "general.architecture")
    }

    /// Every tensor's data lies inside the file and after the header.
    @Test func tensorBounds() throws {
        let file = try GGUFFile(path: RealModel.path)
        for t in file.tensors {
            let start = file.dataOffset + t.offset
            #expect(start % file.alignment == 0)
            #expect(start + t.byteCount <= file.fileSize)
            #expect(t.byteCount == t.rowBytes * t.rowCount)
        }
    }
}
