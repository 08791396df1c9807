public import ShoalGGUF

/// The Gemma 3 architecture (`general.architecture = gemma3`), as llama.cpp runs it:
///
/// - the token embedding scaled by √hidden (rounded to float32);
/// - RMSNorm "sandwich" norms: before and after attention and the MLP, the gains as stored (llama.cpp's converter
///   already added Gemma's +1);
/// - per-head RMSNorm of queries and keys (`attn_q_norm`, `attn_k_norm`) before RoPE, NEOX pairing on the q/k rows
///   as stored;
/// - layers alternating sliding-window (local) and global attention: every 6th layer (`il % 6 == 5`) is global and
///   uses `rope.freq_base`, the others see only the last `attention.sliding_window` positions (the current one
///   included) and use base 10 000 (`rope.freq_base_swa` when present);
/// - attention scale 1/√head_dim, GELU (tanh) gated MLP, output head tied to the embedding, no logit soft-capping.
public enum Gemma3 {
    /// Every `slidingWindowPattern`-th layer is global (llama.cpp hard-codes 6 for gemma3).
    public static let slidingWindowPattern = 6

    public static func describe(_ file: GGUFFile) throws -> DecoderDescription {
        let config = try ModelConfig.llamaStyle(from: file, ropeStyle: .neox)
        let arch = config.architecture
        let window = try file.optionalInt("\(arch).attention.sliding_window") ?? 512
        guard window > 0 else {
            throw ModelError(.invalidMetadata, "\(arch).attention.sliding_window must be positive (got \(window))")
        }
        let localBase = try file.optionalFloat("\(arch).rope.freq_base_swa") ?? 10_000
        guard localBase > 0, localBase.isFinite else {
            throw ModelError(.invalidMetadata, "\(arch).rope.freq_base_swa must be positive (got \(localBase))")
        }
        guard config.ropeDimensions == config.headDim else {
            throw ModelError(.invalidMetadata, "\(arch): partial RoPE (\(config.ropeDimensions) of \(config.headDim) dims) is not supported")
        }
        let attention = (0..<config.layerCount).map { i in
            i % slidingWindowPattern == slidingWindowPattern - 1
                ? DecoderDescription.Attention(ropeBase: config.ropeBase)
                : DecoderDescription.Attention(slidingWindow: window, ropeBase: localBase)
        }
        return DecoderDescription(
            config: config,
            tensors: DecoderDescription.Tensor.llama.union([.queryNorm, .keyNorm, .postAttentionNorm, .postFeedForwardNorm]),
            embeddingScale: Float(Double(config.hiddenSize).squareRoot()), activation: .geluTanh, attention: attention)
    }
}
