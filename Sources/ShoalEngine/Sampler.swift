/// A token id with its log-probability.
public struct TokenLogprob: Sendable, Equatable {
    public var id: Int32
    public var logprob: Float
    public init(id: Int32, logprob: Float) {
        self.id = id
        self.logprob = logprob
    }
}

/// The sampler's choice for one step.
public struct SampledToken: Sendable {
    public var id: Int32
    /// Log-probability of `id` under the raw model distribution (before bias, penalties and temperature).
    public var logprob: Float
    /// The most likely tokens under the raw distribution, most likely first (as many as `SamplingParams.logprobs`).
    public var topLogprobs: [TokenLogprob]
}

/// The tokens a sequence has seen, with the counts that penalties need.
public struct TokenHistory: Sendable {
    public private(set) var prompt: [Int32]
    public private(set) var output: [Int32] = []
    /// How often each token occurs in the output.
    public private(set) var outputCounts: [Int32: Int] = [:]
    /// Every distinct token of prompt and output.
    public private(set) var seen: Set<Int32>

    public init(prompt: [Int32]) {
        self.prompt = prompt
        seen = Set(prompt)
    }

    public mutating func append(_ id: Int32) {
        output.append(id)
        outputCounts[id, default: 0] += 1
        seen.insert(id)
    }
}

/// Chooses tokens from logits: greedy, or temperature with top-k, top-p and min-p, after logit bias and
/// repetition / presence / frequency penalties; a seeded generator makes it reproducible.
///
/// - Complexity: O(V) per step plus O(k log k) for the k candidates that survive filtering; never a full
///   sort of the vocabulary.
public struct Sampler: Sendable {
    public let params: SamplingParams
    public let vocabularySize: Int
    private var random: Xoshiro256
    private var candidates: [(id: Int32, logit: Float)] = []

    public init(params: SamplingParams, vocabularySize: Int) {
        self.params = params
        self.vocabularySize = vocabularySize
        var system = SystemRandomNumberGenerator()
        random = Xoshiro256(seed: params.seed ?? system.next())
    }

    /// Picks the next token. `logits` (vocabulary-sized) is used as scratch and left modified.
    public mutating func sample(logits: UnsafeMutableBufferPointer<Float>, context: TokenHistory) -> SampledToken {
        let n = min(vocabularySize, logits.count)
        let raw = UnsafeMutableBufferPointer(rebasing: logits[0..<n])
        // Raw distribution first: its normalizer and the top alternatives.
        let logNormalizer = logSumExp(UnsafeBufferPointer(raw))
        let top = params.logprobs.map { topEntries(UnsafeBufferPointer(raw), count: $0) } ?? []
        let topLogprobs = top.map { TokenLogprob(id: $0.id, logprob: $0.logit - logNormalizer) }

        // Adjust, remembering the raw logits of the tokens touched.
        var original: [Int32: Float] = [:]
        func adjust(_ id: Int32, _ change: (Float) -> Float) {
            guard id >= 0, Int(id) < n else { return }
            if original[id] == nil { original[id] = raw[Int(id)] }
            raw[Int(id)] = change(raw[Int(id)])
        }
        for (id, bias) in params.logitBias { adjust(id) { $0 + bias } }
        if params.repetitionPenalty != 1 {
            let penalty = params.repetitionPenalty
            for id in context.seen { adjust(id) { $0 > 0 ? $0 / penalty : $0 * penalty } }
        }
        if params.presencePenalty != 0 || params.frequencyPenalty != 0 {
            for (id, count) in context.outputCounts {
                adjust(id) { $0 - params.presencePenalty - params.frequencyPenalty * Float(count) }
            }
        }

        let chosen = params.isGreedy ? argmax(UnsafeBufferPointer(raw)) : draw(UnsafeBufferPointer(raw))
        let rawLogit = original[chosen] ?? raw[Int(chosen)]
        return SampledToken(id: chosen, logprob: rawLogit - logNormalizer, topLogprobs: topLogprobs)
    }

    /// Temperature, top-k, min-p and top-p, then one draw.
    private mutating func draw(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        let t = params.temperature
        let maxLogit = logits[Int(argmax(logits))]
        // Candidates: the top-k, or every token within reach of the maximum (the rest has negligible mass:
        // a logit 30·T below the top has probability ratio e^-30).
        candidates.removeAll(keepingCapacity: true)
        if params.topK > 0 {
            candidates = topEntries(logits, count: params.topK)
        } else {
            let floor = maxLogit - 30 * t
            for i in 0..<logits.count where logits[i] >= floor { candidates.append((Int32(i), logits[i])) }
        }
        // Probabilities relative to the top token.
        var weights = candidates.map { expf(($0.logit - maxLogit) / t) }
        if params.minP > 0 {
            // The top token has weight 1, so min-p keeps weights >= minP.
            var kept: [(id: Int32, logit: Float)] = [], keptWeights: [Float] = []
            for (c, w) in zip(candidates, weights) where w >= params.minP {
                kept.append(c)
                keptWeights.append(w)
            }
            candidates = kept
            weights = keptWeights
        }
        if params.topP < 1 {
            var order = Array(candidates.indices)
            order.sort { weights[$0] != weights[$1] ? weights[$0] > weights[$1] : candidates[$0].id < candidates[$1].id }
            let total = weights.reduce(0, +)
            var cumulative: Float = 0
            var keep = 0
            for index in order {
                cumulative += weights[index]
                keep += 1
                if cumulative >= params.topP * total { break }
            }
            let kept = order.prefix(keep)
            candidates = kept.map { candidates[$0] }
            weights = kept.map { weights[$0] }
        }
        let total = weights.reduce(0, +)
        var r = Float(Double(random.next() >> 11) * 0x1.0p-53) * total
        for (c, w) in zip(candidates, weights) {
            r -= w
            if r < 0 { return c.id }
        }
        return candidates.last!.id
    }
}

/// Index of the largest value (the lowest index on ties).
func argmax(_ values: UnsafeBufferPointer<Float>) -> Int32 {
    var best = 0
    var bestValue = -Float.infinity
    for i in 0..<values.count where values[i] > bestValue {
        best = i
        bestValue = values[i]
    }
    return Int32(best)
}

/// log Σ exp(values).
func logSumExp(_ values: UnsafeBufferPointer<Float>) -> Float {
    guard !values.isEmpty else { return -.infinity }
    let m = values[Int(argmax(values))]
    guard m.isFinite else { return m }
    var sum: Double = 0
    for v in values { sum += Double(expf(v - m)) }
    return m + Float(log(sum))
}

/// The `count` largest entries, largest first (lower id first on ties), by partial selection.
func topEntries(_ values: UnsafeBufferPointer<Float>, count: Int) -> [(id: Int32, logit: Float)] {
    let k = min(count, values.count)
    guard k > 0 else { return [] }
    // A small sorted buffer: cheap for the k <= 100 that APIs ask for, still O(V) scanning for larger k.
    var best: [(id: Int32, logit: Float)] = []
    best.reserveCapacity(k + 1)
    var threshold = -Float.infinity
    for i in 0..<values.count {
        let v = values[i]
        if best.count == k && !(v > threshold) { continue }
        var position = best.count
        while position > 0 && best[position - 1].logit < v { position -= 1 }
        best.insert((Int32(i), v), at: position)
        if best.count > k { best.removeLast() }
        if best.count == k { threshold = best[k - 1].logit }
    }
    return best
}

/// xoshiro256** seeded through SplitMix64: fast, and the same numbers on every platform.
struct Xoshiro256: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
