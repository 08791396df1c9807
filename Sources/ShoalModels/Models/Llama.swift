public import ShoalGGUF

/// The Llama architecture (`general.architecture = llama`): RMSNorm pre-norms, RoPE on q/k as GGUF stores them
/// (llama.cpp's permuted rows, so consecutive-pair rotation), grouped-query attention, SwiGLU MLP, output head tied
/// to the token embedding unless the file has `output.weight`.
///
/// A file with tensors this does not read (Llama 3's `rope_freqs.weight`, biases) is refused, not run approximately.
public enum Llama {
    public static func describe(_ file: GGUFFile) throws -> DecoderDescription {
        let config = try ModelConfig.llamaStyle(from: file, ropeStyle: .norm)
        return DecoderDescription(
            config: config, tensors: DecoderDescription.Tensor.llama, activation: .silu,
            attention: Array(repeating: .init(ropeBase: config.ropeBase), count: config.layerCount))
    }
}
