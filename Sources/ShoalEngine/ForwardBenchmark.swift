public import ShoalModels

/// llama-bench style throughput runs straight on an executor: prefill of N random tokens in one batch (pp),
/// and N single-token decode steps (tg), each including the output head, from an empty context or after a
/// context of `depth` tokens already in the cache (llama-bench's `-d`).
public struct ForwardBenchmark {
    public let executor: any ModelExecutor
    private let blockCount: Int
    private var logits: [Float]
    private var rng: SystemRandomNumberGenerator

    /// A benchmark of `model` in this process.
    /// - Parameter maxTokens: the longest run to support (prompt or generation).
    public init(model: any LanguageModel, maxTokens: Int) throws {
        try self.init(executor: LocalExecutor(model: model), maxTokens: maxTokens)
    }

    /// A benchmark of `executor`, whose KV cache it allocates for `maxTokens` tokens.
    public init(executor: any ModelExecutor, maxTokens: Int) throws {
        self.executor = executor
        blockCount = max(1, (maxTokens + PagedKVCache.defaultBlockSize - 1) / PagedKVCache.defaultBlockSize)
        try executor.allocateCache(blockCount: blockCount, blockSize: PagedKVCache.defaultBlockSize)
        logits = [Float](repeating: 0, count: executor.config.vocabularySize)
        rng = SystemRandomNumberGenerator()
    }

    private var fullTable: [Int32] { (0..<Int32(blockCount)).map { $0 } }

    private mutating func randomTokens(_ n: Int) -> [Int32] {
        let vocab = Int32(executor.config.vocabularySize)
        return (0..<n).map { _ in Int32.random(in: 0..<vocab, using: &rng) }
    }

    /// Puts `depth` random tokens in the cache at positions 0..<depth (in chunks of 512), for runs that start there.
    public mutating func fill(depth: Int) throws {
        var start = 0
        while start < depth {
            let count = min(512, depth - start)
            var batch = ForwardBatch()
            batch.append(tokens: randomTokens(count), startingAt: start, blockTable: fullTable)
            try logits.withUnsafeMutableBufferPointer { try executor.execute(batch, logits: $0.baseAddress!) }
            start += count
        }
    }

    /// Seconds to run `tokens` random tokens through the model as one batch, at positions from `depth` on (the
    /// context before them filled by ``fill(depth:)``).
    public mutating func prefill(tokens: Int, depth: Int = 0) throws -> Double {
        var batch = ForwardBatch()
        batch.append(tokens: randomTokens(tokens), startingAt: depth, blockTable: fullTable)
        let clock = ContinuousClock()
        let start = clock.now
        try logits.withUnsafeMutableBufferPointer { try executor.execute(batch, logits: $0.baseAddress!) }
        return (clock.now - start).seconds
    }

    /// Seconds to run `tokens` decode steps of one token each, positions `depth ..< depth + tokens`.
    public mutating func decode(tokens: Int, depth: Int = 0) throws -> Double {
        let ids = randomTokens(tokens)
        let table = fullTable
        let clock = ContinuousClock()
        let start = clock.now
        for (index, id) in ids.enumerated() {
            var batch = ForwardBatch()
            batch.append(tokens: [id], startingAt: depth + index, blockTable: table)
            try logits.withUnsafeMutableBufferPointer { try executor.execute(batch, logits: $0.baseAddress!) }
        }
        return (clock.now - start).seconds
    }
}

/// Median, spread and raw samples of a throughput measurement.
public struct ThroughputSummary: Sendable, Codable {
    public var median: Double
    public var mean: Double
    public var standardDeviation: Double
    public var min: Double
    public var max: Double
    public var samples: [Double]

    public init(samples: [Double]) {
        let sorted = samples.sorted()
        self.samples = samples
        let n = sorted.count
        median = n == 0 ? 0 : (n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2)
        mean = n == 0 ? 0 : sorted.reduce(0, +) / Double(n)
        let m = mean
        standardDeviation = n < 2 ? 0 : (sorted.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(n - 1)).squareRoot()
        min = sorted.first ?? 0
        max = sorted.last ?? 0
    }
}
