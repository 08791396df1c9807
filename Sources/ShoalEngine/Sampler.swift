import Foundation

/// Chooses tokens from logits with vLLM's semantics: logit bias, then repetition / frequency / presence
/// penalties; greedy argmax, or temperature, min-p, top-k and top-p followed by one seeded draw.
///
/// `logprob` and `topLogprobs` describe the raw model distribution (log-softmax of the logits as given).
/// Keep one sampler per sequence: it owns the sequence's random generator and reuses scratch buffers.
///
/// - Complexity: per step O(V) in a few vectorized passes plus O(m log k) for partial selection
///   (top-k heap, weighted quickselect for top-p); the vocabulary is never sorted.
public struct Sampler: Sendable {
    public let params: SamplingParams
    public let vocabularySize: Int
    /// The seed in use (`params.seed`, or the random one drawn when it is nil).
    public let seed: UInt64
    private var random: SeededRandom
    private var touched: [(index: Int32, raw: Float)] = []
    private var candidates: [SamplerCandidate] = []
    private var alternatives: [SamplerCandidate] = []
    private var chunkSums: [Double] = []

    public init(params: SamplingParams, vocabularySize: Int) {
        self.params = params
        self.vocabularySize = vocabularySize
        var system = SystemRandomNumberGenerator()
        seed = params.seed ?? system.next()
        random = SeededRandom(seed: seed)
    }

    /// Picks the next token.
    /// - Parameters:
    ///   - logits: the model's logits for this step, at least `vocabularySize` long (extra entries are
    ///     ignored). Used as scratch: the penalized logits are left in it.
    ///   - context: the prompt and the tokens generated so far, for the penalties.
    ///   - allowed: when given, only tokens whose bit is set (bit `id % 64` of word `id / 64`) can be chosen;
    ///     applied after bias and penalties, before temperature and truncation. Log-probabilities stay raw.
    public mutating func sample(logits: UnsafeMutableBufferPointer<Float>, context: TokenHistory,
                                allowed: [UInt64]? = nil) -> SampledToken {
        let n = min(logits.count, vocabularySize)
        guard n > 0, let base = logits.baseAddress else { return SampledToken(id: 0, logprob: -.infinity) }

        // The raw distribution: its maximum, normalizer and the top alternatives.
        let raw = SamplerKernels.argmax(base, count: n)
        let logNormalizer = raw.value.isFinite
            ? raw.value + Float(log(SamplerKernels.sumExp(base, count: n, shift: raw.value, scale: 1)))
            : raw.value
        var topLogprobs: [TokenLogprob] = []
        if let count = params.logprobs, count > 0 {
            SamplerKernels.selectTop(base, count: n, k: count, into: &alternatives)
            alternatives.sort { SamplerKernels.ranksBelow($1, $0) }
            topLogprobs = alternatives.map { TokenLogprob(id: $0.index, logprob: $0.logit - logNormalizer) }
        }

        applyAdjustments(base, count: n, context: context)
        if let allowed { Self.mask(base, count: n, allowed: allowed) }
        let best = touched.isEmpty && allowed == nil ? raw : SamplerKernels.argmax(base, count: n)
        let chosen = params.isGreedy || !best.value.isFinite ? best.index : draw(base, count: n, max: best.value, argmax: best.index)
        return SampledToken(id: Int32(chosen), logprob: rawLogit(of: chosen, base) - logNormalizer, topLogprobs: topLogprobs)
    }

    /// Sets the logits of tokens not in `allowed` to minus infinity.
    private static func mask(_ base: UnsafeMutablePointer<Float>, count n: Int, allowed: [UInt64]) {
        for (w, word) in allowed.enumerated() where word != ~0 {
            let first = w * 64
            guard first < n else { break }
            var banned = ~word
            while banned != 0 {
                let i = first + banned.trailingZeroBitCount
                if i >= n { break }
                base[i] = -.infinity
                banned &= banned - 1
            }
        }
        if allowed.count * 64 < n { (base + allowed.count * 64).update(repeating: -.infinity, count: n - allowed.count * 64) }
    }

    /// The logit of `index` before adjustments.
    private func rawLogit(of index: Int, _ base: UnsafeMutablePointer<Float>) -> Float {
        for entry in touched where Int(entry.index) == index { return entry.raw }
        return base[index]
    }

    /// Logit bias, then repetition penalty (prompt and output), then frequency and presence (output only),
    /// in place; records the raw logit of every token touched.
    private mutating func applyAdjustments(_ base: UnsafeMutablePointer<Float>, count n: Int, context: TokenHistory) {
        touched.removeAll(keepingCapacity: true)
        for (id, bias) in params.logitBias where id >= 0 && Int(id) < n {
            touched.append((id, base[Int(id)]))
            base[Int(id)] += bias
        }
        let repetition = params.repetitionPenalty
        let frequency = params.frequencyPenalty
        let presence = params.presencePenalty
        guard repetition != 1 || frequency != 0 || presence != 0 else { return }
        let biased = !params.logitBias.isEmpty
        let counts = context.outputCounts
        for (slot, id) in context.distinctTokens.enumerated() where id >= 0 && Int(id) < n {
            let outputCount = counts[slot]
            if repetition == 1 && outputCount == 0 { continue }
            let i = Int(id)
            if !(biased && params.logitBias[id] != nil) { touched.append((id, base[i])) }
            var x = base[i]
            if repetition != 1 { x = x > 0 ? x / repetition : x * repetition }
            if outputCount > 0 {
                x -= frequency * Float(outputCount)
                x -= presence
            }
            base[i] = x
        }
    }

    /// Temperature, min-p, top-k and top-p over the adjusted logits, then one draw.
    private mutating func draw(_ base: UnsafeMutablePointer<Float>, count n: Int, max m: Float, argmax: Int) -> Int {
        let temperature = params.temperature
        let inverseTemperature = 1 / temperature
        let minPFloor = params.minP > 0 ? m + temperature * Float(log(Double(params.minP))) : -.infinity
        let topK = params.topK > 0 && params.topK < n ? params.topK : 0
        let topP = params.topP < 1 ? Double(params.topP) : nil
        candidates.removeAll(keepingCapacity: true)
        var nucleusTarget: Double?

        if topK > 0 {
            SamplerKernels.selectTop(base, count: n, k: topK, into: &candidates)
            weigh(max: m, inverseTemperature: inverseTemperature)
            if params.minP > 0 { candidates.removeAll { $0.weight < params.minP } }
            if let topP { nucleusTarget = topP * candidates.reduce(0) { $0 + Double($1.weight) } }
        } else if let topP {
            // Collect only the tokens near the top that must contain the nucleus.
            let profile = SamplerKernels.massProfile(base, count: n, shift: m, scale: inverseTemperature, floor: minPFloor)
            let target = topP * profile.total
            nucleusTarget = target
            var floor = minPFloor
            for (window, mass) in zip(SamplerKernels.windows, profile.above) where mass >= target {
                floor = Swift.max(minPFloor, m - window / inverseTemperature)  // the kernel's threshold, bit for bit
                break
            }
            SamplerKernels.collect(base, count: n, floor: floor, into: &candidates)
            weigh(max: m, inverseTemperature: inverseTemperature)
        } else {
            // Temperature and min-p alone need no candidate list.
            return drawFromAll(base, count: n, max: m, inverseTemperature: inverseTemperature, floor: minPFloor, argmax: argmax)
        }

        let cutoff = nucleusTarget.map { SamplerKernels.nucleusCutoff(&candidates, target: $0) } ?? -.infinity
        var total: Double = 0
        for c in candidates where c.logit >= cutoff { total += Double(c.weight) }
        guard total > 0 else { return argmax }
        let target = random.nextUnitInterval() * total
        var accumulated: Double = 0
        var last = argmax
        for c in candidates where c.logit >= cutoff && c.weight > 0 {
            accumulated += Double(c.weight)
            last = Int(c.index)
            if accumulated > target { return last }
        }
        return last
    }

    private mutating func weigh(max m: Float, inverseTemperature: Float) {
        for i in candidates.indices {
            candidates[i].weight = SamplerKernels.exp((candidates[i].logit - m) * inverseTemperature)
        }
    }

    /// Temperature sampling over every token at or above `floor`: chunk sums locate the chunk, one scan
    /// finds the token.
    private mutating func drawFromAll(
        _ base: UnsafeMutablePointer<Float>, count n: Int, max m: Float, inverseTemperature: Float, floor: Float, argmax: Int
    ) -> Int {
        let chunks = (n + SamplerKernels.chunk - 1) / SamplerKernels.chunk
        if chunkSums.count < chunks { chunkSums = [Double](repeating: 0, count: chunks) }
        let total = chunkSums.withUnsafeMutableBufferPointer {
            SamplerKernels.sumExp(base, count: n, shift: m, scale: inverseTemperature, floor: floor, chunkSums: $0.baseAddress!)
        }
        guard total > 0 else { return argmax }
        let target = random.nextUnitInterval() * total
        var accumulated: Double = 0
        var chunk = 0
        while chunk < chunks - 1, accumulated + chunkSums[chunk] <= target {
            accumulated += chunkSums[chunk]
            chunk += 1
        }
        let start = chunk * SamplerKernels.chunk
        let end = min(start + SamplerKernels.chunk, n)
        var last = argmax
        for i in start..<end where base[i] >= floor {
            let w = SamplerKernels.exp((base[i] - m) * inverseTemperature)
            guard w > 0 else { continue }
            accumulated += Double(w)
            last = i
            if accumulated > target { return i }
        }
        return last
    }
}
