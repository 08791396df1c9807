public import ShoalGGUF
public import ShoalKernels
import Synchronization

/// The Llama architecture (`general.architecture = llama`): RMSNorm pre-norms, RoPE on q/k as GGUF stores
/// them (llama.cpp's permuted rows, so consecutive-pair rotation), grouped-query attention, SwiGLU MLP,
/// output head tied to the token embedding unless the file has `output.weight`.
public final class LlamaModel: LanguageModel {
    struct Layer {
        var attentionNorm: [Float]
        var query: LinearWeight
        var key: LinearWeight
        var value: LinearWeight
        var attentionOutput: LinearWeight
        var feedForwardNorm: [Float]
        var gate: LinearWeight
        var up: LinearWeight
        var down: LinearWeight
    }

    public let config: ModelConfig
    /// The file whose mapped bytes hold the weights; kept alive as long as the model.
    public let file: GGUFFile
    let embedding: MatrixView
    let layers: [Layer]
    let outputNorm: [Float]
    let outputHead: MatrixView
    let pool: ComputePool
    private let workspace: Mutex<ForwardWorkspace>

    /// Binds the weights of `file` (which must say `llama`) without copying the large matrices; with `.fast`
    /// precision the Q4_1 projections also get interleaved copies for the int8 path.
    /// - Throws: `ModelError` naming the missing or malformed tensor or metadata key.
    public init(file: GGUFFile, pool: ComputePool, precision: MatmulPrecision = .exact) throws {
        let config = try ModelConfig.llamaStyle(from: file, ropeStyle: .norm)
        let w = WeightBinding(file: file, precision: precision)
        let h = config.hiddenSize, f = config.feedForwardSize
        embedding = try w.matrix("token_embd.weight", rows: config.vocabularySize, columns: h)
        var layers: [Layer] = []
        for i in 0..<config.layerCount {
            let p = "blk.\(i)."
            layers.append(Layer(
                attentionNorm: try w.vector(p + "attn_norm.weight", count: h),
                query: try w.linear(p + "attn_q.weight", rows: config.queryWidth, columns: h),
                key: try w.linear(p + "attn_k.weight", rows: config.kvWidth, columns: h),
                value: try w.linear(p + "attn_v.weight", rows: config.kvWidth, columns: h),
                attentionOutput: try w.linear(p + "attn_output.weight", rows: h, columns: config.queryWidth),
                feedForwardNorm: try w.vector(p + "ffn_norm.weight", count: h),
                gate: try w.linear(p + "ffn_gate.weight", rows: f, columns: h),
                up: try w.linear(p + "ffn_up.weight", rows: f, columns: h),
                down: try w.linear(p + "ffn_down.weight", rows: h, columns: f)))
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
        self.pool = pool
        workspace = Mutex(ForwardWorkspace())
    }

    public func forward(_ batch: ForwardBatch, cache: PagedKVCache, logits: UnsafeMutablePointer<Float>) throws {
        try batch.validate(vocabularySize: config.vocabularySize, cache: cache, contextLength: config.contextLength)
        guard cache.layerCount == config.layerCount, cache.kvWidth == config.kvWidth else {
            throw ModelError(.invalidBatch, "KV cache shape (\(cache.layerCount) layers x \(cache.kvWidth)) does not match the model")
        }
        if batch.tokens.isEmpty { return }
        workspace.withLock { ws in
            run(batch, cache: cache, logits: logits, ws: ws)
        }
    }

    private func run(_ batch: ForwardBatch, cache: PagedKVCache, logits: UnsafeMutablePointer<Float>, ws: ForwardWorkspace) {
        let c = config
        let n = batch.tokens.count
        let h = c.hiddenSize, qw = c.queryWidth, kw = c.kvWidth, f = c.feedForwardSize
        let maxPosition = batch.positions.max().map { Int($0) } ?? 0
        ws.reserve(tokens: max(n, batch.logitRows.count), hidden: h, query: qw, kv: kw, feedForward: f,
                   scoreStride: maxPosition + 1, scoreGroups: c.headCount / c.kvHeadCount * pool.threadCount)
        let x = ws.x, hn = ws.normed, q = ws.q, k = ws.k, v = ws.v, att = ws.attention, g = ws.gate, u = ws.up

        // Embedding.
        let embedRows = embedding.base
        for (t, token) in batch.tokens.enumerated() {
            dequantizeRow(embedding.type, embedRows + Int(token) * embedding.rowBytes, x + t * h, count: h)
        }

        ws.rotary.fill(positions: batch.positions, dims: c.ropeDimensions, base: c.ropeBase)
        var views: [PagedAttention.TokenView] = []
        views.reserveCapacity(n)
        for (s, sequence) in batch.sequences.enumerated() {
            for t in sequence.start..<(sequence.start + sequence.count) {
                views.append(.init(position: Int(batch.positions[t]), firstVisible: 0, sequence: s))
            }
        }
        let tables = batch.sequences.map(\.blockTable)
        let attention = PagedAttention(headCount: c.headCount, kvHeadCount: c.kvHeadCount, headDim: c.headDim,
                                       scale: 1 / Float(c.headDim).squareRoot())

        for (l, layer) in layers.enumerated() {
            layer.attentionNorm.withUnsafeBufferPointer { weight in
                for t in 0..<n { rmsNorm(x + t * h, weight: weight.baseAddress!, count: h, eps: c.rmsEpsilon, hn + t * h) }
            }
            matmul(layer.query, hn, xStride: h, tokens: n, q, yStride: qw, pool: pool)
            matmul(layer.key, hn, xStride: h, tokens: n, k, yStride: kw, pool: pool)
            matmul(layer.value, hn, xStride: h, tokens: n, v, yStride: kw, pool: pool)
            for t in 0..<n {
                ws.rotary.apply(q + t * qw, heads: c.headCount, headDim: c.headDim, token: t, style: c.ropeStyle)
                ws.rotary.apply(k + t * kw, heads: c.kvHeadCount, headDim: c.headDim, token: t, style: c.ropeStyle)
                let position = Int(batch.positions[t])
                let block = Int(tables[views[t].sequence][position / cache.blockSize])
                let slot = position % cache.blockSize
                cache.storeKeys(k + t * kw, layer: l, block: block, slot: slot)
                cache.values(layer: l, block: block, slot: slot).update(from: v + t * kw, count: kw)
            }
            attention.run(layer: l, tokens: views, blockTables: tables, cache: cache, queries: q, output: att,
                          scores: ws.scores, scoreStride: ws.scoreStride, pool: pool)
            // x += att · Wo; the product lands in hn (free again) first.
            matmul(layer.attentionOutput, att, xStride: qw, tokens: n, hn, yStride: h, pool: pool)
            add(x, hn, count: n * h)

            layer.feedForwardNorm.withUnsafeBufferPointer { weight in
                for t in 0..<n { rmsNorm(x + t * h, weight: weight.baseAddress!, count: h, eps: c.rmsEpsilon, hn + t * h) }
            }
            matmul(layer.gate, hn, xStride: h, tokens: n, g, yStride: f, pool: pool)
            matmul(layer.up, hn, xStride: h, tokens: n, u, yStride: f, pool: pool)
            siluMul(g, u, count: n * f)
            matmul(layer.down, g, xStride: f, tokens: n, hn, yStride: h, pool: pool)
            add(x, hn, count: n * h)
        }

        // Final norm and output head, only for the rows that need logits.
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
