import Foundation
import Testing
import ShoalEngine
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalTestSupport
import ShoalTokenizers

/// The continuous-batching engine on a tiny random model: same tokens as one-at-a-time generation,
/// however requests are batched; cancellation frees everything; limits are enforced.
@Suite struct EngineCoreTests {
    struct Loaded {
        let model: any LanguageModel
        let tokenizer: any Tokenizer
    }

    func load(context: Int = 256) throws -> Loaded {
        var tiny = TinyModel()
        tiny.contextLength = context
        let file = try GGUFFile(bytes: try tiny.serialized())
        return Loaded(model: try ModelRegistry.load(file, pool: ComputePool(threadCount: 2)), tokenizer: try loadTokenizer(from: file))
    }

    func engine(_ loaded: Loaded, configure: (inout EngineConfiguration) -> Void = { _ in }) throws -> EngineCore {
        var configuration = EngineConfiguration()
        configuration.kvCacheBytes = 4 << 20
        configuration.maxBatchedTokens = 64
        configuration.longPrefillThreshold = 16
        configuration.checksInvariants = true  // the scheduler's bookkeeping is checked after every step
        configure(&configuration)
        let core = try EngineCore(model: loaded.model, tokenizer: loaded.tokenizer, modelName: "tiny", chatTemplate: nil,
                                  configuration: configuration)
        core.start()
        return core
    }

    func greedy(_ maxTokens: Int, seed: UInt64? = nil, temperature: Float = 0) -> SamplingParams {
        var p = SamplingParams()
        p.temperature = temperature
        p.seed = seed
        p.maxTokens = maxTokens
        p.ignoreEOS = true
        return p
    }

    struct Collected {
        var ids: [Int32] = []
        var text = ""
        var reason = FinishReason.length
        var usage = EngineUsage(promptTokens: 0, completionTokens: 0, cachedTokens: 0)
        var stopToken: Int32?
    }

    func collect(_ stream: AsyncThrowingStream<EngineEvent, any Error>) async throws -> Collected {
        var out = Collected()
        for try await event in stream {
            switch event {
            case .token(let token):
                out.ids.append(token.id)
                out.text += token.text
            case .finished(let reason, let usage, let trailing, let stopToken):
                out.text += trailing
                out.reason = reason
                out.usage = usage
                out.stopToken = stopToken
                return out
            }
        }
        Issue.record("stream ended without a finished event")
        return out
    }

    @Test func concurrentRequestsMatchSequentialGeneration() async throws {
        let loaded = try load()
        var rng = SeededGenerator(seed: 21)
        let prompts: [[Int32]] = (0..<12).map { i in (0..<(3 + i * 7)).map { _ in Int32.random(in: 0..<256, using: &rng) } }
        let generator = try TextGenerator(model: loaded.model, tokenizer: loaded.tokenizer, contextLength: 256)
        var expected: [[Int32]] = []
        for (i, prompt) in prompts.enumerated() {
            let params = greedy(10 + i, seed: UInt64(i), temperature: i % 2 == 0 ? 0 : 0.8)
            expected.append(try generator.generate(promptIDs: prompt, params: params).tokens.map(\.id))
        }
        let core = try engine(loaded)
        defer { core.shutdown() }
        let results = try await withThrowingTaskGroup(of: (Int, [Int32]).self) { group in
            for (i, prompt) in prompts.enumerated() {
                let params = greedy(10 + i, seed: UInt64(i), temperature: i % 2 == 0 ? 0 : 0.8)
                let stream = try core.submit(EngineRequest(id: "r\(i)", promptIDs: prompt, params: params))
                group.addTask { (i, try await collect(stream).ids) }
            }
            var out = [[Int32]](repeating: [], count: prompts.count)
            for try await (i, ids) in group { out[i] = ids }
            return out
        }
        #expect(results == expected)
        let stats = core.stats()
        #expect(stats.running == 0 && stats.waiting == 0 && stats.kvBlocksUsed == 0)
        #expect(stats.generationTokens == expected.reduce(0) { $0 + $1.count })
    }

    @Test func cancellingAStreamFreesItsBlocks() async throws {
        let loaded = try load(context: 8192)
        let core = try engine(loaded) { $0.kvCacheBytes = 64 << 20 }
        defer { core.shutdown() }
        // The consumer owns the stream and walks away after three tokens, as a disconnecting client does.
        let task = Task {
            let stream = try core.submit(EngineRequest(id: "long", promptIDs: Array(repeating: 5, count: 40), params: greedy(8000)))
            var seen = 0
            for try await event in stream {
                if case .token = event { seen += 1 }
                if seen == 3 { break }
            }
            return seen
        }
        #expect(try await task.value == 3)
        // The engine notices on its next step; wait for it by polling the engine's own state, bounded.
        var stats = core.stats()
        for _ in 0..<2000 where stats.running + stats.waiting + stats.kvBlocksUsed > 0 {
            await Task.yield()
            try await Task.sleep(for: .milliseconds(1))
            stats = core.stats()
        }
        #expect(stats.running == 0)
        #expect(stats.kvBlocksUsed == 0)
        #expect(stats.generationTokens < 8000, "the sequence ran to its end instead of being aborted")
    }

    @Test func limitsAreEnforced() async throws {
        let loaded = try load()
        // One running slot and no waiting place: the first request takes the slot, the second is refused.
        let core = try engine(loaded) {
            $0.maxWaiting = 0
            $0.maxSequences = 1
        }
        defer { core.shutdown() }
        var long = greedy(200)
        long.ignoreEOS = true
        let running = try core.submit(EngineRequest(id: "a", promptIDs: [1, 2], params: long))
        let full = #expect(throws: EngineError.self) { _ = try core.submit(EngineRequest(id: "b", promptIDs: [1, 2], params: greedy(4))) }
        #expect(full?.code == .queueFull)
        withExtendedLifetime(running) {}  // a dropped stream would cancel "a" and free its slot
        let core2 = try engine(loaded)
        defer { core2.shutdown() }
        let tooLong = #expect(throws: EngineError.self) {
            _ = try core2.submit(EngineRequest(id: "b", promptIDs: Array(repeating: 1, count: 250), params: greedy(10)))
        }
        #expect(tooLong?.code == .contextExceeded)
        #expect(tooLong?.message.contains("256") == true)
        let bad = #expect(throws: EngineError.self) { _ = try core2.submit(EngineRequest(id: "c", promptIDs: [99_999], params: greedy(1))) }
        #expect(bad?.code == .invalidPrompt)
        core2.beginDrain()
        let draining = #expect(throws: EngineError.self) { _ = try core2.submit(EngineRequest(id: "d", promptIDs: [1], params: greedy(1))) }
        #expect(draining?.code == .draining)
    }

    @Test func prefixCacheServesRepeatedPrompts() async throws {
        let loaded = try load()
        let core = try engine(loaded)
        defer { core.shutdown() }
        let prompt = Array((0..<70).map { Int32($0 % 250) })
        let first = try await collect(try core.submit(EngineRequest(id: "1", promptIDs: prompt, params: greedy(5))))
        let second = try await collect(try core.submit(EngineRequest(id: "2", promptIDs: prompt, params: greedy(5))))
        #expect(first.ids == second.ids)
        #expect(first.usage.cachedTokens == 0)
        #expect(first.usage.queueSeconds.map { $0 >= 0 } == true)
        #expect(second.usage.cachedTokens == 64)
        #expect(core.stats().prefixCacheHits >= 64)
    }

    @Test func aStopTokenEndsTheRequestAndIsReportedButNotEmitted() async throws {
        let loaded = try load()
        let core = try engine(loaded)
        defer { core.shutdown() }
        let prompt: [Int32] = [5, 17, 42, 9]
        let free = try await collect(try core.submit(EngineRequest(id: "free", promptIDs: prompt, params: greedy(12))))
        #expect(free.stopToken == nil)
        #expect(free.usage.completionTokens == free.ids.count)
        // The first generated id that did not come earlier, so the stop can only fire there.
        let cut = try #require((1..<free.ids.count).first { !free.ids[..<$0].contains(free.ids[$0]) })
        var params = greedy(12)
        params.stopTokenIDs = [free.ids[cut]]
        let stopped = try await collect(try core.submit(EngineRequest(id: "stopped", promptIDs: prompt, params: params)))
        #expect(stopped.ids == Array(free.ids[..<cut]))
        #expect(stopped.reason == .stop)
        #expect(stopped.stopToken == free.ids[cut])
        #expect(stopped.usage.completionTokens == cut + 1)
    }
}
