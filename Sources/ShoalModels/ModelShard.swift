public import ShoalGGUF

/// Which part of a model one process holds: a contiguous range of decoder layers (a pipeline stage) and one rank
/// of a tensor-parallel split of each of those layers.
///
/// The first stage also holds the token embedding; the last stage holds the final norm and output head. Rank `r`
/// of `tensorCount` holds a slice of every projection (see `ShardLayout`); `tensorCount == 1` is the whole layer.
public struct ModelShard: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Absolute indices of the decoder layers held.
    public var layers: Range<Int>
    /// Whether the shard embeds tokens (the first pipeline stage).
    public var holdsEmbedding: Bool
    /// Whether the shard computes the final norm and output head (the last pipeline stage).
    public var holdsHead: Bool
    /// This process's tensor-parallel rank, in `0..<tensorCount`.
    public var tensorRank: Int
    /// How many ranks split each layer.
    public var tensorCount: Int

    public init(layers: Range<Int>, holdsEmbedding: Bool, holdsHead: Bool, tensorRank: Int = 0, tensorCount: Int = 1) {
        self.layers = layers
        self.holdsEmbedding = holdsEmbedding
        self.holdsHead = holdsHead
        self.tensorRank = tensorRank
        self.tensorCount = tensorCount
    }

    /// The whole model in one process.
    public static func whole(layerCount: Int) -> ModelShard {
        ModelShard(layers: 0..<layerCount, holdsEmbedding: true, holdsHead: true)
    }

    /// Stage `stage` of `layerRanges` (contiguous, covering every layer), tensor rank `rank` of `ranks`.
    public static func stage(_ stage: Int, of layerRanges: [Range<Int>], tensorRank rank: Int = 0, tensorCount ranks: Int = 1) -> ModelShard {
        ModelShard(layers: layerRanges[stage], holdsEmbedding: stage == 0, holdsHead: stage == layerRanges.count - 1,
                   tensorRank: rank, tensorCount: ranks)
    }

    /// Whether this is the whole model.
    public func isWhole(layerCount: Int) -> Bool {
        layers == 0..<layerCount && holdsEmbedding && holdsHead && tensorCount == 1
    }

    /// Checks the shard against a model of `layerCount` layers.
    /// - Throws: `ModelError(.invalidMetadata)` naming what does not fit.
    public func validate(layerCount: Int) throws {
        guard !layers.isEmpty, layers.lowerBound >= 0, layers.upperBound <= layerCount else {
            throw ModelError(.invalidMetadata, "shard layers \(layers) are not a non-empty part of the model's \(layerCount) layers")
        }
        guard tensorCount >= 1, (0..<tensorCount).contains(tensorRank) else {
            throw ModelError(.invalidMetadata, "tensor rank \(tensorRank) of \(tensorCount) is out of range")
        }
    }

    public var description: String {
        var text = "layers \(layers.lowerBound)..<\(layers.upperBound)"
        if tensorCount > 1 { text += ", tensor rank \(tensorRank) of \(tensorCount)" }
        if holdsEmbedding { text += ", embedding" }
        if holdsHead { text += ", head" }
        return text
    }

    /// Contiguous layer ranges for `stages` pipeline stages, balanced by `cost` (one entry per layer, plus the
    /// head's cost added to the last stage and the embedding's to the first, both in the same unit).
    public static func balancedStages(layerCosts: [Double], headCost: Double, stages: Int) -> [Range<Int>] {
        let n = layerCosts.count
        let count = max(1, min(stages, n))
        let total = layerCosts.reduce(0, +) + headCost
        var ranges: [Range<Int>] = []
        var start = 0
        var spent = 0.0
        for stage in 0..<count {
            let remainingStages = count - stage
            if remainingStages == 1 {
                ranges.append(start..<n)
                break
            }
            let target = total * Double(stage + 1) / Double(count)
            var end = start + 1
            spent += layerCosts[start]
            // Leave at least one layer for each later stage; stop where the cut is closest to the target.
            while end < n - (remainingStages - 1), abs(spent + layerCosts[end] - target) < abs(spent - target) {
                spent += layerCosts[end]
                end += 1
            }
            ranges.append(start..<end)
            start = end
        }
        return ranges
    }
}

/// The slices of each projection that one tensor-parallel rank holds, cut on quantization-block boundaries.
///
/// Query heads are split as evenly as they go (contiguous ranges); a rank holds the KV heads its query heads read,
/// so a KV head is replicated where a split falls inside its group (and on every rank when there are fewer KV heads
/// than ranks). The feed-forward width and the vocabulary are split in contiguous, block-aligned ranges.
public struct ShardLayout: Sendable, Equatable {
    public var queryHeads: Range<Int>
    public var kvHeads: Range<Int>
    public var feedForward: Range<Int>
    public var vocabulary: Range<Int>

    /// The layout of rank `rank` of `ranks` for `config`, with `alignment` the largest block size (in columns) of
    /// the matrices whose inputs are cut (attention output and feed-forward down).
    /// - Throws: `ModelError(.invalidMetadata)` when the model cannot be cut that many ways on block boundaries.
    public init(config: ModelConfig, rank: Int, ranks: Int, alignment: Int) throws {
        guard ranks >= 1, (0..<ranks).contains(rank) else {
            throw ModelError(.invalidMetadata, "tensor rank \(rank) of \(ranks) is out of range")
        }
        guard ranks <= config.headCount else {
            throw ModelError(.invalidMetadata, "cannot split \(config.headCount) query heads over \(ranks) tensor-parallel ranks")
        }
        let heads = Self.split(config.headCount, ranks, unit: 1)[rank]
        let group = config.headCount / config.kvHeadCount
        kvHeads = (heads.lowerBound / group)..<((heads.upperBound - 1) / group + 1)
        if ranks > 1, (heads.lowerBound * config.headDim) % alignment != 0 {
            throw ModelError(.invalidMetadata,
                "cannot cut the attention output of \(config.architecture) at head \(heads.lowerBound) (column \(heads.lowerBound * config.headDim)) on a \(alignment)-column block boundary")
        }
        queryHeads = heads
        let unit = max(alignment, 1)
        guard config.feedForwardSize % unit == 0, config.feedForwardSize / unit >= ranks else {
            throw ModelError(.invalidMetadata,
                "cannot split the feed-forward width \(config.feedForwardSize) over \(ranks) ranks in blocks of \(unit)")
        }
        feedForward = Self.split(config.feedForwardSize, ranks, unit: unit)[rank]
        vocabulary = Self.split(config.vocabularySize, ranks, unit: 1)[rank]
    }

    /// The whole model.
    public static func whole(_ config: ModelConfig) -> ShardLayout {
        // A layout of one rank never fails.
        try! ShardLayout(config: config, rank: 0, ranks: 1, alignment: 1)
    }

    /// `total` split into `parts` contiguous ranges of whole `unit`s, the larger ones first.
    static func split(_ total: Int, _ parts: Int, unit: Int) -> [Range<Int>] {
        let units = total / unit
        var ranges: [Range<Int>] = []
        var start = 0
        for part in 0..<parts {
            let count = units / parts + (part < units % parts ? 1 : 0)
            let end = part == parts - 1 ? total : start + count * unit
            ranges.append(start..<end)
            start = end
        }
        return ranges
    }
}

/// A tensor-parallel rank's piece of one weight matrix: a range of its rows (outputs) or of its columns (inputs).
public enum TensorCut: Sendable, Equatable, CustomStringConvertible {
    case rows(Range<Int>)
    case columns(Range<Int>)

    public var description: String {
        switch self {
        case .rows(let r): "rows \(r.lowerBound)..<\(r.upperBound)"
        case .columns(let c): "columns \(c.lowerBound)..<\(c.upperBound)"
        }
    }

    /// The metadata key under which a rank's share package (the GGUF file of one rank's share that a leader
    /// makes for a worker without the model) records how it cut tensor `name`.
    public static func metadataKey(_ name: String) -> String { "shoal.cut." + name }

    /// The cut as that metadata value: `[axis (0 rows, 1 columns), start, end]`.
    public var metadata: GGUFValue {
        switch self {
        case .rows(let r): .array([.uint64(0), .uint64(UInt64(r.lowerBound)), .uint64(UInt64(r.upperBound))])
        case .columns(let c): .array([.uint64(1), .uint64(UInt64(c.lowerBound)), .uint64(UInt64(c.upperBound))])
        }
    }

    /// Reads a cut back from its metadata value; nil when malformed.
    public init?(metadata: GGUFValue) {
        guard case .array(let items) = metadata, items.count == 3, let axis = items[0].intValue,
              let start = items[1].intValue, let end = items[2].intValue, 0 <= start, start <= end else { return nil }
        switch axis {
        case 0: self = .rows(start..<end)
        case 1: self = .columns(start..<end)
        default: return nil
        }
    }
}

extension ShardLayout {
    /// The piece of tensor `name` that a rank with this layout binds (the ranges `DecoderModel` binds), or nil
    /// when it reads all of it: norms, and the token embedding where the rank embeds tokens (only a tied output
    /// head on a rank without the embedding reads a range of its rows).
    public func cut(ofTensor name: String, config: ModelConfig, holdsEmbedding: Bool) -> TensorCut? {
        let d = config.headDim
        let query = (queryHeads.lowerBound * d)..<(queryHeads.upperBound * d)
        let kv = (kvHeads.lowerBound * d)..<(kvHeads.upperBound * d)
        if name.hasSuffix(".attn_q.weight") { return .rows(query) }
        // A bias has one element per output row; its dimension 0 is cut like a matrix's columns.
        if name.hasSuffix(".attn_q.bias") { return .columns(query) }
        if name.hasSuffix(".attn_k.bias") || name.hasSuffix(".attn_v.bias") { return .columns(kv) }
        if name.hasSuffix(".attn_k.weight") || name.hasSuffix(".attn_v.weight") { return .rows(kv) }
        if name.hasSuffix(".attn_output.weight") { return .columns(query) }
        if name.hasSuffix(".ffn_gate.weight") || name.hasSuffix(".ffn_up.weight") { return .rows(feedForward) }
        if name.hasSuffix(".ffn_down.weight") { return .columns(feedForward) }
        if name == "output.weight" || (name == "token_embd.weight" && !holdsEmbedding) { return .rows(vocabulary) }
        return nil
    }
}
