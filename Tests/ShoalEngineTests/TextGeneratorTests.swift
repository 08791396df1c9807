import Foundation
import Testing
import ShoalEngine
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalTestSupport
import ShoalTokenizers

/// The generator's contract on a tiny random model: limits, stops, seeds and errors.
@Suite struct TextGeneratorTests {
    func makeGenerator(context: Int = 200) throws -> TextGenerator {
        let file = try GGUFFile(bytes: try TinyModel().serialized())
        let model = try ModelRegistry.load(file, pool: ComputePool(threadCount: 2))
        return try TextGenerator(model: model, tokenizer: try loadTokenizer(from: file), contextLength: context)
    }

    func params(_ configure: (inout SamplingParams) -> Void) -> SamplingParams {
        var p = SamplingParams()
        configure(&p)
        return p
    }

    @Test func maxTokensEndsWithLength() throws {
        let g = try makeGenerator()
        let r = try g.generate(promptIDs: [10, 20, 30], params: params { $0.temperature = 0; $0.maxTokens = 7; $0.ignoreEOS = true })
        #expect(r.tokens.count == 7)
        #expect(r.finishReason == .length)
        #expect(r.promptIDs == [10, 20, 30])
    }

    @Test func sameSeedSameOutputAndDifferentSeedsDiffer() throws {
        let g = try makeGenerator()
        let a = try g.generate(promptIDs: [1, 2, 3], params: params { $0.temperature = 1.5; $0.maxTokens = 40; $0.seed = 42; $0.ignoreEOS = true; $0.topK = 0; $0.topP = 1; $0.minP = 0 })
        let b = try g.generate(promptIDs: [1, 2, 3], params: params { $0.temperature = 1.5; $0.maxTokens = 40; $0.seed = 42; $0.ignoreEOS = true; $0.topK = 0; $0.topP = 1; $0.minP = 0 })
        let c = try g.generate(promptIDs: [1, 2, 3], params: params { $0.temperature = 1.5; $0.maxTokens = 40; $0.seed = 43; $0.ignoreEOS = true; $0.topK = 0; $0.topP = 1; $0.minP = 0 })
        #expect(a.tokens.map(\.id) == b.tokens.map(\.id))
        #expect(a.tokens.map(\.id) != c.tokens.map(\.id))
    }

    @Test func stopTokenEndsWithStop() throws {
        let g = try makeGenerator()
        let free = try g.generate(promptIDs: [5, 6], params: params { $0.temperature = 0; $0.maxTokens = 10; $0.ignoreEOS = true })
        let third = free.tokens[2].id
        let stopped = try g.generate(promptIDs: [5, 6], params: params { $0.temperature = 0; $0.maxTokens = 10; $0.ignoreEOS = true; $0.stopTokenIDs = [third] })
        let firstHit = free.tokens.firstIndex { $0.id == third }!
        #expect(stopped.tokens.map(\.id) == Array(free.tokens.map(\.id)[..<firstHit]))
        #expect(stopped.finishReason == .stop)
    }

    @Test func stopStringTruncatesText() throws {
        let g = try makeGenerator()
        let free = try g.generate(promptIDs: [5, 6], params: params { $0.temperature = 0; $0.maxTokens = 12; $0.ignoreEOS = true })
        let text = free.text
        let scalars = Array(text.unicodeScalars)
        try #require(scalars.count >= 6)
        let stop = String(String.UnicodeScalarView(scalars[3..<5]))
        let stopped = try g.generate(promptIDs: [5, 6], params: params { $0.temperature = 0; $0.maxTokens = 12; $0.ignoreEOS = true; $0.stop = [stop] })
        #expect(stopped.finishReason == .stop)
        let cut = text.range(of: stop)!.lowerBound
        #expect(stopped.text == String(text[..<cut]))
    }

    @Test func streamedTextEqualsFinalText() throws {
        let g = try makeGenerator()
        var streamed = ""
        let r = try g.generate(promptIDs: [7], params: params { $0.temperature = 0.9; $0.seed = 3; $0.maxTokens = 30; $0.ignoreEOS = true }) {
            streamed += $0.text
        }
        #expect(streamed + r.trailingText == r.text)
        #expect(!r.text.isEmpty)
    }

    @Test func errorsAreClear() throws {
        let g = try makeGenerator(context: 64)
        #expect(throws: GenerationError.self) { try g.generate(promptIDs: [], params: SamplingParams()) }
        #expect(throws: GenerationError.self) { try g.generate(promptIDs: [100_000], params: SamplingParams()) }
        let long = try #require(throws: GenerationError.self) {
            try g.generate(promptIDs: Array(repeating: 1, count: 60), params: params { $0.maxTokens = 10 })
        }
        #expect(long.message.contains("64"))
        // The generator is still usable afterwards (no blocks leaked).
        for _ in 0..<10 {
            _ = try g.generate(promptIDs: Array(repeating: 1, count: 50), params: params { $0.maxTokens = 14; $0.temperature = 0; $0.ignoreEOS = true })
        }
    }

    @Test func logprobsAreReported() throws {
        let g = try makeGenerator()
        let r = try g.generate(promptIDs: [9, 9], params: params { $0.temperature = 0; $0.maxTokens = 5; $0.logprobs = 3; $0.ignoreEOS = true })
        for token in r.tokens {
            #expect(token.topLogprobs.count == 3)
            #expect(token.topLogprobs.first?.id == token.id)
            #expect(token.logprob <= 0)
            #expect(zip(token.topLogprobs, token.topLogprobs.dropFirst()).allSatisfy { $0.logprob >= $1.logprob })
        }
    }
}
