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
        /// Queries, keys and values in one matrix (Phi-3), rows in that order.
        case queryKeyValue = "attn_qkv"
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

    /// How the feed-forward part of a block is laid out in the file.
    public enum FeedForward: Sendable, Equatable {
        /// `ffn_gate` and `ffn_up` (feed-forward width rows each), `ffn_down`.
        case gated
        /// One `ffn_up` of twice the width: the gate's rows, then the up projection's (Phi-3).
        case fusedGateUp
        /// A mixture of experts: `ffn_gate_inp` scores `experts` gated MLPs of `width` each (`ffn_gate_exps`,
        /// `ffn_up_exps`, `ffn_down_exps`); each token runs the `used` best, weighted by the softmax of their
        /// scores (renormalised over the chosen ones when `normalizeWeights`).
        case experts(count: Int, used: Int, width: Int, normalizeWeights: Bool)
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
    /// The per-layer tensors that also have a `.bias` (added after the product: Qwen2's q/k/v).
    public var biases: Set<Tensor> = []
    public var feedForward: FeedForward = .gated
    /// Queries are multiplied by this before the scores (nil: 1/√head_dim).
    public var attentionScale: Float?
    /// Scores become `cap · tanh(score / cap)` before the softmax (Gemma 2).
    public var attentionSoftcap: Float?
    /// Logits become `cap · tanh(logit / cap)` (Gemma 2).
    public var finalLogitSoftcap: Float?
    /// The global tensor whose values divide each rotary frequency: Llama 3's `rope_freqs.weight`, or one of
    /// LongRoPE's `rope_factors_long`/`rope_factors_short` (Phi-3 128k); nil: none.
    public var ropeFactorsTensor: String?
    /// Rotary cosines and sines are multiplied by this (LongRoPE's attention factor; 1: none).
    public var ropeMagnitude: Float = 1
    /// Global tensors the file may hold that the model does not read (the LongRoPE factors not chosen).
    public var unreadGlobalTensors: Set<String> = []

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

    /// Every tensor name the description reads for `layerCount` layers.
    var claimedTensors: Set<String> {
        var claimed = Self.globalTensors.union(unreadGlobalTensors)
        if let ropeFactorsTensor { claimed.insert(ropeFactorsTensor) }
        for layer in 0..<config.layerCount {
            for tensor in tensors { claimed.insert("blk.\(layer).\(tensor.rawValue).weight") }
            for tensor in biases { claimed.insert("blk.\(layer).\(tensor.rawValue).bias") }
            if case .experts = feedForward {
                for name in ["ffn_gate_inp", "ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"] {
                    claimed.insert("blk.\(layer).\(name).weight")
                }
            }
        }
        return claimed
    }

    /// Checks that `file` has no tensor this description does not account for (as llama.cpp refuses a file with
    /// the wrong tensor count): a tensor nobody reads means the file is not what the architecture computes.
    /// - Throws: `ModelError(.badTensor)` naming the first unclaimed tensors.
    func checkEveryTensorIsUsed(in file: GGUFFile) throws {
        let claimed = claimedTensors
        let unclaimed = file.tensors.map(\.name).filter { !claimed.contains($0) }
        guard unclaimed.isEmpty else {
            let shown = unclaimed.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
            let more = unclaimed.count > 5 ? " and \(unclaimed.count - 5) more" : ""
            throw ModelError(.badTensor,
                "\(config.architecture): the file has tensors this architecture does not use: \(shown)\(more); refusing to run it approximately")
        }
    }
}
