public import ShoalGGUF

/// How rotary position embedding pairs up the dimensions of a head.
public enum RoPEStyle: Sendable, Equatable {
    /// llama.cpp's NORM: consecutive pairs (x[2i], x[2i+1]); used with GGUF's permuted llama q/k rows.
    case norm
    /// NEOX / rotate_half: pairs (x[i], x[i + dims/2]).
    case neox
}

/// The shape and numerical constants of a decoder-only transformer, read from GGUF metadata.
public struct ModelConfig: Sendable, Equatable {
    public var architecture: String
    public var layerCount: Int
    public var hiddenSize: Int
    public var feedForwardSize: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var vocabularySize: Int
    public var contextLength: Int
    public var rmsEpsilon: Float
    public var ropeBase: Float
    public var ropeDimensions: Int
    public var ropeStyle: RoPEStyle
    /// Linear RoPE scaling: positions are multiplied by this (1 / `rope.scaling.factor`; 1: none).
    public var ropeScale: Float = 1

    /// Width of one token's keys (or values) across all KV heads.
    public var kvWidth: Int { kvHeadCount * headDim }
    /// Width of one token's queries across all heads.
    public var queryWidth: Int { headCount * headDim }

    public init(
        architecture: String, layerCount: Int, hiddenSize: Int, feedForwardSize: Int, headCount: Int,
        kvHeadCount: Int, headDim: Int, vocabularySize: Int, contextLength: Int, rmsEpsilon: Float,
        ropeBase: Float, ropeDimensions: Int, ropeStyle: RoPEStyle
    ) {
        self.architecture = architecture
        self.layerCount = layerCount
        self.hiddenSize = hiddenSize
        self.feedForwardSize = feedForwardSize
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.vocabularySize = vocabularySize
        self.contextLength = contextLength
        self.rmsEpsilon = rmsEpsilon
        self.ropeBase = ropeBase
        self.ropeDimensions = ropeDimensions
        self.ropeStyle = ropeStyle
    }

    /// Reads the llama-style keys (`<arch>.block_count`, `<arch>.attention.head_count`, …) of `file`.
    /// - Throws: `ModelError` naming the key that is missing or out of range.
    public static func llamaStyle(from file: GGUFFile, ropeStyle: RoPEStyle) throws -> ModelConfig {
        guard let arch = file.architecture else {
            throw ModelError(.missingMetadata, "general.architecture is missing")
        }
        func int(_ key: String) throws -> Int { try file.int("\(arch).\(key)") }
        let hidden = try int("embedding_length")
        let heads = try int("attention.head_count")
        guard heads > 0, hidden > 0 else {
            throw ModelError(.invalidMetadata, "\(arch).attention.head_count and \(arch).embedding_length must be positive")
        }
        let headDim = try file.optionalInt("\(arch).attention.key_length") ?? hidden / heads
        let kvHeads = try file.optionalInt("\(arch).attention.head_count_kv") ?? heads
        let vocab = try file.optionalInt("\(arch).vocab_size")
            ?? file.metadata["tokenizer.ggml.tokens"]?.arrayValue?.count
            ?? file.tensor(named: "token_embd.weight")?.dimensions.last
        guard let vocab else { throw ModelError(.missingMetadata, "cannot tell the vocabulary size") }
        var config = ModelConfig(
            architecture: arch,
            layerCount: try int("block_count"),
            hiddenSize: hidden,
            // A mixture of experts may give only its experts' width.
            feedForwardSize: try file.optionalInt("\(arch).feed_forward_length") ?? int("expert_feed_forward_length"),
            headCount: heads,
            kvHeadCount: kvHeads,
            headDim: headDim,
            vocabularySize: vocab,
            contextLength: try file.optionalInt("\(arch).context_length") ?? 2048,
            rmsEpsilon: try file.optionalFloat("\(arch).attention.layer_norm_rms_epsilon") ?? 1e-5,
            ropeBase: try file.optionalFloat("\(arch).rope.freq_base") ?? 10_000,
            ropeDimensions: try file.optionalInt("\(arch).rope.dimension_count") ?? headDim,
            ropeStyle: ropeStyle
        )
        config.ropeScale = try ropeScale(file, arch)
        try config.validate()
        return config
    }

    /// The linear position scale that `<arch>.rope.scaling.*` asks for.
    /// - Throws: `ModelError(.invalidMetadata)` for a scaling type Shoal does not compute (YaRN, LongRoPE, ...),
    ///   rather than running the model with positions it was not trained on.
    static func ropeScale(_ file: GGUFFile, _ arch: String) throws -> Float {
        let type = try file.optionalString("\(arch).rope.scaling.type") ?? "none"
        switch type {
        case "none":
            if let legacy = try file.optionalFloat("\(arch).rope.scale_linear"), legacy != 1 {
                guard legacy > 0, legacy.isFinite else {
                    throw ModelError(.invalidMetadata, "\(arch).rope.scale_linear must be positive (got \(legacy))")
                }
                return 1 / legacy
            }
            return 1
        case "linear":
            let factor = try file.optionalFloat("\(arch).rope.scaling.factor") ?? 1
            guard factor > 0, factor.isFinite else {
                throw ModelError(.invalidMetadata, "\(arch).rope.scaling.factor must be positive (got \(factor))")
            }
            return 1 / factor
        default:
            throw ModelError(.invalidMetadata,
                "\(arch).rope.scaling.type '\(type)' is not supported (Shoal computes none and linear); refusing to run the model with other positions than it was trained on")
        }
    }

    /// Checks that the numbers describe a model the forward pass can run.
    public func validate() throws {
        func check(_ ok: Bool, _ what: String) throws {
            if !ok { throw ModelError(.invalidMetadata, "\(architecture): \(what)") }
        }
        try check(layerCount > 0 && layerCount <= 1024, "block_count \(layerCount) out of range")
        try check(hiddenSize > 0 && feedForwardSize > 0, "embedding_length and feed_forward_length must be positive")
        try check(headCount > 0 && kvHeadCount > 0 && headCount % kvHeadCount == 0,
                  "head_count \(headCount) must be a positive multiple of head_count_kv \(kvHeadCount)")
        try check(headDim > 0 && headDim % 2 == 0, "head dimension \(headDim) must be even and positive")
        try check(ropeDimensions > 0 && ropeDimensions <= headDim && ropeDimensions % 2 == 0,
                  "rope.dimension_count \(ropeDimensions) must be even and at most the head dimension \(headDim)")
        try check(vocabularySize > 0, "vocabulary size must be positive")
        try check(contextLength > 0, "context_length must be positive")
        try check(rmsEpsilon > 0 && rmsEpsilon.isFinite, "layer_norm_rms_epsilon must be positive")
        try check(ropeBase > 0 && ropeBase.isFinite, "rope.freq_base must be positive")
    }
}
