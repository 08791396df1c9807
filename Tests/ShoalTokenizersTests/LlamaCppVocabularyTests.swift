import Foundation
import ShoalGGUF
import ShoalTokenizers
import Testing

/// llama.cpp's own tokenizer test data (`models/ggml-vocab-*.gguf` with `.inp` / `.out`, as read by its
/// test-tokenizer-0), present when `scripts/build-llama-cpp` has fetched llama.cpp into `.tools/`.
private let llamaCppModels = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent(".tools/llama.cpp-src/models")

private let llamaCppPresent = FileManager.default.fileExists(
    atPath: llamaCppModels.appendingPathComponent("ggml-vocab-gpt-2.gguf").path)

@Suite(.enabled(if: llamaCppPresent, "needs llama.cpp's vocabularies in .tools/ (scripts/build-llama-cpp)"))
struct LlamaCppVocabularyTests {
    /// Vocabulary file name and the pre-tokenizer its `tokenizer.ggml.pre` must select.
    @Test(arguments: [
        ("gpt-2", BPEPreTokenizer.gpt2), ("mpt", .gpt2), ("llama-bpe", .llama3), ("qwen2", .qwen2),
        ("starcoder", .smollm), ("refact", .smollm), ("command-r", .smollm),
    ])
    func encodesLikeLlamaCpp(_ name: String, _ preTokenizer: BPEPreTokenizer) throws {
        let base = llamaCppModels.appendingPathComponent("ggml-vocab-\(name).gguf")
        let tokenizer = try #require(try loadTokenizer(from: GGUFFile(path: base.path)) as? BPETokenizer)
        #expect(tokenizer.preTokenizer == preTokenizer)
        let input = try String(decoding: Data(contentsOf: base.appendingPathExtension("inp")), as: UTF8.self)
        let output = try String(decoding: Data(contentsOf: base.appendingPathExtension("out")), as: UTF8.self)
        let texts = input.components(separatedBy: "\n__ggml_vocab_test__\n")
        let expected = output.split(separator: "\n", omittingEmptySubsequences: false).prefix(texts.count)
        try #require(texts.count > 10 && expected.count == texts.count)
        for (text, line) in zip(texts, expected) {
            let ids = line.split(separator: " ").compactMap { Int32($0) }
            #expect(tokenizer.encode(text, addSpecial: false, parseSpecial: false) == ids, "\(String(reflecting: text))")
            #expect(tokenizer.decode(ids, skipSpecial: false) == text)
        }
    }
}
