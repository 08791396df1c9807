public import ShoalGGUF

/// The Llama architecture (`general.architecture = llama`): RMSNorm pre-norms, RoPE on q/k as GGUF stores them
/// (llama.cpp's permuted rows, so consecutive-pair rotation), grouped-query attention, SwiGLU MLP, output head tied
/// to the token embedding unless the file has `output.weight`.
///
/// Llama 3.x files carry `rope_freqs.weight`: divisors of the rotary frequencies that llama.cpp's converter computes
/// from the `llama3` rope scaling (long wavelengths slowed by the factor, short ones kept, a smooth band between).
/// Mistral 7B (v0.2, v0.3) files are `llama` too. Linear rope scaling (`rope.scaling.type = linear`) is applied;
/// any other scaling type, and tensors this does not read (biases), are refused, not run approximately.
public enum Llama {
    public static func describe(_ file: GGUFFile) throws -> DecoderDescription {
        let config = try ModelConfig.llamaStyle(from: file, ropeStyle: .norm)
        var description = DecoderDescription(
            config: config, tensors: DecoderDescription.Tensor.llama, activation: .silu,
            attention: Array(repeating: .init(ropeBase: config.ropeBase), count: config.layerCount))
        description.ropeFrequencyFactors = file.tensor(named: "rope_freqs.weight") != nil
        return description
    }
}
