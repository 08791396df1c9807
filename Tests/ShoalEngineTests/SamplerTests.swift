import Foundation
import ShoalEngine
import Testing

/// Sampling semantics: determinism, distributions, filters, penalties, bias, greedy ties and logprobs.
struct SamplerTests {
    /// Samples once from a copy of `logits` (the sampler uses its buffer as scratch).
    static func sample(_ sampler: inout Sampler, _ logits: [Float], _ history: TokenHistory = TokenHistory(prompt: [])) -> SampledToken {
        var scratch = logits
        return scratch.withUnsafeMutableBufferPointer { sampler.sample(logits: $0, context: history) }
    }

    static func randomLogits(_ count: Int, seed: UInt64, spread: Float = 12) -> [Float] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in Float(random.nextUnitInterval()) * spread - spread / 2 }
    }

    /// Softmax in Double.
    static func softmax(_ logits: [Float], temperature: Double = 1) -> [Double] {
        let m = Double(logits.max()!)
        let e = logits.map { Foundation.exp((Double($0) - m) / temperature) }
        let z = e.reduce(0, +)
        return e.map { $0 / z }
    }

    static func logSoftmax(_ logits: [Float]) -> [Double] {
        let m = Double(logits.max()!)
        let z = logits.reduce(0) { $0 + Foundation.exp(Double($1) - m) }
        return logits.map { Double($0) - m - Foundation.log(z) }
    }

    /// Frequencies of `draws` samples.
    static func frequencies(_ params: SamplingParams, _ logits: [Float], draws: Int = 20_000) -> [Double] {
        var sampler = Sampler(params: params, vocabularySize: logits.count)
        var counts = [Int](repeating: 0, count: logits.count)
        for _ in 0..<draws { counts[Int(sample(&sampler, logits).id)] += 1 }
        return counts.map { Double($0) / Double(draws) }
    }

    // MARK: Determinism

    static func run(_ params: SamplingParams, steps: Int) -> [Int32] {
        let vocabulary = 3000
        var sampler = Sampler(params: params, vocabularySize: vocabulary)
        var history = TokenHistory(prompt: [5, 17, 99])
        var ids: [Int32] = []
        for step in 0..<steps {
            let logits = randomLogits(vocabulary, seed: UInt64(step), spread: 8)
            let token = sample(&sampler, logits, history)
            history.append(token.id)
            ids.append(token.id)
        }
        return ids
    }

    @Test(arguments: [
        SamplingParams(temperature: 1, seed: 1),
        SamplingParams(temperature: 0.8, topK: 50, seed: 1),
        SamplingParams(temperature: 1.2, topP: 0.9, seed: 1),
        SamplingParams(temperature: 0.7, topP: 0.95, minP: 0.05, repetitionPenalty: 1.1, presencePenalty: 0.5, frequencyPenalty: 0.3, seed: 1),
        SamplingParams(temperature: 1, minP: 0.1, seed: 1),
    ])
    func sameSeedSameTokensDifferentSeedDifferentTokens(_ params: SamplingParams) {
        let first = Self.run(params, steps: 200)
        #expect(Self.run(params, steps: 200) == first)
        var other = params
        other.seed = 2
        #expect(Self.run(other, steps: 200) != first)
        #expect(Set(first).count > 20, "the sequence should not be degenerate")
    }

    @Test func nilSeedDrawsARandomSeedAndReportsIt() {
        let a = Sampler(params: SamplingParams(), vocabularySize: 10)
        let b = Sampler(params: SamplingParams(), vocabularySize: 10)
        #expect(a.seed != b.seed)
        #expect(Sampler(params: SamplingParams(seed: 9), vocabularySize: 10).seed == 9)
    }

    // MARK: Distributions

    static let small: [Float] = [2.0, 1.0, 0.5, 0.0, -1.0, -3.0]

    @Test(arguments: [1.0, 0.5, 1.7])
    func temperatureSamplingFollowsTheSoftmax(_ temperature: Double) {
        let observed = Self.frequencies(SamplingParams(temperature: Float(temperature), seed: 11), Self.small)
        let expected = Self.softmax(Self.small, temperature: temperature)
        for (o, e) in zip(observed, expected) { #expect(abs(o - e) < 0.02, "observed \(observed) expected \(expected)") }
    }

    @Test func largeVocabularyDrawWalksChunksCorrectly() {
        // Mass in a few tokens spread over the three 1024-element chunks, the rest as a flat floor.
        var logits = [Float](repeating: -2, count: 2100)
        let heavy = [3, 1500, 2048, 2099]
        for (index, value) in zip(heavy, [Float(5), 5.5, 4, 6]) { logits[index] = value }
        let observed = Self.frequencies(SamplingParams(temperature: 1, seed: 3), logits, draws: 10_000)
        let expected = Self.softmax(logits)
        for index in heavy { #expect(abs(observed[index] - expected[index]) < 0.02) }
        let restObserved = 1 - heavy.reduce(0) { $0 + observed[$1] }
        let restExpected = 1 - heavy.reduce(0) { $0 + expected[$1] }
        #expect(abs(restObserved - restExpected) < 0.02)
    }

    @Test func topKRenormalizesOverTheKBest() {
        let observed = Self.frequencies(SamplingParams(temperature: 1, topK: 3, seed: 5), Self.small)
        let expected = Self.softmax(Array(Self.small.prefix(3))) + [0, 0, 0]
        for (o, e) in zip(observed, expected) { #expect(abs(o - e) < 0.02) }
        #expect(observed[3...].allSatisfy { $0 == 0 })
    }

    @Test func topPKeepsTheSmallestSetReachingP() {
        // probabilities 0.5, 0.3, 0.15, 0.05: top_p 0.75 keeps the first two (0.5 + 0.3 reaches it).
        let logits = [0.5, 0.3, 0.15, 0.05].map { Float(Foundation.log($0)) }
        let observed = Self.frequencies(SamplingParams(temperature: 1, topP: 0.75, seed: 6), logits)
        #expect(abs(observed[0] - 0.625) < 0.02)
        #expect(abs(observed[1] - 0.375) < 0.02)
        #expect(observed[2] == 0 && observed[3] == 0)
        // Above 0.8 the third token joins.
        let wider = Self.frequencies(SamplingParams(temperature: 1, topP: 0.85, seed: 6), logits)
        #expect(abs(wider[2] - 0.15 / 0.95) < 0.02)
        #expect(wider[3] == 0)
    }

    @Test func minPDropsTokensBelowAFractionOfTheTop() {
        // min_p 0.2 of the top probability 0.5 is 0.1: 0.05 goes, the rest renormalizes.
        let logits = [0.5, 0.3, 0.15, 0.05].map { Float(Foundation.log($0)) }
        let observed = Self.frequencies(SamplingParams(temperature: 1, minP: 0.2, seed: 8), logits)
        for (o, e) in zip(observed, [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0]) { #expect(abs(o - e) < 0.02) }
        #expect(observed[3] == 0)
    }

    /// The tokens each filter allows, computed by sorting (the sampler itself never sorts).
    static func allowed(_ logits: [Float], _ params: SamplingParams) -> Set<Int> {
        let probabilities = softmax(logits, temperature: Double(params.temperature))
        var order = logits.indices.sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
        if params.minP > 0 { order = order.filter { probabilities[$0] >= Double(params.minP) * probabilities[order[0]] * (1 - 1e-6) } }
        if params.topK > 0 { order = Array(order.prefix(params.topK)) }
        if params.topP < 1 {
            let total = order.reduce(0) { $0 + probabilities[$1] }
            var accumulated = 0.0
            var kept: [Int] = []
            for index in order {
                kept.append(index)
                accumulated += probabilities[index]
                if accumulated >= Double(params.topP) * total * (1 - 1e-6) { break }
            }
            order = kept
        }
        return Set(order)
    }

    @Test(arguments: [
        SamplingParams(temperature: 1, topK: 10, seed: 21),
        SamplingParams(temperature: 1, topP: 0.5, seed: 22),
        SamplingParams(temperature: 0.6, topP: 0.9, seed: 23),
        SamplingParams(temperature: 1, minP: 0.3, seed: 24),
        SamplingParams(temperature: 1.5, topK: 40, topP: 0.7, minP: 0.05, seed: 25),
    ])
    func filtersNeverPickExcludedTokens(_ params: SamplingParams) {
        let logits = Self.randomLogits(2000, seed: 77, spread: 14)
        let allowed = Self.allowed(logits, params)
        var sampler = Sampler(params: params, vocabularySize: logits.count)
        var seen: Set<Int> = []
        for _ in 0..<1000 {
            let id = Int(Self.sample(&sampler, logits).id)
            #expect(allowed.contains(id), "token \(id) is outside the allowed set of \(allowed.count)")
            seen.insert(id)
        }
        #expect(seen.count > 1)
    }

    @Test func topPOverAFlatDistributionKeepsMostOfTheVocabulary() {
        // Near-uniform logits: the nucleus is thousands of tokens, found without sorting.
        let logits = Self.randomLogits(20_000, seed: 4, spread: 0.01)
        let params = SamplingParams(temperature: 1, topP: 0.5, seed: 31)
        let allowed = Self.allowed(logits, params)
        #expect(allowed.count > 8_000)
        var sampler = Sampler(params: params, vocabularySize: logits.count)
        for _ in 0..<100 { #expect(allowed.contains(Int(Self.sample(&sampler, logits).id))) }
    }

    // MARK: Penalties and bias

    @Test func penaltiesChangeTheRightLogitsByTheRightAmounts() {
        var history = TokenHistory(prompt: [1, 2, 1])
        for id: Int32 in [2, 3, 3] { history.append(id) }
        let params = SamplingParams(temperature: 0, repetitionPenalty: 2, presencePenalty: 0.25, frequencyPenalty: 0.5)
        var sampler = Sampler(params: params, vocabularySize: 6)
        var logits: [Float] = [1, 4, -1, 3, 0.5, -2]
        _ = logits.withUnsafeMutableBufferPointer { sampler.sample(logits: $0, context: history) }
        // 1: prompt only, positive: 4 / 2.  2: prompt + output once, negative: -1 * 2 - 0.5 - 0.25.
        // 3: output twice: 3 / 2 - 2 * 0.5 - 0.25.  0, 4, 5: never seen, unchanged.
        #expect(logits == [1, 2, -2.75, 0.25, 0.5, -2])
    }

    @Test func presenceAndFrequencyIgnoreThePrompt() {
        let history = TokenHistory(prompt: [0, 0, 1])
        var sampler = Sampler(params: SamplingParams(temperature: 0, presencePenalty: 2, frequencyPenalty: 2), vocabularySize: 3)
        var logits: [Float] = [1, 2, 3]
        _ = logits.withUnsafeMutableBufferPointer { sampler.sample(logits: $0, context: history) }
        #expect(logits == [1, 2, 3])
    }

    @Test func penaltiesChangeTheGreedyChoice() {
        var history = TokenHistory(prompt: [])
        history.append(2)
        var sampler = Sampler(params: SamplingParams(temperature: 0, frequencyPenalty: 1.5), vocabularySize: 3)
        #expect(Self.sample(&sampler, [0, 1, 2], history).id == 1)
    }

    @Test func logitBiasMinus100BansAToken() {
        let logits: [Float] = [9, 1, 0, 8.5]
        var greedy = Sampler(params: SamplingParams(temperature: 0, logitBias: [0: -100]), vocabularySize: 4)
        #expect(Self.sample(&greedy, logits).id == 3)
        let observed = Self.frequencies(SamplingParams(temperature: 1, logitBias: [0: -100], seed: 2), logits, draws: 5000)
        #expect(observed[0] == 0)
        var promoted = Sampler(params: SamplingParams(temperature: 0, logitBias: [2: 10]), vocabularySize: 4)
        #expect(Self.sample(&promoted, logits).id == 2)
    }

    @Test func biasAndPenaltyOnTheSameTokenBothApply() {
        var history = TokenHistory(prompt: [1])
        history.append(1)
        var sampler = Sampler(params: SamplingParams(temperature: 0, repetitionPenalty: 2, frequencyPenalty: 1, logitBias: [1: 4]), vocabularySize: 2)
        var logits: [Float] = [0, 2]
        let token = logits.withUnsafeMutableBufferPointer { sampler.sample(logits: $0, context: history) }
        #expect(logits == [0, (2 + 4) / 2 - 1])
        // The logprob still describes the raw logits.
        #expect(abs(Double(token.logprob) - Self.logSoftmax([0, 2])[1]) < 1e-6)
    }

    // MARK: Greedy

    @Test(arguments: [SamplingParams(temperature: 0), SamplingParams(temperature: 0.9, topK: 1, seed: 1)])
    func greedyTiesGoToTheLowestID(_ params: SamplingParams) {
        var sampler = Sampler(params: params, vocabularySize: 4)
        #expect(Self.sample(&sampler, [1, 5, 5, 2]).id == 1)
        // Ties across SIMD lanes and the scalar tail.
        var logits = [Float](repeating: 0, count: 1000)
        logits[997] = 7
        logits[35] = 7
        logits[20] = 7
        var wide = Sampler(params: params, vocabularySize: logits.count)
        #expect(Self.sample(&wide, logits).id == 20)
    }

    @Test func greedyPicksTheArgmaxOfALargeVocabulary() {
        let logits = Self.randomLogits(262_144, seed: 12)
        var sampler = Sampler(params: SamplingParams(temperature: 0), vocabularySize: logits.count)
        let expected = logits.indices.max { logits[$0] < logits[$1] }!
        #expect(Self.sample(&sampler, logits).id == Int32(expected))
    }

    @Test func paddingBeyondTheVocabularyIsNeverChosen() {
        var sampler = Sampler(params: SamplingParams(temperature: 0), vocabularySize: 3)
        #expect(Self.sample(&sampler, [0, 1, 0.5, 100, 100]).id == 1)
    }

    // MARK: Logprobs

    @Test(arguments: [0, 1, 5, 20])
    func logprobsAreTheLogSoftmaxOfTheRawLogits(_ count: Int) {
        let logits = Self.randomLogits(5000, seed: 99, spread: 20)
        let reference = Self.logSoftmax(logits)
        var history = TokenHistory(prompt: [0, 1, 2, 3])
        history.append(4)
        let params = SamplingParams(temperature: 0.7, topP: 0.9, repetitionPenalty: 1.3, frequencyPenalty: 1,
                                    logitBias: [10: 5, 11: -100], seed: 4, logprobs: count)
        var sampler = Sampler(params: params, vocabularySize: logits.count)
        for _ in 0..<20 {
            let token = Self.sample(&sampler, logits, history)
            #expect(abs(Double(token.logprob) - reference[Int(token.id)]) < 1e-5)
            let expectedTop = logits.indices.sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }.prefix(count)
            #expect(token.topLogprobs.map(\.id) == expectedTop.map { Int32($0) })
            for entry in token.topLogprobs { #expect(abs(Double(entry.logprob) - reference[Int(entry.id)]) < 1e-5) }
        }
    }

    @Test func noLogprobsRequestedGivesNoAlternatives() {
        var sampler = Sampler(params: SamplingParams(temperature: 0), vocabularySize: 3)
        let token = Self.sample(&sampler, [0, 3, 1])
        #expect(token.topLogprobs.isEmpty)
        #expect(abs(Double(token.logprob) - Self.logSoftmax([0, 3, 1])[1]) < 1e-6)
    }

    @Test func topLogprobTiesAreOrderedByID() {
        var sampler = Sampler(params: SamplingParams(temperature: 0, logprobs: 3), vocabularySize: 5)
        let token = Self.sample(&sampler, [1, 2, 2, 0, 2])
        #expect(token.topLogprobs.map(\.id) == [1, 2, 4])
    }

    // MARK: Edge cases

    @Test func allTokensBannedStillReturnsAValidToken() {
        var sampler = Sampler(params: SamplingParams(temperature: 1, seed: 1), vocabularySize: 4)
        let token = Self.sample(&sampler, [-.infinity, -.infinity, -.infinity, -.infinity])
        #expect((0..<4).contains(token.id))
    }

    @Test func singleTokenVocabulary() {
        var sampler = Sampler(params: SamplingParams(temperature: 1, topP: 0.5, seed: 1), vocabularySize: 1)
        let token = Self.sample(&sampler, [3])
        #expect(token.id == 0)
        #expect(token.logprob == 0)
    }

    @Test func historyCountsOutputOccurrences() {
        var history = TokenHistory(prompt: [7, 7, 8])
        for id: Int32 in [8, 9, 9, 9] { history.append(id) }
        #expect(history.prompt == [7, 7, 8])
        #expect(history.output == [8, 9, 9, 9])
        #expect(history.distinctTokens == [7, 8, 9])
        #expect(history.outputCounts == [0, 1, 3])
        #expect(history.outputCount(of: 9) == 3)
        #expect(history.outputCount(of: 7) == 0)
        #expect(history.contains(7) && !history.contains(1))
    }
}
