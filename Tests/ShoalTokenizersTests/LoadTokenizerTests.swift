import ShoalGGUF
import ShoalTokenizers
import Testing

@Suite struct LoadTokenizerTests {
    let vocabulary = TinyVocabulary(
        merges: ["h e", "l l", "he ll", "hell o"], specials: [("<|begin|>", .control), ("<|end|>", .control)])

    /// A GGUF file with only tokenizer metadata, written in memory; a nil argument leaves its key out.
    func file(
        model: String? = "gpt2", pre: String? = "smollm", addBOS: Bool? = true,
        edit: (inout GGUFWriter) -> Void = { _ in }
    ) throws -> GGUFFile {
        var writer = GGUFWriter()
        if let model { writer.set("tokenizer.ggml.model", .string(model)) }
        if let pre { writer.set("tokenizer.ggml.pre", .string(pre)) }
        writer.set("tokenizer.ggml.tokens", .array(vocabulary.tokens.map { .string($0) }))
        writer.set("tokenizer.ggml.token_type", .array(vocabulary.types.map { .int32(Int32($0)) }))
        writer.set("tokenizer.ggml.merges", .array(vocabulary.merges.map { .string($0) }))
        writer.set("tokenizer.ggml.bos_token_id", .uint32(UInt32(vocabulary.id("<|begin|>"))))
        writer.set("tokenizer.ggml.eos_token_id", .uint32(UInt32(vocabulary.id("<|end|>"))))
        if let addBOS { writer.set("tokenizer.ggml.add_bos_token", .bool(addBOS)) }
        edit(&writer)
        return try GGUFFile(bytes: writer.serialized())
    }

    @Test func loadsByteLevelBPE() throws {
        let tokenizer = try loadTokenizer(from: file())
        let bpe = try #require(tokenizer as? BPETokenizer)
        let begin = vocabulary.id("<|begin|>")
        let end = vocabulary.id("<|end|>")
        #expect(bpe.vocabularySize == vocabulary.tokens.count)
        #expect(bpe.preTokenizer == .smollm)
        #expect(bpe.bosID == begin && bpe.eosID == end && bpe.addsBOS && !bpe.addsEOS)
        #expect(bpe.endOfTurnIDs == [end])
        #expect(bpe.encode("hello<|end|>", addSpecial: true, parseSpecial: true) == [begin, vocabulary.id("hello"), end])
    }

    @Test func addBOSDefaultsFollowLlamaCpp() throws {
        let llama3 = try loadTokenizer(from: file(pre: "llama-bpe", addBOS: nil))
        #expect(llama3.addsBOS)
        let smollm = try loadTokenizer(from: file(pre: "smollm", addBOS: nil))
        #expect(!smollm.addsBOS)
        let explicit = try loadTokenizer(from: file(pre: "llama-bpe", addBOS: false))
        #expect(!explicit.addsBOS)
    }

    @Test func readsEndOfTurnAndOptionalIDs() throws {
        let tokenizer = try loadTokenizer(from: file(pre: nil) {
            $0.set("tokenizer.ggml.eot_token_id", .int32(Int32(vocabulary.id("hello"))))
            $0.set("tokenizer.ggml.unknown_token_id", .int32(-1))
        })
        let bpe = try #require(tokenizer as? BPETokenizer)
        #expect(bpe.endOfTurnIDs == [vocabulary.id("<|end|>"), vocabulary.id("hello")])
        #expect(bpe.unknownID == nil)
        #expect(bpe.preTokenizer == .gpt2 && bpe.preTokenizerName == nil)
    }

    @Test func unknownPreTokenizerNameIsReported() throws {
        let bpe = try #require(try loadTokenizer(from: file(pre: "future-model")) as? BPETokenizer)
        #expect(!bpe.isPreTokenizerRecognized)
        #expect(bpe.preTokenizerName == "future-model")
    }

    @Test func loadsSentencePieceForLlamaModel() throws {
        let tokenizer = try loadTokenizer(from: file(model: "llama"))
        #expect(tokenizer is SentencePieceTokenizer)
        #expect(tokenizer.vocabularySize == vocabulary.tokens.count)
    }

    @Test func otherModelsAreRejected() throws {
        let error = #expect(throws: TokenizerError.self) { try loadTokenizer(from: file(model: "bert")) }
        #expect(error?.code == .unsupportedModel)
        #expect(error?.message.contains("bert") == true)
    }

    @Test func missingOrMistypedMetadataNamesTheKey() throws {
        let missing = #expect(throws: TokenizerError.self) { try loadTokenizer(from: file(model: nil)) }
        #expect(missing?.code == .missingMetadata)
        #expect(missing?.message.contains("tokenizer.ggml.model") == true)
        let mistyped = #expect(throws: TokenizerError.self) {
            try loadTokenizer(from: file { $0.set("tokenizer.ggml.merges", .uint32(7)) })
        }
        #expect(mistyped?.code == .invalidMetadata)
        #expect(mistyped?.message.contains("tokenizer.ggml.merges") == true)
        let outOfRange = #expect(throws: TokenizerError.self) {
            try loadTokenizer(from: file { $0.set("tokenizer.ggml.eos_token_id", .uint32(1_000_000)) })
        }
        #expect(outOfRange?.code == .invalidVocabulary)
    }
}
