public import ShoalGGUF

/// Qwen 2 / 2.5 (`general.architecture = qwen2`): the llama block with biases on the query, key and value
/// projections, NEOX rotary pairing (rotate-half), SwiGLU, output head tied unless `output.weight` is present.
public enum Qwen2 {
    public static func describe(_ file: GGUFFile) throws -> DecoderDescription {
        let config = try ModelConfig.llamaStyle(from: file, ropeStyle: .neox)
        var description = DecoderDescription(
            config: config, tensors: DecoderDescription.Tensor.llama, activation: .silu,
            attention: Array(repeating: .init(ropeBase: config.ropeBase), count: config.layerCount))
        description.biases = [.query, .key, .value]
        return description
    }
}

/// Qwen 3 dense (`general.architecture = qwen3`): no biases, a per-head RMSNorm of queries and keys before RoPE
/// (`attn_q_norm`, `attn_k_norm`), NEOX rotary pairing, a head dimension of its own (`attention.key_length`, so the
/// query width may differ from the hidden size).
public enum Qwen3 {
    public static func describe(_ file: GGUFFile) throws -> DecoderDescription {
        let config = try ModelConfig.llamaStyle(from: file, ropeStyle: .neox)
        return DecoderDescription(
            config: config, tensors: DecoderDescription.Tensor.llama.union([.queryNorm, .keyNorm]), activation: .silu,
            attention: Array(repeating: .init(ropeBase: config.ropeBase), count: config.layerCount))
    }
}
