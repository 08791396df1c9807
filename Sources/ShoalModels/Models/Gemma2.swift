public import ShoalGGUF

/// Gemma 2 (`general.architecture = gemma2`), as llama.cpp runs it:
///
/// - the token embedding scaled by √hidden; RMSNorm "sandwich" norms before and after attention and the MLP (gains
///   as stored: the converter already added Gemma's +1); GELU (tanh) gated MLP; output head tied to the embedding;
/// - layers alternating sliding-window (even layers: the last `attention.sliding_window` positions, 4096 by
///   default) and global attention, NEOX rotary pairing;
/// - attention scores soft-capped (`attn_logit_softcapping`: `cap · tanh(score / cap)`) and so are the logits
///   (`final_logit_softcapping`);
/// - queries scaled by 1/√head_dim, except for the 46-layer (27B) model, whose `query_pre_attn_scalar` is
///   hidden / heads (GGUF does not store it; llama.cpp decides by the layer count in the same way).
public enum Gemma2 {
    public static func describe(_ file: GGUFFile) throws -> DecoderDescription {
        let config = try ModelConfig.llamaStyle(from: file, ropeStyle: .neox)
        let arch = config.architecture
        let window = try file.optionalInt("\(arch).attention.sliding_window") ?? 4096
        guard window > 0 else {
            throw ModelError(.invalidMetadata, "\(arch).attention.sliding_window must be positive (got \(window))")
        }
        func cap(_ key: String) throws -> Float? {
            guard let value = try file.optionalFloat("\(arch).\(key)") else { return nil }
            guard value > 0, value.isFinite else {
                throw ModelError(.invalidMetadata, "\(arch).\(key) must be positive (got \(value))")
            }
            return value
        }
        let attention = (0..<config.layerCount).map { i in
            i % 2 == 0
                ? DecoderDescription.Attention(slidingWindow: window, ropeBase: config.ropeBase)
                : DecoderDescription.Attention(ropeBase: config.ropeBase)
        }
        var description = DecoderDescription(
            config: config,
            tensors: DecoderDescription.Tensor.llama.union([.postAttentionNorm, .postFeedForwardNorm]),
            embeddingScale: Float(Double(config.hiddenSize).squareRoot()), activation: .geluTanh, attention: attention)
        description.attentionSoftcap = try cap("attn_logit_softcapping")
        description.finalLogitSoftcap = try cap("final_logit_softcapping")
        let scalar = config.layerCount == 46 ? config.hiddenSize / config.headCount : config.headDim
        description.attentionScale = Float(1 / Double(scalar).squareRoot())
        return description
    }
}
