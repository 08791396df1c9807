public import ShoalGGUF
public import ShoalKernels
import Synchronization
internal import Foundation

/// Sums partial results across the tensor-parallel ranks of a layer (all-reduce), in place.
///
/// Every rank calls it at the same points of the forward pass with the same `count`; when it returns, `values`
/// holds the sum over all ranks, added in rank order so that the result does not depend on timing.
public protocol PartialSumReducer: AnyObject {
    func allReduce(_ values: UnsafeMutablePointer<Float>, count: Int) throws
}

/// A decoder-only transformer built from shared blocks (embedding, attention, gated MLP, final norm and head),
/// holding one shard of the model: a range of layers, and one tensor-parallel rank's slice of each.
///
/// Architectures differ only in their `DecoderDescription`: which norms a block has, the activation, each layer's
/// attention kind. The staged entry points (`embed`, `forward(_:layers:hidden:cache:reducer:)`, `head`) let an
/// executor run pipeline stages and tensor-parallel ranks in other processes; `forward(_:cache:logits:)` runs a
/// whole model.
public final class DecoderModel: LanguageModel {
    /// One decoder block's weights (this shard's slices of them).
    struct Layer {
        var attentionNorm: [Float]
        var query: LinearWeight
        var key: LinearWeight
        var value: LinearWeight
        var queryBias: [Float]?
        var keyBias: [Float]?
        var valueBias: [Float]?
        var queryNorm: [Float]?
        var keyNorm: [Float]?
        var attentionOutput: LinearWeight
        var postAttentionNorm: [Float]?
        var feedForwardNorm: [Float]
        var feedForward: FeedForwardWeights
        var postFeedForwardNorm: [Float]?
        var attention: DecoderDescription.Attention
    }

    /// A block's MLP: one gated MLP, or a mixture of experts.
    enum FeedForwardWeights {
        case dense(gate: LinearWeight, up: LinearWeight, down: LinearWeight)
        case experts(ExpertWeights)
    }

    /// A mixture-of-experts MLP: the router and each expert's gate, up and down projections.
    struct ExpertWeights {
        var router: LinearWeight
        var gate: [LinearWeight]
        var up: [LinearWeight]
        var down: [LinearWeight]
        var used: Int
        var width: Int
        var normalizeWeights: Bool
    }

    public let config: ModelConfig
    /// The architecture: its embedding scale, activation, each layer's attention kind.
    public let spec: DecoderDescription
    /// The part of the model this instance holds.
    public let shard: ModelShard
    /// This rank's slices of heads, feed-forward width and vocabulary.
    public let layout: ShardLayout
    /// The file whose mapped bytes hold the weights; kept alive as long as the model.
    public let file: GGUFFile
    let embedding: MatrixView?
    /// Layers by absolute index minus `shard.layers.lowerBound`.
    let layers: [Layer]
    let outputNorm: [Float]?
    /// Divisors of the rotary frequencies (`rope_freqs.weight`), when the architecture reads them.
    let ropeFactors: [Float]?
    /// This rank's rows of the output head (`layout.vocabulary`).
    let outputHead: MatrixView?
    /// The head's fast path (fast precision only): a 4-bit draft ranks the vocabulary, the best rows are exact.
    let draftedHead: DraftedHead?
    let pool: ComputePool
    private let ownedCopies: [OwnedBytes]
    /// Bytes of the file's weights this shard binds (a tied embedding that is also the head counts twice).
    public let weightBytes: Int
    private let state: Mutex<State>

    private struct State: ~Copyable {
        var workspace = ForwardWorkspace()
        var experts = ExpertScratch()
        var rotaryBases: [Float] = []
        var rotaries: [RotaryTable] = []
    }

    /// Width of one token's logits from `head`: this rank's share of the vocabulary.
    public var logitsWidth: Int { layout.vocabulary.count }
    /// Width of one token's keys (or values) in this shard's KV cache.
    public var cacheKVWidth: Int { layout.kvHeads.count * config.headDim }

    /// Binds `shard` of the model that `description` describes in `file`: only the tensors of that shard, the
    /// projections' rows or columns of its tensor rank.
    /// - Throws: `ModelError` naming a missing, malformed or unclaimed tensor, or a shard that cannot be cut.
    public init(file: GGUFFile, description: DecoderDescription, shard: ModelShard? = nil, pool: ComputePool,
                precision: MatmulPrecision = .exact) throws {
        let config = description.config
        let shard = shard ?? .whole(layerCount: config.layerCount)
        try shard.validate(layerCount: config.layerCount)
        try description.checkEveryTensorIsUsed(in: file)
        guard description.attention.count == config.layerCount else {
            throw ModelError(.invalidMetadata, "\(config.architecture): attention kinds for \(description.attention.count) of \(config.layerCount) layers")
        }
        let tensors = description.tensors
        if shard.tensorCount > 1 {
            if tensors.contains(.queryKeyValue) || description.feedForward == .fusedGateUp {
                throw ModelError(.invalidMetadata,
                    "\(config.architecture) stores fused projections (attn_qkv, or gate and up in one ffn_up), which Shoal cannot split over tensor-parallel ranks yet; use --pipeline-parallel")
            }
            if case .experts = description.feedForward {
                throw ModelError(.invalidMetadata,
                    "\(config.architecture) is a mixture of experts, which Shoal cannot split over tensor-parallel ranks yet; use --pipeline-parallel")
            }
        }
        let w = WeightBinding(file: file, precision: precision)
        let layout = try Self.layout(of: shard, in: file, description: description)
        let h = config.hiddenSize, f = config.feedForwardSize, d = config.headDim
        let qw = config.queryWidth, kw = config.kvWidth
        let queryRows = (layout.queryHeads.lowerBound * d)..<(layout.queryHeads.upperBound * d)
        let kvRows = (layout.kvHeads.lowerBound * d)..<(layout.kvHeads.upperBound * d)
        var layers: [Layer] = []
        for i in shard.layers {
            let p = "blk.\(i)."
            func optionalVector(_ tensor: DecoderDescription.Tensor, count: Int) throws -> [Float]? {
                tensors.contains(tensor) ? try w.vector(p + tensor.rawValue + ".weight", count: count) : nil
            }
            func bias(_ tensor: DecoderDescription.Tensor, count: Int, range: Range<Int>) throws -> [Float]? {
                description.biases.contains(tensor) ? try w.vector(p + tensor.rawValue + ".bias", count: count, range: range) : nil
            }
            // Bound in the block's order, so that the first tensor a broken file lacks is the one named.
            let attentionNorm = try w.vector(p + "attn_norm.weight", count: h)
            let query, key, value: LinearWeight
            if tensors.contains(.queryKeyValue) {
                let name = p + "attn_qkv.weight"
                query = try w.linear(name, rows: qw + 2 * kw, columns: h, rowRange: 0..<qw)
                key = try w.linear(name, rows: qw + 2 * kw, columns: h, rowRange: qw..<(qw + kw))
                value = try w.linear(name, rows: qw + 2 * kw, columns: h, rowRange: (qw + kw)..<(qw + 2 * kw))
            } else {
                query = try w.linear(p + "attn_q.weight", rows: qw, columns: h, rowRange: queryRows)
                key = try w.linear(p + "attn_k.weight", rows: kw, columns: h, rowRange: kvRows)
                value = try w.linear(p + "attn_v.weight", rows: kw, columns: h, rowRange: kvRows)
            }
            let feedForward: FeedForwardWeights
            switch description.feedForward {
            case .gated:
                feedForward = .dense(
                    gate: try w.linear(p + "ffn_gate.weight", rows: f, columns: h, rowRange: layout.feedForward),
                    up: try w.linear(p + "ffn_up.weight", rows: f, columns: h, rowRange: layout.feedForward),
                    down: try w.linear(p + "ffn_down.weight", rows: h, columns: f, columnRange: layout.feedForward))
            case .fusedGateUp:
                feedForward = .dense(
                    gate: try w.linear(p + "ffn_up.weight", rows: 2 * f, columns: h, rowRange: 0..<f),
                    up: try w.linear(p + "ffn_up.weight", rows: 2 * f, columns: h, rowRange: f..<(2 * f)),
                    down: try w.linear(p + "ffn_down.weight", rows: h, columns: f))
            case .experts(let count, let used, let width, let normalize):
                feedForward = .experts(ExpertWeights(
                    router: try w.linear(p + "ffn_gate_inp.weight", rows: count, columns: h),
                    gate: try w.experts(p + "ffn_gate_exps.weight", experts: count, rows: width, columns: h),
                    up: try w.experts(p + "ffn_up_exps.weight", experts: count, rows: width, columns: h),
                    down: try w.experts(p + "ffn_down_exps.weight", experts: count, rows: h, columns: width),
                    used: used, width: width, normalizeWeights: normalize))
            }
            layers.append(Layer(
                attentionNorm: attentionNorm,
                query: query, key: key, value: value,
                queryBias: try bias(.query, count: qw, range: queryRows),
                keyBias: try bias(.key, count: kw, range: kvRows),
                valueBias: try bias(.value, count: kw, range: kvRows),
                queryNorm: try optionalVector(.queryNorm, count: d),
                keyNorm: try optionalVector(.keyNorm, count: d),
                attentionOutput: try w.linear(p + "attn_output.weight", rows: h, columns: qw, columnRange: queryRows),
                postAttentionNorm: try optionalVector(.postAttentionNorm, count: h),
                feedForwardNorm: try w.vector(p + "ffn_norm.weight", count: h),
                feedForward: feedForward,
                postFeedForwardNorm: try optionalVector(.postFeedForwardNorm, count: h),
                attention: description.attention[i]))
        }
        ropeFactors = try description.ropeFactorsTensor.map { try w.vector($0, count: config.ropeDimensions / 2) }
        self.layers = layers
        embedding = try shard.holdsEmbedding ? w.matrix("token_embd.weight", rows: config.vocabularySize, columns: h) : nil
        if shard.holdsHead {
            outputNorm = try w.vector("output_norm.weight", count: h)
            // Quantizing the head's input for a product over the whole head (as llama.cpp does) moved top-1
            // agreement with the reference below llama.cpp's on SmolLM2; the fast path instead drafts the head with
            // int8 products and recomputes each token's best rows exactly (`DraftedHead`).
            outputHead = file.tensor(named: "output.weight") == nil
                ? try w.matrix("token_embd.weight", rows: config.vocabularySize, columns: h, rowRange: layout.vocabulary)
                : try w.matrix("output.weight", rows: config.vocabularySize, columns: h, rowRange: layout.vocabulary)
            draftedHead = w.precision == .fast
                ? outputHead.flatMap { DraftedHead.forFastPath($0, vocabulary: config.vocabularySize) } : nil
        } else {
            outputNorm = nil
            outputHead = nil
            draftedHead = nil
        }
        self.config = config
        self.spec = description
        self.shard = shard
        self.layout = layout
        self.file = file
        self.pool = pool
        ownedCopies = w.ownedCopies
        weightBytes = w.boundBytes
        state = Mutex(State())
    }

    /// The largest block size (in columns) of the matrices whose inputs a tensor-parallel rank cuts.
    /// The slices a tensor-parallel rank of `shard` binds from `file` (what its `init` computes).
    /// - Throws: `ModelError` for a shard that cannot be cut.
    public static func layout(of shard: ModelShard, in file: GGUFFile, description: DecoderDescription) throws -> ShardLayout {
        let alignment = try cutAlignment(file, description: description, layers: shard.layers)
        return try ShardLayout(config: description.config, rank: shard.tensorRank, ranks: shard.tensorCount, alignment: alignment)
    }

    private static func cutAlignment(_ file: GGUFFile, description: DecoderDescription, layers: Range<Int>) throws -> Int {
        var alignment = 1
        for i in layers {
            for name in ["attn_output", "ffn_down"] {
                if let info = file.tensor(named: "blk.\(i).\(name).weight") { alignment = max(alignment, info.type.blockSize) }
            }
        }
        return alignment
    }

    // MARK: Whole-model forward

    public func forward(_ batch: ForwardBatch, cache: PagedKVCache, logits: UnsafeMutablePointer<Float>) throws {
        guard shard.isWhole(layerCount: config.layerCount) else {
            throw ModelError(.invalidBatch, "this model holds only \(shard); run it through an executor")
        }
        try validate(batch, cache: cache)
        if batch.tokens.isEmpty { return }
        try state.withLock { state in
            let ws = state.workspace
            reserve(ws, batch)
            embed(batch, into: ws.x)
            try run(batch, layers: shard.layers, x: ws.x, cache: cache, reducer: nil, state: &state)
            runHead(batch, x: ws.x, logits: logits, ws: ws)
        }
    }

    // MARK: Staged forward (pipeline stages, tensor-parallel ranks)

    /// Checks `batch` against the model and `cache` (which must hold this shard's layers at this rank's width).
    /// - Throws: `ModelError(.invalidBatch)` naming the first inconsistency.
    public func validate(_ batch: ForwardBatch, cache: PagedKVCache) throws {
        try batch.validate(vocabularySize: config.vocabularySize, cache: cache, contextLength: config.contextLength)
        guard cache.layers == shard.layers, cache.kvWidth == cacheKVWidth else {
            throw ModelError(.invalidBatch,
                "KV cache shape (layers \(cache.layers) x \(cache.kvWidth)) does not match the shard (layers \(shard.layers) x \(cacheKVWidth))")
        }
    }

    /// Writes the (scaled) embeddings of the batch's tokens into `hidden` (`tokens x hiddenSize` floats).
    /// - Precondition: the shard holds the embedding; the tokens were validated.
    public func embed(_ batch: ForwardBatch, into hidden: UnsafeMutablePointer<Float>) {
        guard let embedding else { preconditionFailure("shard \(shard) does not hold the embedding") }
        let h = config.hiddenSize
        for (t, token) in batch.tokens.enumerated() {
            dequantizeRow(embedding.type, embedding.row(Int(token)), hidden + t * h, count: h)
        }
        if let factor = spec.embeddingScale { scale(hidden, by: factor, count: batch.tokens.count * h) }
    }

    /// Runs `layers` (absolute indices, within the shard) over `hidden` in place, writing their keys and values
    /// into `cache`; `reducer` sums the row-parallel partial results across tensor ranks (nil for one rank).
    /// - Throws: `ModelError(.invalidBatch)` for a batch that does not fit; errors of `reducer`.
    public func forward(_ batch: ForwardBatch, layers: Range<Int>, hidden: UnsafeMutablePointer<Float>,
                        cache: PagedKVCache, reducer: (any PartialSumReducer)?) throws {
        guard layers.clamped(to: shard.layers) == layers else {
            throw ModelError(.invalidBatch, "layers \(layers) are not all in the shard's \(shard.layers)")
        }
        if batch.tokens.isEmpty || layers.isEmpty { return }
        try state.withLock { state in
            reserve(state.workspace, batch)
            try run(batch, layers: layers, x: hidden, cache: cache, reducer: reducer, state: &state)
        }
    }

    /// The final norm and this rank's rows of the output head for the batch's `logitRows`: writes
    /// `logitRows.count x logitsWidth` floats to `logits`.
    /// - Precondition: the shard holds the head.
    public func head(_ batch: ForwardBatch, hidden: UnsafeMutablePointer<Float>, logits: UnsafeMutablePointer<Float>) {
        if batch.logitRows.isEmpty { return }
        state.withLock { state in
            reserve(state.workspace, batch)
            runHead(batch, x: hidden, logits: logits, ws: state.workspace)
        }
    }

    // MARK: Blocks

    private func reserve(_ ws: ForwardWorkspace, _ batch: ForwardBatch) {
        let c = config
        ws.reserve(tokens: max(batch.tokens.count, batch.logitRows.count), hidden: c.hiddenSize,
                   query: layout.queryHeads.count * c.headDim, kv: cacheKVWidth, feedForward: layout.feedForward.count,
                   scoreStride: PagedAttention.scratchStride(headDim: c.headDim), scoreGroups: c.headCount / c.kvHeadCount * pool.threadCount)
    }

    /// The rotary table for `base`, filled for this batch once per call.
    private func rotary(_ base: Float, _ batch: ForwardBatch, _ state: inout State) -> Int {
        if let index = state.rotaryBases.firstIndex(of: base) { return index }
        var table = RotaryTable()
        table.fill(positions: batch.positions, dims: config.ropeDimensions, base: base, scale: config.ropeScale,
                   factors: ropeFactors, magnitude: spec.ropeMagnitude)
        state.rotaryBases.append(base)
        state.rotaries.append(table)
        return state.rotaries.count - 1
    }

    private func run(_ batch: ForwardBatch, layers range: Range<Int>, x: UnsafeMutablePointer<Float>,
                     cache: PagedKVCache, reducer: (any PartialSumReducer)?, state: inout State) throws {
        let c = config
        let n = batch.tokens.count
        let h = c.hiddenSize, d = c.headDim
        let ws = state.workspace
        let qHeads = layout.queryHeads.count, kvHeads = layout.kvHeads.count
        let qw = qHeads * d, kw = kvHeads * d, f = layout.feedForward.count
        let hn = ws.normed, q = ws.q, k = ws.k, v = ws.v, att = ws.attention, g = ws.gate, u = ws.up

        state.rotaryBases.removeAll(keepingCapacity: true)
        state.rotaries.removeAll(keepingCapacity: true)
        var views: [PagedAttention.TokenView] = []
        views.reserveCapacity(n)
        for (s, sequence) in batch.sequences.enumerated() {
            for t in sequence.start..<(sequence.start + sequence.count) {
                views.append(.init(position: Int(batch.positions[t]), firstVisible: 0, sequence: s))
            }
        }
        var windowViews: [Int: [PagedAttention.TokenView]] = [:]
        let tables = batch.sequences.map(\.blockTable)
        var attention = PagedAttention(headCount: c.headCount, kvHeadCount: c.kvHeadCount, headDim: d,
                                       scale: spec.attentionScale ?? 1 / Float(d).squareRoot(),
                                       queryHeads: layout.queryHeads, kvHeads: layout.kvHeads)
        attention.softcap = spec.attentionSoftcap

        /// `rows` rows of `width` floats at `p`, RMS-normalised in place with `weight`.
        func normalize(_ p: UnsafeMutablePointer<Float>, rows: Int, width: Int, _ weight: [Float]) {
            weight.withUnsafeBufferPointer { w in
                for r in 0..<rows { rmsNorm(p + r * width, weight: w.baseAddress!, count: width, eps: c.rmsEpsilon, p + r * width) }
            }
        }
        /// `hn = norm(x)` row by row.
        func normalizeInput(_ weight: [Float]) {
            weight.withUnsafeBufferPointer { w in
                for t in 0..<n { rmsNorm(x + t * h, weight: w.baseAddress!, count: h, eps: c.rmsEpsilon, hn + t * h) }
            }
        }

        for l in range {
            let layer = layers[l - shard.layers.lowerBound]
            // Attention: norm, q/k/v, optional per-head q/k norms, RoPE, cache, attend, output projection.
            normalizeInput(layer.attentionNorm)
            matmul(layer.query, hn, xStride: h, tokens: n, q, yStride: qw, pool: pool)
            matmul(layer.key, hn, xStride: h, tokens: n, k, yStride: kw, pool: pool)
            matmul(layer.value, hn, xStride: h, tokens: n, v, yStride: kw, pool: pool)
            if let bias = layer.queryBias { addRows(q, bias, rows: n) }
            if let bias = layer.keyBias { addRows(k, bias, rows: n) }
            if let bias = layer.valueBias { addRows(v, bias, rows: n) }
            if let queryNorm = layer.queryNorm { normalize(q, rows: n * qHeads, width: d, queryNorm) }
            if let keyNorm = layer.keyNorm { normalize(k, rows: n * kvHeads, width: d, keyNorm) }
            let table = state.rotaries[rotary(layer.attention.ropeBase, batch, &state)]
            var layerViews = views
            if let window = layer.attention.slidingWindow {
                if let cached = windowViews[window] {
                    layerViews = cached
                } else {
                    for i in layerViews.indices { layerViews[i].firstVisible = max(0, layerViews[i].position - window + 1) }
                    windowViews[window] = layerViews
                }
            }
            for t in 0..<n {
                table.apply(q + t * qw, heads: qHeads, headDim: d, token: t, style: c.ropeStyle)
                table.apply(k + t * kw, heads: kvHeads, headDim: d, token: t, style: c.ropeStyle)
                let position = Int(batch.positions[t])
                let block = Int(tables[views[t].sequence][position / cache.blockSize])
                let slot = position % cache.blockSize
                cache.store(keys: k + t * kw, values: v + t * kw, layer: l, block: block, slot: slot)
            }
            attention.run(layer: l, tokens: layerViews, blockTables: tables, cache: cache, queries: q, output: att,
                          scores: ws.scores, scoreStride: ws.scoreStride, pool: pool)
            // x += [norm](att · Wo); the product lands in hn (free again) first.
            matmul(layer.attentionOutput, att, xStride: qw, tokens: n, hn, yStride: h, pool: pool)
            try reducer?.allReduce(hn, count: n * h)
            if let norm = layer.postAttentionNorm { normalize(hn, rows: n, width: h, norm) }
            add(x, hn, count: n * h)

            // Gated MLP (or the experts a token is routed to): norm, gate and up, activation, down, [norm], residual.
            normalizeInput(layer.feedForwardNorm)
            switch layer.feedForward {
            case .dense(let gate, let up, let down):
                matmul(gate, hn, xStride: h, tokens: n, g, yStride: f, pool: pool)
                matmul(up, hn, xStride: h, tokens: n, u, yStride: f, pool: pool)
                activate(g, u, count: n * f)
                matmul(down, g, xStride: f, tokens: n, hn, yStride: h, pool: pool)
            case .experts(let experts):
                runExperts(experts, hn, tokens: n, scratch: state.experts)
            }
            try reducer?.allReduce(hn, count: n * h)
            if let norm = layer.postFeedForwardNorm { normalize(hn, rows: n, width: h, norm) }
            add(x, hn, count: n * h)
        }
    }

    /// Final norm and output head for the rows that need logits.
    private func runHead(_ batch: ForwardBatch, x: UnsafeMutablePointer<Float>, logits: UnsafeMutablePointer<Float>,
                         ws: ForwardWorkspace) {
        guard let outputNorm, let outputHead else { preconditionFailure("shard \(shard) does not hold the head") }
        let rows = batch.logitRows.count
        if rows == 0 { return }
        let h = config.hiddenSize, hn = ws.normed
        outputNorm.withUnsafeBufferPointer { weight in
            for (r, t) in batch.logitRows.enumerated() {
                rmsNorm(x + t * h, weight: weight.baseAddress!, count: h, eps: config.rmsEpsilon, hn + r * h)
            }
        }
        if let draftedHead {
            draftedHead.apply(hn, xStride: h, tokens: rows, logits, yStride: logitsWidth, pool: pool)
        } else {
            matmul(outputHead, hn, xStride: h, tokens: rows, logits, yStride: logitsWidth, pool: pool)
        }
        if let cap = spec.finalLogitSoftcap { softcap(logits, count: rows * logitsWidth, cap: cap) }
    }

    /// `gate = act(gate) · up`, element-wise.
    private func activate(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafeMutablePointer<Float>, count: Int) {
        switch spec.activation {
        case .silu: siluMul(gate, up, count: count)
        case .geluTanh: geluTanhMul(gate, up, count: count)
        }
    }

    /// The mixture-of-experts MLP over `tokens` rows of `hidden` (normalised input; overwritten with the output):
    /// the router scores every expert, each token takes its `used` best (softmax weights, renormalised over those
    /// when asked), and each expert runs once over all the tokens routed to it, its outputs added back weighted.
    private func runExperts(_ experts: ExpertWeights, _ hidden: UnsafeMutablePointer<Float>, tokens n: Int,
                            scratch: ExpertScratch) {
        let h = config.hiddenSize, count = experts.gate.count, width = experts.width
        scratch.reserve(tokens: n, hidden: h, experts: count, width: width)
        matmul(experts.router, hidden, xStride: h, tokens: n, scratch.scores, yStride: count, pool: pool)
        // Each token's choice in the scratch's reused arrays (no allocation once warm, as a decode step must be).
        let used = experts.used
        scratch.prepareRouting(tokens: n, experts: count, used: used)
        for t in 0..<n {
            let row = scratch.scores + t * count
            var maximum = -Float.infinity
            for e in 0..<count { maximum = max(maximum, row[e]) }
            var total = 0.0
            for e in 0..<count {
                scratch.probabilities[e] = exp(Double(row[e] - maximum))
                total += scratch.probabilities[e]
            }
            // The best `used` experts, best first, ties to the lower index; a chosen one's probability is set
            // below every other (they are all >= 0) so that it is not chosen again.
            var chosenTotal = 0.0
            for k in 0..<used {
                var best = 0
                for e in 1..<max(count, 1) where scratch.probabilities[e] > scratch.probabilities[best] { best = e }
                scratch.chosen[t * used + k] = best
                scratch.chosenProbability[k] = scratch.probabilities[best]
                chosenTotal += scratch.probabilities[best]
                scratch.probabilities[best] = -1
            }
            for k in 0..<used {
                let p = scratch.chosenProbability[k]
                scratch.chosenWeight[t * used + k] = Float(experts.normalizeWeights ? p / chosenTotal : p / total)
            }
        }
        // The rows routed to each expert, in token order: a counting sort by expert.
        for choice in 0..<(n * used) { scratch.routeStart[scratch.chosen[choice] + 1] += 1 }
        for e in 0..<count { scratch.routeStart[e + 1] += scratch.routeStart[e] }
        for e in 0...count { scratch.routeCursor[e] = scratch.routeStart[e] }
        for choice in 0..<(n * used) {
            let e = scratch.chosen[choice]
            scratch.routedToken[scratch.routeCursor[e]] = choice / used
            scratch.routedWeight[scratch.routeCursor[e]] = scratch.chosenWeight[choice]
            scratch.routeCursor[e] += 1
        }
        let out = scratch.output
        out.update(repeating: 0, count: n * h)
        for e in 0..<count where scratch.routeStart[e + 1] > scratch.routeStart[e] {
            let rows = scratch.routeStart[e]..<scratch.routeStart[e + 1]
            for (i, r) in rows.enumerated() {
                (scratch.input + i * h).update(from: hidden + scratch.routedToken[r] * h, count: h)
            }
            let m = rows.count
            matmul(experts.gate[e], scratch.input, xStride: h, tokens: m, scratch.gate, yStride: width, pool: pool)
            matmul(experts.up[e], scratch.input, xStride: h, tokens: m, scratch.up, yStride: width, pool: pool)
            activate(scratch.gate, scratch.up, count: m * width)
            matmul(experts.down[e], scratch.gate, xStride: width, tokens: m, scratch.expertOutput, yStride: h, pool: pool)
            for (i, r) in rows.enumerated() {
                axpy(scratch.routedWeight[r], scratch.expertOutput + i * h, out + scratch.routedToken[r] * h, count: h)
            }
        }
        hidden.update(from: out, count: n * h)
    }

    /// Adds `bias` to each of `rows` consecutive rows of `bias.count` floats at `x`.
    private func addRows(_ x: UnsafeMutablePointer<Float>, _ bias: [Float], rows: Int) {
        bias.withUnsafeBufferPointer { b in
            for r in 0..<rows { add(x + r * b.count, b.baseAddress!, count: b.count) }
        }
    }
}
