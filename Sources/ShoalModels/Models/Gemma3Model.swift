public import ShoalGGUF
public import ShoalKernels
import Synchronization

/// The Gemma 3 architecture (`general.architecture = gemma3`), as llama.cpp runs it:
///
/// - the token embedding scaled by √hidden (rounded to float32);
/// - RMSNorm "sandwich" norms: before and after attention and the MLP, the gains as stored (llama.cpp's converter
///   already added Gemma's +1);
/// - per-head RMSNorm of queries and keys (`attn_q_norm`, `attn_k_norm`) before RoPE, NEOX pairing on the q/k rows
///   as stored;
/// - layers alternating sliding-window (local) and global attention: every 6th layer (`il % 6 == 5`) is global and
///   uses `rope.freq_base`, the others see only the last `attention.sliding_window` positions (the current one
///   included) and use base 10 000 (`rope.freq_base_swa` when present);
/// - attention scale 1/√head_dim, GELU (tanh) gated MLP, output head tied to the embedding, no logit soft-capping.
public final class Gemma3Model: LanguageModel {
    struct Layer {
        var attentionNorm: [Float]
        var query: LinearWeight
        var key: LinearWeight
        var value: LinearWeight
        var queryNorm: [Float]
        var keyNorm: [Float]
        var attentionOutput: LinearWeight
        var postAttentionNorm: [Float]
        var feedForwardNorm: [Float]
        var gate: LinearWeight
        var up: LinearWeight
        var down: LinearWeight
        var postFeedForwardNorm: [Float]
        /// Whether the layer attends through the sliding window (and uses the local RoPE base).
        var isLocal: Bool
    }

    /// Every `slidingWindowPattern`-th layer is global (llama.cpp hard-codes 6 for gemma3).
    public static let slidingWindowPattern = 6

    public let config: ModelConfig
    /// The file whose mapped bytes hold the weights; kept alive as long as the model.
    public let file: GGUFFile
    /// Keys a local layer sees: positions `p - slidingWindow + 1 ... p`.
    public let slidingWindow: Int
    /// RoPE base of the local (sliding-window) layers; `config.ropeBase` is the global layers' base.
    public let localRopeBase: Float
    /// Factor applied to the token embedding: √hidden in float32.
    public let embeddingScale: Float
    let embedding: MatrixView
    let layers: [Layer]
    let outputNorm: [Float]
    let outputHead: MatrixView
    let pool: ComputePool
    private let state: Mutex<State>

    private struct State: ~Copyable {
        var workspace = ForwardWorkspace()
        var localRotary = RotaryTable()
    }

    /// Binds the weights of `file` (which must say `gemma3`) without copying the large matrices; with `.fast`
    /// precision the Q4_1 projections also get interleaved copies for the int8 path.
    /// - Throws: `ModelError` naming the missing or malformed tensor or metadata key.
    public init(file: GGUFFile, pool: ComputePool, precision: MatmulPrecision = .exact) throws {
        let config = try ModelConfig.llamaStyle(from: file, ropeStyle: .neox)
        let arch = config.architecture
        let window = try file.optionalInt("\(arch).attention.sliding_window") ?? 512
        guard window > 0 else {
            throw ModelError(.invalidMetadata, "\(arch).attention.sliding_window must be positive (got \(window))")
        }
        let localBase = try file.optionalFloat("\(arch).rope.freq_base_swa") ?? 10_000
        guard localBase > 0, localBase.isFinite else {
            throw ModelError(.invalidMetadata, "\(arch).rope.freq_base_swa must be positive (got \(localBase))")
        }
        guard config.ropeDimensions == config.headDim else {
            throw ModelError(.invalidMetadata, "\(arch): partial RoPE (\(config.ropeDimensions) of \(config.headDim) dims) is not supported")
        }
        let w = WeightBinding(file: file, precision: precision)
        let h = config.hiddenSize, f = config.feedForwardSize, d = config.headDim
        embedding = try w.matrix("token_embd.weight", rows: config.vocabularySize, columns: h)
        var layers: [Layer] = []
        for i in 0..<config.layerCount {
            let p = "blk.\(i)."
            layers.append(Layer(
                attentionNorm: try w.vector(p + "attn_norm.weight", count: h),
                query: try w.linear(p + "attn_q.weight", rows: config.queryWidth, columns: h),
                key: try w.linear(p + "attn_k.weight", rows: config.kvWidth, columns: h),
                value: try w.linear(p + "attn_v.weight", rows: config.kvWidth, columns: h),
                queryNorm: try w.vector(p + "attn_q_norm.weight", count: d),
                keyNorm: try w.vector(p + "attn_k_norm.weight", count: d),
                attentionOutput: try w.linear(p + "attn_output.weight", rows: h, columns: config.queryWidth),
                postAttentionNorm: try w.vector(p + "post_attention_norm.weight", count: h),
                feedForwardNorm: try w.vector(p + "ffn_norm.weight", count: h),
                gate: try w.linear(p + "ffn_gate.weight", rows: f, columns: h),
                up: try w.linear(p + "ffn_up.weight", rows: f, columns: h),
                down: try w.linear(p + "ffn_down.weight", rows: h, columns: f),
                postFeedForwardNorm: try w.vector(p + "post_ffw_norm.weight", count: h),
                isLocal: i % Self.slidingWindowPattern != Self.slidingWindowPattern - 1))
        }
        self.layers = layers
        outputNorm = try w.vector("output_norm.weight", count: h)
        // The output head stays exact in both precisions: quantizing its input too (as llama.cpp does) bought
        // about 8% decode speed on SmolLM2 but moved top-1 agreement with the reference below llama.cpp's.
        outputHead = file.tensor(named: "output.weight") == nil
            ? embedding
            : try w.matrix("output.weight", rows: config.vocabularySize, columns: h)
        self.config = config
        self.file = file
        self.slidingWindow = window
        self.localRopeBase = localBase
        self.embeddingScale = Float(Double(h).squareRoot())
        self.pool = pool
        state = Mutex(State())
    }

    public func forward(_ batch: ForwardBatch, cache: PagedKVCache, logits: UnsafeMutablePointer<Float>) throws {
        try batch.validate(vocabularySize: config.vocabularySize, cache: cache, contextLength: config.contextLength)
        guard cache.layerCount == config.layerCount, cache.kvWidth == config.kvWidth else {
            throw ModelError(.invalidBatch, "KV cache shape (\(cache.layerCount) layers x \(cache.kvWidth)) does not match the model")
        }
        if batch.tokens.isEmpty { return }
        state.withLock { state in
            run(batch, cache: cache, logits: logits, ws: state.workspace, localRotary: &state.localRotary)
        }
    }

    private func run(_ batch: ForwardBatch, cache: PagedKVCache, logits: UnsafeMutablePointer<Float>,
                     ws: ForwardWorkspace, localRotary: inout RotaryTable) {
        let c = config
        let n = batch.tokens.count
        let h = c.hiddenSize, qw = c.queryWidth, kw = c.kvWidth, f = c.feedForwardSize, d = c.headDim
        let maxPosition = batch.positions.max().map { Int($0) } ?? 0
        ws.reserve(tokens: max(n, batch.logitRows.count), hidden: h, query: qw, kv: kw, feedForward: f,
                   scoreStride: maxPosition + 1, scoreGroups: c.headCount / c.kvHeadCount * pool.threadCount)
        let x = ws.x, hn = ws.normed, q = ws.q, k = ws.k, v = ws.v, att = ws.attention, g = ws.gate, u = ws.up

        // Embedding, scaled by √hidden.
        for (t, token) in batch.tokens.enumerated() {
            dequantizeRow(embedding.type, embedding.row(Int(token)), x + t * h, count: h)
        }
        scale(x, by: embeddingScale, count: n * h)

        ws.rotary.fill(positions: batch.positions, dims: c.ropeDimensions, base: c.ropeBase)
        localRotary.fill(positions: batch.positions, dims: c.ropeDimensions, base: localRopeBase)
        var globalViews: [PagedAttention.TokenView] = []
        globalViews.reserveCapacity(n)
        for (s, sequence) in batch.sequences.enumerated() {
            for t in sequence.start..<(sequence.start + sequence.count) {
                globalViews.append(.init(position: Int(batch.positions[t]), firstVisible: 0, sequence: s))
            }
        }
        let localViews = globalViews.map { view in
            PagedAttention.TokenView(position: view.position, firstVisible: max(0, view.position - slidingWindow + 1),
                                     sequence: view.sequence)
        }
        let tables = batch.sequences.map(\.blockTable)
        let attention = PagedAttention(headCount: c.headCount, kvHeadCount: c.kvHeadCount, headDim: d,
                                       scale: 1 / Float(d).squareRoot())

        /// `rows` rows of `width` floats at `p`, RMS-normalised in place with `weight`.
        func normalize(_ p: UnsafeMutablePointer<Float>, rows: Int, width: Int, _ weight: [Float]) {
            weight.withUnsafeBufferPointer { w in
                for r in 0..<rows { rmsNorm(p + r * width, weight: w.baseAddress!, count: width, eps: c.rmsEpsilon, p + r * width) }
            }
        }

        for (l, layer) in layers.enumerated() {
            layer.attentionNorm.withUnsafeBufferPointer { weight in
                for t in 0..<n { rmsNorm(x + t * h, weight: weight.baseAddress!, count: h, eps: c.rmsEpsilon, hn + t * h) }
            }
            matmul(layer.query, hn, xStride: h, tokens: n, q, yStride: qw, pool: pool)
            matmul(layer.key, hn, xStride: h, tokens: n, k, yStride: kw, pool: pool)
            matmul(layer.value, hn, xStride: h, tokens: n, v, yStride: kw, pool: pool)
            // QK-norm per head, then RoPE with the layer's base.
            normalize(q, rows: n * c.headCount, width: d, layer.queryNorm)
            normalize(k, rows: n * c.kvHeadCount, width: d, layer.keyNorm)
            let rotary = layer.isLocal ? localRotary : ws.rotary
            let views = layer.isLocal ? localViews : globalViews
            for t in 0..<n {
                rotary.apply(q + t * qw, heads: c.headCount, headDim: d, token: t, style: .neox)
                rotary.apply(k + t * kw, heads: c.kvHeadCount, headDim: d, token: t, style: .neox)
                let position = Int(batch.positions[t])
                let block = Int(tables[views[t].sequence][position / cache.blockSize])
                let slot = position % cache.blockSize
                cache.storeKeys(k + t * kw, layer: l, block: block, slot: slot)
                cache.values(layer: l, block: block, slot: slot).update(from: v + t * kw, count: kw)
            }
            attention.run(layer: l, tokens: views, blockTables: tables, cache: cache, queries: q, output: att,
                          scores: ws.scores, scoreStride: ws.scoreStride, pool: pool)
            // x += norm(att · Wo); the product lands in hn (free again) first.
            matmul(layer.attentionOutput, att, xStride: qw, tokens: n, hn, yStride: h, pool: pool)
            normalize(hn, rows: n, width: h, layer.postAttentionNorm)
            add(x, hn, count: n * h)

            layer.feedForwardNorm.withUnsafeBufferPointer { weight in
                for t in 0..<n { rmsNorm(x + t * h, weight: weight.baseAddress!, count: h, eps: c.rmsEpsilon, hn + t * h) }
            }
            matmul(layer.gate, hn, xStride: h, tokens: n, g, yStride: f, pool: pool)
            matmul(layer.up, hn, xStride: h, tokens: n, u, yStride: f, pool: pool)
            geluTanhMul(g, u, count: n * f)
            matmul(layer.down, g, xStride: f, tokens: n, hn, yStride: h, pool: pool)
            normalize(hn, rows: n, width: h, layer.postFeedForwardNorm)
            add(x, hn, count: n * h)
        }

        // Final norm and the tied output head, only for the rows that need logits.
        let rows = batch.logitRows.count
        if rows == 0 { return }
        outputNorm.withUnsafeBufferPointer { weight in
            for (r, t) in batch.logitRows.enumerated() {
                rmsNorm(x + t * h, weight: weight.baseAddress!, count: h, eps: c.rmsEpsilon, hn + r * h)
            }
        }
        matmul(outputHead, hn, xStride: h, tokens: rows, logits, yStride: c.vocabularySize, pool: pool)
    }
}
