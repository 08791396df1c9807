public import ShoalGGUF

/// Phi-3 (`general.architecture = phi3`): the llama block with queries, keys and values in one matrix
/// (`attn_qkv`, rows in that order; separate `attn_q`/`attn_k`/`attn_v` are read too) and the MLP's gate and up
/// projections in one `ffn_up` of twice the width (gate rows first), NEOX rotary pairing, SwiGLU.
///
/// As in llama.cpp, the sliding window a file may declare is not applied (it matters only past 2,047 tokens of the
/// 4k models). LongRoPE files (Phi-3 128k, Phi-3.5) carry `rope_factors_long`/`rope_factors_short`, which Shoal
/// does not compute: they are refused as tensors it does not read.
public enum Phi3 {
    public static func describe(_ file: GGUFFile) throws -> DecoderDescription {
        let config = try ModelConfig.llamaStyle(from: file, ropeStyle: .neox)
        let fusedAttention = file.tensor(named: "blk.0.attn_qkv.weight") != nil
        var tensors: Set<DecoderDescription.Tensor> = [.attentionNorm, .attentionOutput, .feedForwardNorm, .up, .down]
        tensors.formUnion(fusedAttention ? [.queryKeyValue] : [.query, .key, .value])
        var description = DecoderDescription(
            config: config, tensors: tensors, activation: .silu,
            attention: Array(repeating: .init(ropeBase: config.ropeBase), count: config.layerCount))
        description.feedForward = .fusedGateUp
        return description
    }
}
