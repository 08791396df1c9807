public import ShoalGGUF

/// Phi-3 (`general.architecture = phi3`): the llama block with queries, keys and values in one matrix
/// (`attn_qkv`, rows in that order; separate `attn_q`/`attn_k`/`attn_v` are read too) and the MLP's gate and up
/// projections in one `ffn_up` of twice the width (gate rows first), NEOX rotary pairing, SwiGLU.
///
/// As in llama.cpp, the sliding window a file may declare is not applied (it matters only past 2,047 tokens of the
/// 4k models). LongRoPE files (Phi-3 128k, Phi-3.5) carry `rope_factors_long` and `rope_factors_short`, divisors of
/// the rotary frequencies for contexts past and within `rope.scaling.original_context_length`, and
/// `rope.scaling.attn_factor`, which multiplies the rotary cosines and sines. One KV cache serves every position,
/// so the factors are chosen once: the long ones when the file's context is past the original one (the 128k
/// models), as llama.cpp chooses them for a context of that size; transformers switches by the sequence's length
/// and so agrees for sequences longer than the original context.
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
        if file.tensor(named: "rope_factors_long.weight") != nil || file.tensor(named: "rope_factors_short.weight") != nil {
            let arch = config.architecture
            guard file.tensor(named: "rope_factors_long.weight") != nil, file.tensor(named: "rope_factors_short.weight") != nil else {
                throw ModelError(.missingTensor, "\(arch): LongRoPE needs both rope_factors_long.weight and rope_factors_short.weight")
            }
            guard let original = try file.optionalInt("\(arch).rope.scaling.original_context_length"), original > 0 else {
                throw ModelError(.missingMetadata, "\(arch).rope.scaling.original_context_length is missing: LongRoPE cannot choose its factors")
            }
            let long = config.contextLength > original
            description.ropeFactorsTensor = long ? "rope_factors_long.weight" : "rope_factors_short.weight"
            description.unreadGlobalTensors = [long ? "rope_factors_short.weight" : "rope_factors_long.weight"]
            let magnitude = try file.optionalFloat("\(arch).rope.scaling.attn_factor") ?? 1
            guard magnitude > 0, magnitude.isFinite else {
                throw ModelError(.invalidMetadata, "\(arch).rope.scaling.attn_factor must be positive (got \(magnitude))")
            }
            description.ropeMagnitude = magnitude
        }
        return description
    }
}
