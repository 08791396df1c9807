import Foundation
import Testing
import ShoalEngine

/// The sampler's semantics: greedy, seeds, filters, penalties, logprobs, validation.
@Suite struct SamplerBehaviourTests {
    func sample(_ logits: [Float], _ params: SamplingParams, history: TokenHistory = TokenHistory(prompt: [])) -> SampledToken {
        var sampler = Sampler(params: params, vocabularySize: logits.count)
        var copy = logits
        return copy.withUnsafeMutableBufferPointer { sampler.sample(logits: $0, context: history) }
    }

    func params(_ configure: (inout SamplingParams) -> Void) -> SamplingParams {
        var p = SamplingParams()
        configure(&p)
        return p
    }

    func logSoftmax(_ v: [Float]) -> [Double] {
        let m = Double(v.max()!)
        let s = v.reduce(0.0) { $0 + exp(Double($1) - m) }
        return v.map { Double($0) - m - log(s) }
    }

    @Test func greedyTakesArgmaxAndLowestIdOnTies() {
        #expect(sample([0, 3, 1, 3], params { $0.temperature = 0 }).id == 1)
        #expect(sample([5, 3, 1, 3], params { $0.topK = 1 }).id == 0)
    }

    @Test func logprobsAreLogSoftmaxOfRawLogits() {
        let logits: [Float] = [1, 2, 0.5, -1, 3, 2.5]
        let reference = logSoftmax(logits)
        let r = sample(logits, params { $0.temperature = 0; $0.logprobs = 3; $0.logitBias = [4: -100]; $0.repetitionPenalty = 1.5 },
                       history: TokenHistory(prompt: [1, 5]))
        #expect(r.id == 5 || r.id == 1)
        #expect(abs(Double(r.logprob) - reference[Int(r.id)]) < 1e-5)
        #expect(r.topLogprobs.map(\.id) == [4, 5, 1])
        for t in r.topLogprobs { #expect(abs(Double(t.logprob) - reference[Int(t.id)]) < 1e-5) }
    }

    @Test func sameSeedSameSequenceDifferentSeedsDiffer() {
        var rng = SystemRandomNumberGenerator()
        let logits = (0..<500).map { _ in Float.random(in: -2...2, using: &rng) }
        func run(_ seed: UInt64) -> [Int32] {
            var sampler = Sampler(params: params { $0.seed = seed }, vocabularySize: logits.count)
            return (0..<200).map { _ in
                var copy = logits
                return copy.withUnsafeMutableBufferPointer { sampler.sample(logits: $0, context: TokenHistory(prompt: [])).id }
            }
        }
        #expect(run(1) == run(1))
        #expect(run(1) != run(2))
    }

    @Test func frequenciesFollowTheDistribution() {
        let probabilities: [Double] = [0.5, 0.25, 0.15, 0.1]
        let logits = probabilities.map { Float(log($0)) }
        var sampler = Sampler(params: params { $0.seed = 99 }, vocabularySize: 4)
        var counts = [0, 0, 0, 0]
        let draws = 20_000
        for _ in 0..<draws {
            var copy = logits
            counts[Int(copy.withUnsafeMutableBufferPointer { sampler.sample(logits: $0, context: TokenHistory(prompt: [])).id })] += 1
        }
        for i in 0..<4 { #expect(abs(Double(counts[i]) / Double(draws) - probabilities[i]) < 0.02, "token \(i): \(counts)") }
    }

    @Test func temperatureSharpens() {
        let logits: [Float] = [1, 0]
        var sampler = Sampler(params: params { $0.seed = 5; $0.temperature = 0.25 }, vocabularySize: 2)
        var zeros = 0
        for _ in 0..<5000 {
            var copy = logits
            if copy.withUnsafeMutableBufferPointer({ sampler.sample(logits: $0, context: TokenHistory(prompt: [])).id }) == 0 { zeros += 1 }
        }
        // p(0) = 1 / (1 + e^-4) ≈ 0.982
        #expect(abs(Double(zeros) / 5000 - 0.982) < 0.01)
    }

    @Test(arguments: 0..<20)
    func filtersNeverPickExcludedTokens(seed: Int) {
        let logits: [Float] = [2.0, 1.9, 1.0, 0.0, -1.0, 1.95, -3.0, 0.5]
        // top-k 2 keeps ids 0 and 5.
        #expect([0, 5].contains(sample(logits, params { $0.seed = UInt64(seed); $0.topK = 2 }).id))
        // min-p 0.5: keeps tokens with p >= 0.5 · p(0): ids 0, 1, 5 (e^-0.1 ≈ 0.90); id 2 has e^-1 ≈ 0.37.
        #expect([0, 1, 5].contains(sample(logits, params { $0.seed = UInt64(seed); $0.minP = 0.5 }).id))
        // top-p 0.3: the smallest set reaching 30% of the mass is {0, 5}.
        #expect([0, 5].contains(sample(logits, params { $0.seed = UInt64(seed); $0.topP = 0.3 }).id))
        // A bias of -100 bans a token even when it is the argmax.
        #expect(sample(logits, params { $0.seed = UInt64(seed); $0.temperature = 0; $0.logitBias = [0: -100] }).id == 5)
    }

    @Test func penaltiesMoveTheRightLogits() {
        var history = TokenHistory(prompt: [0])
        history.append(1)
        history.append(1)
        history.append(2)
        // Logits: id 0 seen in the prompt, id 1 twice in the output, id 2 once.
        let logits: [Float] = [2.0, 2.2, 2.1, 1.0]
        // Repetition penalty 2: 0 → 1.0, 1 → 1.1, 2 → 1.05; 3 stays 1.0 → argmax 1 (1.1).
        #expect(sample(logits, params { $0.temperature = 0; $0.repetitionPenalty = 2 }, history: history).id == 1)
        // Frequency 0.2: 1 → 2.2 - 0.4 = 1.8, 2 → 2.1 - 0.2 = 1.9, 0 unchanged (prompt only) → argmax 0.
        #expect(sample(logits, params { $0.temperature = 0; $0.frequencyPenalty = 0.2 }, history: history).id == 0)
        // Presence 0.15: 1 → 2.05, 2 → 1.95, 0 stays 2.0 → argmax 1.
        #expect(sample(logits, params { $0.temperature = 0; $0.presencePenalty = 0.15 }, history: history).id == 1)
        // Presence 0.3: 1 → 1.9, 2 → 1.8 → argmax 0.
        #expect(sample(logits, params { $0.temperature = 0; $0.presencePenalty = 0.3 }, history: history).id == 0)
        // Negative logits are multiplied by the repetition penalty.
        #expect(sample([-1.0, -1.5], params { $0.temperature = 0; $0.repetitionPenalty = 2 }, history: TokenHistory(prompt: [0])).id == 1)
    }

    @Test(arguments: ["temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty",
                      "repetition_penalty", "logit_bias", "max_tokens", "logprobs", "stop"])
    func validationNamesTheParameter(name: String) {
        var p = SamplingParams()
        switch name {
        case "temperature": p.temperature = 3
        case "top_p": p.topP = 0
        case "top_k": p.topK = -2
        case "min_p": p.minP = 1.5
        case "presence_penalty": p.presencePenalty = 3
        case "frequency_penalty": p.frequencyPenalty = -2.5
        case "repetition_penalty": p.repetitionPenalty = 0
        case "logit_bias": p.logitBias = [1: 101]
        case "max_tokens": p.maxTokens = 0
        case "logprobs": p.logprobs = 21
        default: p.stop = [""]
        }
        let error = #expect(throws: SamplingError.self) { try p.validate() }
        #expect(error?.parameter == name)
    }

    @Test func stopMatcherHoldsBackPrefixesAcrossAppends() {
        var m = StopStringMatcher(stops: ["END", "xyz"])
        #expect(m.append("hello E") == ("hello ", false))
        #expect(m.append("N") == ("", false))
        #expect(m.append("D tail") == ("", true))
        var n = StopStringMatcher(stops: ["abc"])
        #expect(n.append("xab") == ("x", false))
        #expect(n.append("x") == ("abx", false))
        #expect(n.append("ab") == ("", false))
        #expect(n.finish() == "ab")
        var o = StopStringMatcher(stops: ["bc", "abcd"])
        #expect(o.append("zabc") == ("za", true))
    }
}
