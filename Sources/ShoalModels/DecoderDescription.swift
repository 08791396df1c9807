import ShoalGGUF

/// What an architecture file tells the shared decoder: its shape, which per-layer tensors it has, and how it
/// differs from plain Llama (embedding scale, activation, per-layer attention kind).
public struct DecoderDescription: Sendable {
    /// The per-layer tensors a decoder block can have, by their GGUF names (`blk.N.<name>.weight`).
    public enum Tensor: String, Sendable, CaseIterable {
        case attentionNorm = "attn_norm"
        case query = "attn_q"
        case key = "attn_k"
        case value = "attn_v"
        case queryNorm = "attn_q_norm"
        case keyNorm = "attn_k_norm"
        case attentionOutput = "attn_output"
        case postAttentionNorm = "post_attention_norm"
        case feedForwardNorm = "ffn_norm"
        case gate = "ffn_gate"
        case up = "ffn_up"
        case down = "ffn_down"
        case postFeedForwardNorm = "post_ffw_norm"

        /// The tensors every llama-style block has.
        public static let llama: Set<Tensor> = [.attentionNorm, .query, .key, .value, .attentionOutput,
                                                .feedForwardNorm, .gate, .up, .down]
    }

    /// The gated MLP's activation.
    public enum Activation: Sendable {
        case silu
        case geluTanh
    }

    /// How one layer attends.
    public struct Attention: Sendable, Equatable {
        /// Positions a token sees before it (nil: the whole context).
        public var slidingWindow: Int?
        /// RoPE base of the layer.
        public var ropeBase: Float

        public init(slidingWindow: Int? = nil, ropeBase: Float) {
            self.slidingWindow = slidingWindow
            self.ropeBase = ropeBase
        }
    }

    public var config: ModelConfig
    /// The per-layer tensors the file must have (and the only ones it may have).
    public var tensors: Set<Tensor>
    /// Factor applied to the token embedding (nil: none).
    public var embeddingScale: Float?
    public var activation: Activation
    /// How each layer (by absolute index) attends.
    public var attention: [Attention]

    public init(config: ModelConfig, tensors: Set<Tensor>, embeddingScale: Float? = nil, activation: Activation,
                attention: [Attention]) {
        self.config = config
        self.tensors = tensors
        self.embeddingScale = embeddingScale
        self.activation = activation
        self.attention = attention
    }

    /// The global tensors a decoder file may have besides its layers'.
    static let globalTensors: Set<String> = ["token_embd.weight", "output_norm.weight", "output.weight"]

    /// Checks that `file` has no tensor this description does not account for (as llama.cpp refuses a file with
    /// the wrong tensor count): a tensor nobody reads means the file is not what the architecture computes.
    /// - Throws: `ModelError(.badTensor)` naming the first unclaimed tensors.
    func checkEveryTensorIsUsed(in file: GGUFFile) throws {
        var claimed = Self.globalTensors
        for layer in 0..<config.layerCount {
            for tensor in tensors { claimed.insert("blk.\(layer).\(tensor.rawValue).weight") }
        }
        let unclaimed = file.tensors.map(\.name).filter { !claimed.contains($0) }
        guard unclaimed.isEmpty else {
            let shown = unclaimed.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
            let more = unclaimed.count > 5 ? " and \(unclaimed.count - 5) more" : ""
            throw ModelError(.badTensor,
                "\(config.architecture): the file has tensors this architecture does not use: \(shown)\(more); refusing to run it approximately")
        }
    }
}
