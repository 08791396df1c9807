public import ShoalGGUF

/// Qwen 3 mixture of experts (`general.architecture = qwen3moe`, Qwen3-30B-A3B and kin): Qwen 3's attention
/// (per-head q/k RMSNorm, NEOX rotary pairing, no biases) and, in every block, `expert_count` SwiGLU experts of
/// `expert_feed_forward_length` each, of which each token runs the `expert_used_count` its router scores best,
/// weighted by their softmax renormalised over the chosen ones (as llama.cpp does for this architecture).
/// Only the chosen experts' weights are read per token, which is why such a model decodes at the speed of its
/// active parameters.
public enum Qwen3MoE {
    public static func describe(_ file: GGUFFile) throws -> DecoderDescription {
        var config = try ModelConfig.llamaStyle(from: file, ropeStyle: .neox)
        let arch = config.architecture
        let count = try file.int("\(arch).expert_count")
        let used = try file.int("\(arch).expert_used_count")
        let width = try file.int("\(arch).expert_feed_forward_length")
        guard count >= 1, (1...count).contains(used), width > 0 else {
            throw ModelError(.invalidMetadata,
                "\(arch): expert_used_count \(used) must be between 1 and expert_count \(count), expert_feed_forward_length \(width) positive")
        }
        // The blocks have no dense MLP: the feed-forward width the workspace and shards see is an expert's.
        config.feedForwardSize = width
        var description = DecoderDescription(
            config: config, tensors: [.attentionNorm, .query, .key, .value, .queryNorm, .keyNorm, .attentionOutput,
                                      .feedForwardNorm],
            activation: .silu,
            attention: Array(repeating: .init(ropeBase: config.ropeBase), count: config.layerCount))
        description.feedForward = .experts(count: count, used: used, width: width, normalizeWeights: true)
        return description
    }
}
