public import ShoalGGUF

/// The Llama architecture (`general.architecture = llama`): RMSNorm pre-norms, RoPE on q/k as GGUF stores them
/// (llama.cpp's permuted rows, so consecutive-pair rotation), grouped-query attention, SwiGLU MLP, output head tied
/// to the token embedding unless the file has `output.weight`.
///
/// Llama 3.x files carry `rope_freqs.weight`: divisors of the rotary frequencies that llama.cpp's converter computes
/// from the `llama3` rope scaling (long wavelengths slowed by the factor, short ones kept, a smooth band between).
/// Mistral 7B files are `llama` too (with `attention.sliding_window` when the file declares one, as v0.1's may). Linear rope scaling (`rope.scaling.type = linear`) is applied;
/// any other scaling type, and tensors this does not read (biases), are refused, not run approximately.
public enum Llama {
    /// Llama 3's rope base, and the context it was trained at before 3.1 scaled it.
    static let llama3RopeBase: Float = 500_000
    static let llama3OriginalContext = 8192

    public static func describe(_ file: GGUFFile) throws -> DecoderDescription {
        let config = try ModelConfig.llamaStyle(from: file, ropeStyle: .norm)
        // Mistral 7B v0.1 attends within a window of 4,096 positions in every layer; a file that says so gets it.
        let window = try file.optionalInt("\(config.architecture).attention.sliding_window")
        if let window, window <= 0 {
            throw ModelError(.invalidMetadata, "\(config.architecture).attention.sliding_window must be positive (got \(window))")
        }
        var description = DecoderDescription(
            config: config, tensors: DecoderDescription.Tensor.llama, activation: .silu,
            attention: Array(repeating: .init(slidingWindow: window, ropeBase: config.ropeBase), count: config.layerCount))
        if file.tensor(named: "rope_freqs.weight") != nil { description.ropeFactorsTensor = "rope_freqs.weight" }
        // GGUF marks Llama 3.1+'s rope scaling only by that tensor. Its other signature (the family's rope base
        // 500,000 with a context past Llama 3.0's 8,192) without the tensor means a file that lost it: positions
        // would be rotated at the wrong frequencies, so refuse it.
        if description.ropeFactorsTensor == nil, config.ropeBase == Self.llama3RopeBase,
           config.contextLength > Self.llama3OriginalContext {
            throw ModelError(.missingTensor,
                "this looks like a Llama 3.1+ file (rope base 500000, context \(config.contextLength) tokens) but it has no rope_freqs.weight, the rope scaling such a model needs past \(Self.llama3OriginalContext) tokens; refusing to run it approximately")
        }
        return description
    }
}
