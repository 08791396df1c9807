public import ShoalGGUF

/// A small random Llama model written as GGUF, with a byte-level GPT-2 vocabulary, for tests that
/// must run the whole engine without the real model.
public struct TinyModel: Sendable {
    public var seed: UInt64 = 1
    public var layers = 2
    public var hidden = 64
    public var heads = 4
    public var kvHeads = 2
    public var feedForward = 96
    public var contextLength = 256
    /// Type of the large matrices (F32, F16, Q8_0, Q4_0, Q4_1); norms stay F32.
    public var weightType: GGMLType = .q8_0
    /// Type of the token embedding (also the tied output head).
    public var embeddingType: GGMLType = .q8_0

    public init() {}

    /// 256 byte tokens in GPT-2's byte-to-unicode mapping, then `<|end|>` (control, the EOS) and a few merges.
    public static let vocabulary: [String] = {
        var tokens = (0..<256).map { byteToUnicode[$0] }
        tokens.append("<|end|>")
        tokens += ["he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "ld"]
        return tokens
    }()
    public static let merges = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d"]
    public static let endID: Int32 = 256

    /// GPT-2's reversible mapping from bytes to printable unicode characters.
    public static let byteToUnicode: [String] = {
        var bs = Array(33...126) + Array(161...172) + Array(174...255)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) {
            bs.append(b)
            cs.append(256 + n)
            n += 1
        }
        var table = [String](repeating: "", count: 256)
        for (b, c) in zip(bs, cs) { table[b] = String(Character(Unicode.Scalar(UInt32(c))!)) }
        return table
    }()

    /// The GGUF bytes of the model.
    public func serialized() throws -> [UInt8] { try writer().serialized() }

    /// A writer holding the whole model.
    public func writer() throws -> GGUFWriter {
        var rng = SeededGenerator(seed: seed)
        let vocab = Self.vocabulary.count
        let headDim = hidden / heads
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("general.name", .string("tiny-llama"))
        w.set("llama.block_count", .uint32(UInt32(layers)))
        w.set("llama.context_length", .uint32(UInt32(contextLength)))
        w.set("llama.embedding_length", .uint32(UInt32(hidden)))
        w.set("llama.feed_forward_length", .uint32(UInt32(feedForward)))
        w.set("llama.attention.head_count", .uint32(UInt32(heads)))
        w.set("llama.attention.head_count_kv", .uint32(UInt32(kvHeads)))
        w.set("llama.attention.layer_norm_rms_epsilon", .float32(1e-5))
        w.set("llama.rope.freq_base", .float32(10_000))
        w.set("llama.rope.dimension_count", .uint32(UInt32(headDim)))
        w.set("llama.vocab_size", .uint32(UInt32(vocab)))
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.pre", .string("gpt2"))
        w.set("tokenizer.ggml.tokens", .array(Self.vocabulary.map { .string($0) }))
        w.set("tokenizer.ggml.token_type", .array(Self.vocabulary.indices.map { .int32($0 == Int(Self.endID) ? 3 : 1) }))
        w.set("tokenizer.ggml.merges", .array(Self.merges.map { .string($0) }))
        w.set("tokenizer.ggml.bos_token_id", .uint32(UInt32(Self.endID)))
        w.set("tokenizer.ggml.eos_token_id", .uint32(UInt32(Self.endID)))
        w.set("tokenizer.ggml.add_bos_token", .bool(false))
        w.set("tokenizer.chat_template", .string(
            "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}<|end|>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"))

        func matrix(_ name: String, rows: Int, columns: Int, type: GGMLType, scale: Float) throws {
            let values = rng.floats(rows * columns, in: -scale...scale)
            try w.addTensor(name: name, type: type, dimensions: [columns, rows],
                            data: ReferenceQuantizer.quantize(values, as: type))
        }
        func norm(_ name: String) throws {
            let values = (0..<hidden).map { _ in 1 + rng.float(in: -0.2...0.2) }
            try w.addTensor(name: name, type: .f32, dimensions: [hidden], data: ReferenceQuantizer.quantize(values, as: .f32))
        }
        try matrix("token_embd.weight", rows: vocab, columns: hidden, type: embeddingType, scale: 1)
        for i in 0..<layers {
            let p = "blk.\(i)."
            try norm(p + "attn_norm.weight")
            try matrix(p + "attn_q.weight", rows: hidden, columns: hidden, type: weightType, scale: 0.3)
            try matrix(p + "attn_k.weight", rows: kvHeads * headDim, columns: hidden, type: weightType, scale: 0.3)
            try matrix(p + "attn_v.weight", rows: kvHeads * headDim, columns: hidden, type: weightType, scale: 0.3)
            try matrix(p + "attn_output.weight", rows: hidden, columns: hidden, type: weightType, scale: 0.2)
            try norm(p + "ffn_norm.weight")
            try matrix(p + "ffn_gate.weight", rows: feedForward, columns: hidden, type: weightType, scale: 0.3)
            try matrix(p + "ffn_up.weight", rows: feedForward, columns: hidden, type: weightType, scale: 0.3)
            try matrix(p + "ffn_down.weight", rows: hidden, columns: feedForward, type: weightType, scale: 0.2)
        }
        try norm("output_norm.weight")
        return w
    }

    /// Writes the model to a fresh temporary file and returns its path.
    public func writeTemporary() throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("shoal-tiny-\(seed)-\(UInt64.random(in: 0...UInt64.max)).gguf").path
        try writer().write(to: path)
        return path
    }
}

import Foundation
