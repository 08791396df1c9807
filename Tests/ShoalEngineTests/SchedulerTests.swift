import ShoalEngine
import ShoalModels
import ShoalTestSupport
import Synchronization
import Testing

/// A clock the test moves by hand.
final class MockEngineClock: EngineClock {
    private let time = Mutex(Duration.zero)
    var now: Duration { time.withLock { $0 } }
    func advance(by duration: Duration) { time.withLock { $0 += duration } }
}

/// The token the fake model samples as `id`'s `index`-th output.
fileprivate func fakeToken(_ id: SequenceID, _ index: Int) -> Int32 { Int32(truncatingIfNeeded: id.rawValue * 1000 + UInt64(index)) }

extension Scheduler {
    /// Schedules a step and completes it with the fake model's tokens.
    fileprivate mutating func runStep(stopping: Set<SequenceID> = []) throws -> (step: SchedulerStep, finished: [SequenceState]) {
        let step = schedule()
        var sampled: [SequenceID: Int32] = [:]
        for entry in step.entries where entry.samples {
            sampled[entry.id] = fakeToken(entry.id, try #require(sequence(entry.id)).outputCount)
        }
        let finished = try complete(step, sampled: sampled, stopped: stopping)
        #expect(invariantViolations() == [])
        return (step, finished)
    }

    /// Adds a request, returning the error code if refused.
    fileprivate mutating func tryAdd(_ id: SequenceID, prompt: [Int32], maxTokens: Int, priority: Int = 0) -> SchedulerError.Code? {
        do {
            try add(SchedulerRequest(id: id, promptTokens: prompt, maxTokens: maxTokens, priority: priority))
            return nil
        } catch {
            return error.code
        }
    }
}

fileprivate func prompt(_ count: Int, from start: Int32 = 1) -> [Int32] { (0..<Int32(count)).map { start + $0 } }

@Suite("Scheduler")
struct SchedulerTests {
    @Test func decodesComeBeforePrefillsAndChunksFillTheBudget() throws {
        var scheduler = try Scheduler(configuration: .init(maxBatchedTokens: 64), blockCount: 64)
        #expect(scheduler.tryAdd(1, prompt: prompt(10), maxTokens: 5) == nil)
        let first = try scheduler.runStep().step
        #expect(first.entries.map(\.id) == [1])
        #expect(first.entries[0].tokens == prompt(10) && first.entries[0].samples)

        #expect(scheduler.tryAdd(2, prompt: prompt(100, from: 500), maxTokens: 5) == nil)
        let second = try scheduler.runStep().step
        #expect(second.entries.map(\.id) == [1, 2])
        #expect(second.entries[0].tokens == [fakeToken(1, 0)])
        #expect(second.entries[0].startPosition == 10)
        #expect(second.entries[0].samples)
        #expect(second.entries[1].startPosition == 0)
        #expect(second.entries[1].tokens == prompt(63, from: 500))
        #expect(!second.entries[1].samples, "a partial prompt is not sampled")
        #expect(second.tokenCount == 64)

        let third = try scheduler.runStep().step
        #expect(third.entries.map(\.id) == [1, 2])
        #expect(third.entries[0].startPosition == 11)
        #expect(third.entries[1].startPosition == 63)
        #expect(third.entries[1].tokens.count == 37)
        #expect(third.entries[1].samples)
        #expect(third.samplingSequences == [1, 2])
    }

    @Test(arguments: [(8, 0), (16, 5), (64, 0), (64, 24), (2048, 0)])
    func chunksStayInBudgetAndCoverEachPromptOnce(budget: Int, threshold: Int) throws {
        let configuration = SchedulerConfiguration(maxBatchedTokens: budget, maxSequences: 4, longPrefillThreshold: threshold)
        var scheduler = try Scheduler(configuration: configuration, blockCount: 200)
        let lengths = [1, 7, 33, 100, 250, 16]
        for (index, length) in lengths.enumerated() {
            #expect(scheduler.tryAdd(SequenceID(UInt64(index)), prompt: prompt(length, from: Int32(index * 1000)), maxTokens: 3) == nil)
        }
        var nextPosition: [SequenceID: Int] = [:]
        var finished = 0
        var steps = 0
        while scheduler.hasUnfinishedSequences, steps < 1000 {
            let (step, done) = try scheduler.runStep()
            steps += 1
            finished += done.count
            #expect(step.tokenCount <= budget)
            #expect(step.preempted.isEmpty)
            for entry in step.entries {
                #expect(entry.startPosition == nextPosition[entry.id, default: 0], "positions of \(entry.id) are consecutive")
                if threshold > 0 { #expect(entry.tokens.count <= threshold) }
                nextPosition[entry.id] = entry.startPosition + entry.tokens.count
                let length = lengths[Int(entry.id.rawValue)]
                if entry.startPosition < length {
                    let expected = prompt(length, from: Int32(entry.id.rawValue) * 1000)[entry.startPosition...].prefix(entry.tokens.count)
                    #expect(entry.tokens == Array(expected))
                    #expect(entry.samples == (entry.startPosition + entry.tokens.count == length))
                }
            }
        }
        #expect(finished == lengths.count)
        for (index, length) in lengths.enumerated() {
            // Prompt plus two decoded tokens (the third output is sampled, never computed).
            #expect(nextPosition[SequenceID(UInt64(index))] == length + 2)
        }
        #expect(scheduler.usedBlockCount == 0)
    }

    @Test func aLongPromptNeverStallsRunningStreams() throws {
        var scheduler = try Scheduler(configuration: .init(maxBatchedTokens: 32, maxSequences: 8), blockCount: 200)
        for id in 1...4 { #expect(scheduler.tryAdd(SequenceID(UInt64(id)), prompt: prompt(3, from: Int32(id * 10)), maxTokens: 40) == nil) }
        _ = try scheduler.runStep()
        #expect(scheduler.tryAdd(9, prompt: prompt(500), maxTokens: 4) == nil)
        var prefilled = 0
        for _ in 0..<17 {
            let step = try scheduler.runStep().step
            #expect(step.tokenCount <= 32)
            for id: SequenceID in [1, 2, 3, 4] {
                let entry = try #require(step.entries.first { $0.id == id }, "\(id) decodes every step")
                #expect(entry.tokens.count == 1 && entry.samples)
            }
            #expect(Array(step.entries.map(\.id).prefix(4)) == [1, 2, 3, 4], "decodes come first")
            prefilled += step.entries.first { $0.id == 9 }?.tokens.count ?? 0
        }
        #expect(prefilled == 17 * 28)
    }

    @Test func admissionIsFirstComeFirstServed() throws {
        let clock = MockEngineClock()
        var scheduler = try Scheduler(configuration: .init(maxBatchedTokens: 16, maxSequences: 1), blockCount: 32, clock: clock)
        for id: SequenceID in [3, 1, 2] {
            #expect(scheduler.tryAdd(id, prompt: prompt(5), maxTokens: 2) == nil)
            clock.advance(by: .milliseconds(1))
        }
        #expect(scheduler.waitingIDs == [3, 1, 2])
        var order: [SequenceID] = []
        while scheduler.hasUnfinishedSequences {
            for entry in try scheduler.runStep().step.entries where !order.contains(entry.id) { order.append(entry.id) }
        }
        #expect(order == [3, 1, 2])
    }

    @Test func lowerPriorityValuesGoFirstThenArrival() throws {
        var scheduler = try Scheduler(configuration: .init(maxBatchedTokens: 16, maxSequences: 1), blockCount: 32)
        #expect(scheduler.tryAdd(1, prompt: prompt(5), maxTokens: 3) == nil)
        _ = try scheduler.runStep()
        for (id, priority) in [(2, 5), (3, 1), (4, 1), (5, -1)] {
            #expect(scheduler.tryAdd(SequenceID(UInt64(id)), prompt: prompt(5), maxTokens: 2, priority: priority) == nil)
        }
        #expect(scheduler.waitingIDs == [5, 3, 4, 2])
        var order: [SequenceID] = []
        while scheduler.hasUnfinishedSequences {
            for entry in try scheduler.runStep().step.entries where !order.contains(entry.id) { order.append(entry.id) }
        }
        #expect(order == [1, 5, 3, 4, 2])
    }

    @Test(arguments: [false, true])
    func preemptionTakesTheNewestAndResumesAtTheSamePositions(prefixCaching: Bool) throws {
        // 6 blocks of 4 tokens; three sequences that each need 4 blocks.
        let configuration = SchedulerConfiguration(maxBatchedTokens: 64, maxSequences: 8, blockSize: 4, prefixCaching: prefixCaching)
        var scheduler = try Scheduler(configuration: configuration, blockCount: 6)
        for id: SequenceID in [1, 2, 3] {
            #expect(scheduler.tryAdd(id, prompt: prompt(4, from: Int32(id.rawValue) * 100), maxTokens: 12) == nil)
        }
        var preempted: [SequenceID] = []
        var computed: [SequenceID: Int] = [:]
        var finished: [SequenceState] = []
        var steps = 0
        while scheduler.hasUnfinishedSequences, steps < 200 {
            let (step, done) = try scheduler.runStep()
            steps += 1
            preempted += step.preempted
            for id in step.preempted { computed[id] = nil }
            for entry in step.entries {
                let state = try #require(scheduler.sequence(entry.id) ?? done.first { $0.id == entry.id })
                // A resumed sequence starts over at its cached prefix and recomputes exactly its own tokens.
                #expect(entry.startPosition == computed[entry.id] ?? entry.startPosition)
                if computed[entry.id] == nil { #expect(entry.startPosition % 4 == 0) }
                #expect(Array(state.tokens[entry.startPosition..<(entry.startPosition + entry.tokens.count)]) == entry.tokens)
                computed[entry.id] = entry.startPosition + entry.tokens.count
            }
            finished += done
        }
        #expect(Array(preempted.prefix(2)) == [3, 2], "the newest running sequence goes first")
        #expect(scheduler.preemptionCount == preempted.count)
        #expect(finished.count == 3)
        for state in finished {
            #expect(state.status == .finished(.length))
            #expect(Array(state.outputTokens) == (0..<12).map { fakeToken(state.id, $0) })
        }
        #expect(scheduler.usedBlockCount == 0)
        #expect(scheduler.blocks.freeBlockCount == 6)
    }

    @Test func abortFreesBlocksWhereverTheSequenceIs() throws {
        let configuration = SchedulerConfiguration(maxBatchedTokens: 16, maxSequences: 2, blockSize: 4)
        var scheduler = try Scheduler(configuration: configuration, blockCount: 32)
        #expect(scheduler.tryAdd(1, prompt: prompt(4), maxTokens: 10) == nil)
        #expect(scheduler.tryAdd(2, prompt: prompt(40, from: 100), maxTokens: 10) == nil)
        #expect(scheduler.tryAdd(3, prompt: prompt(4, from: 200), maxTokens: 10) == nil)
        _ = try scheduler.runStep()
        #expect(scheduler.runningIDs == [1, 2])
        #expect(scheduler.sequence(2)?.computedTokens == 12, "mid-prefill")
        #expect(scheduler.usedBlockCount == 1 + 3)

        #expect(scheduler.abort(2)?.status == .finished(.aborted))
        #expect(scheduler.usedBlockCount == 1)
        #expect(scheduler.abort(3)?.status == .finished(.aborted))
        #expect(scheduler.waitingCount == 0)
        #expect(scheduler.abort(3) == nil, "already gone")
        #expect(scheduler.invariantViolations() == [])

        // Aborted between schedule and complete: its entry is skipped, no sampled token needed.
        #expect(scheduler.tryAdd(4, prompt: prompt(4, from: 300), maxTokens: 10) == nil)
        let step = scheduler.schedule()
        #expect(step.entries.map(\.id) == [1, 4])
        #expect(scheduler.abort(4) != nil)
        let finished = try scheduler.complete(step, sampled: [1: 7])
        #expect(finished.isEmpty)
        #expect(scheduler.sequence(1)?.outputTokens.last == 7)
        #expect(scheduler.usedBlockCount == 2)
        #expect(scheduler.abort(1) != nil)
        #expect(scheduler.usedBlockCount == 0)
        #expect(!scheduler.hasUnfinishedSequences)
        #expect(scheduler.invariantViolations() == [])
    }

    @Test func theWaitingQueueIsBoundedBeyondTheFreeRunningSlots() throws {
        var scheduler = try Scheduler(configuration: .init(maxBatchedTokens: 16, maxSequences: 2, maxWaiting: 1), blockCount: 32)
        // Two free running slots and one waiting place: three requests are admitted at once, the fourth is not.
        #expect(scheduler.tryAdd(1, prompt: prompt(4), maxTokens: 4) == nil)
        #expect(scheduler.tryAdd(2, prompt: prompt(4), maxTokens: 4) == nil)
        #expect(scheduler.tryAdd(3, prompt: prompt(4), maxTokens: 4) == nil)
        #expect(scheduler.tryAdd(4, prompt: prompt(4), maxTokens: 4) == .queueFull)
        _ = try scheduler.runStep()
        #expect(scheduler.runningCount == 2)
        #expect(scheduler.waitingCount == 1)
        #expect(scheduler.tryAdd(4, prompt: prompt(4), maxTokens: 4) == .queueFull)
    }

    @Test func requestsThatCanNeverRunAreRejected() throws {
        let configuration = SchedulerConfiguration(maxBatchedTokens: 64, maxModelLength: 100)
        var scheduler = try Scheduler(configuration: configuration, blockCount: 4)
        // 4 blocks of 16 hold 64 positions; the last sampled token needs none.
        #expect(scheduler.tryAdd(1, prompt: prompt(60), maxTokens: 5) == nil)
        #expect(scheduler.tryAdd(2, prompt: prompt(60), maxTokens: 6) == .exceedsCacheCapacity)
        #expect(scheduler.tryAdd(3, prompt: prompt(90), maxTokens: 11) == .exceedsContextLength)
        #expect(scheduler.tryAdd(4, prompt: [], maxTokens: 5) == .invalidRequest)
        #expect(scheduler.tryAdd(5, prompt: prompt(3), maxTokens: 0) == .invalidRequest)
        #expect(scheduler.tryAdd(1, prompt: prompt(3), maxTokens: 2) == .invalidRequest, "duplicate id")
        #expect(scheduler.tryAdd(6, prompt: prompt(3), maxTokens: .max) == .exceedsContextLength)
        do {
            try scheduler.add(SchedulerRequest(id: 7, promptTokens: prompt(60), maxTokens: 6))
            Issue.record("expected a rejection")
        } catch {
            #expect(error.message.contains("cache has 4"), "the message names the limit: \(error.message)")
        }
        #expect(scheduler.waitingIDs == [1])
    }

    @Test func completeRejectsStaleStepsAndMissingTokens() throws {
        var scheduler = try Scheduler(blockCount: 16)
        #expect(scheduler.tryAdd(1, prompt: prompt(4), maxTokens: 4) == nil)
        let step = scheduler.schedule()
        #expect(throws: SchedulerError(.invalidStep, "no sampled token for seq-1 in step 1")) {
            try scheduler.complete(step, sampled: [:])
        }
        #expect(scheduler.sequence(1)?.computedTokens == 0, "a refused completion changes nothing")
        try scheduler.complete(step, sampled: [1: 5])
        #expect(throws: SchedulerError.self) { try scheduler.complete(step, sampled: [1: 5]) }
        // A sequence in a step in flight is not scheduled again until that step completes.
        let inFlight = scheduler.schedule()
        #expect(scheduler.schedule().isEmpty)
        try scheduler.complete(inFlight, sampled: [1: 6])
        #expect(Array(scheduler.sequence(1)?.outputTokens ?? []) == [5, 6])
    }

    @Test func stepsInFlightHoldDisjointSequencesAndCompleteInOrder() throws {
        // 2 blocks of 16: two 16-token prompts fill them; decoding needs a third.
        var scheduler = try Scheduler(blockCount: 2)
        #expect(scheduler.tryAdd(1, prompt: prompt(16), maxTokens: 8) == nil)
        #expect(scheduler.tryAdd(2, prompt: prompt(16), maxTokens: 8) == nil)
        let a = scheduler.schedule(sequenceLimit: 1)
        let b = scheduler.schedule(sequenceLimit: 1)
        #expect(a.entries.map(\.id) == [1] && b.entries.map(\.id) == [2])
        #expect(scheduler.schedule(sequenceLimit: 1).isEmpty, "both sequences are in flight")
        #expect(throws: SchedulerError.self) { try scheduler.complete(b, sampled: [2: 7]) }
        try scheduler.complete(a, sampled: [1: 5])
        // Sequence 1 needs a block; sequence 2, in flight (its step writes into its blocks), is not the victim.
        let a2 = scheduler.schedule(sequenceLimit: 1)
        #expect(a2.isEmpty && a2.preempted == [1])
        #expect(scheduler.sequence(2)?.status == .running)
        #expect(scheduler.invariantViolations().isEmpty)
        try scheduler.complete(b, sampled: [2: 7])
        #expect(Array(scheduler.sequence(1)?.outputTokens ?? []) == [5])
        #expect(Array(scheduler.sequence(2)?.outputTokens ?? []) == [7])
        // A lost step: abortAll forgets the steps in flight.
        let lost = scheduler.schedule()
        #expect(!lost.isEmpty)
        scheduler.abortAll()
        #expect(throws: SchedulerError.self) { try scheduler.complete(lost, sampled: [1: 1, 2: 1]) }
        #expect(scheduler.invariantViolations().isEmpty)
    }

    @Test func aPromptsNextChunkFollowsTheChunkInFlight() throws {
        // A 40-token prompt in chunks of 16 through a pipeline of depth 3: every chunk is scheduled at once.
        var scheduler = try Scheduler(configuration: .init(maxBatchedTokens: 64, longPrefillThreshold: 16), blockCount: 8)
        #expect(scheduler.tryAdd(1, prompt: prompt(40), maxTokens: 2) == nil)
        let steps = (0..<3).map { _ in scheduler.schedule(sequenceLimit: 1) }
        #expect(steps.map { $0.entries.map(\.startPosition) } == [[0], [16], [32]])
        #expect(steps.map { $0.entries.map(\.tokens.count) } == [[16], [16], [8]])
        #expect(steps.map { $0.entries.map(\.samples) } == [[false], [false], [true]])
        #expect(scheduler.schedule(sequenceLimit: 1).isEmpty, "the last chunk samples: nothing follows it until then")
        #expect(scheduler.invariantViolations().isEmpty)
        // Chunks complete in order; a sequence aborted while its chunks are in flight (below) completes as no-ops.
        #expect(scheduler.tryAdd(2, prompt: prompt(40, from: 100), maxTokens: 2) == nil)
        try scheduler.complete(steps[0], sampled: [:])
        #expect(scheduler.sequence(1)?.computedTokens == 16)
        #expect(scheduler.invariantViolations().isEmpty)
        try scheduler.complete(steps[1], sampled: [:])
        try scheduler.complete(steps[2], sampled: [1: 9])
        #expect(scheduler.sequence(1)?.computedTokens == 40)
        #expect(Array(scheduler.sequence(1)?.outputTokens ?? []) == [9])
        let next = scheduler.schedule(sequenceLimit: 1)
        let early = scheduler.schedule(sequenceLimit: 1)
        #expect(next.entries.map(\.id) == [1] && early.entries.map(\.id) == [2])
        let late = scheduler.schedule(sequenceLimit: 1)
        #expect(late.entries.map(\.id) == [2] && late.entries.map(\.startPosition) == [16])
        scheduler.abort(2)
        #expect(scheduler.invariantViolations().isEmpty)
        try scheduler.complete(next, sampled: [1: 4])
        try scheduler.complete(early, sampled: [:])
        try scheduler.complete(late, sampled: [:])
        #expect(scheduler.sequence(2) == nil && scheduler.usedBlockCount == 0)
        #expect(scheduler.invariantViolations().isEmpty)
    }

    @Test func prefixCacheHitsSkipComputedPromptBlocks() throws {
        var scheduler = try Scheduler(configuration: .init(maxBatchedTokens: 256), blockCount: 32)
        let shared = prompt(40)
        #expect(scheduler.tryAdd(1, prompt: shared, maxTokens: 3) == nil)
        _ = try scheduler.runStep()
        // While 1 is still running, 2 shares its two full blocks.
        #expect(scheduler.tryAdd(2, prompt: Array(shared.prefix(32)) + [7, 7, 7, 7, 7], maxTokens: 2) == nil)
        let step = try scheduler.runStep().step
        let entry = try #require(step.entries.first { $0.id == 2 })
        #expect(entry.startPosition == 32)
        #expect(entry.tokens == [7, 7, 7, 7, 7])
        #expect(Array(entry.blockTable.prefix(2)) == Array(try #require(scheduler.blocks.blockTable(of: 1)).prefix(2)))
        #expect(scheduler.sequence(2)?.cachedPromptTokens == 32)
        #expect(scheduler.prefixCacheQueries == 40 + 37)
        #expect(scheduler.prefixCacheHits == 32)
        var finished: [SequenceState] = []
        while scheduler.hasUnfinishedSequences { finished += try scheduler.runStep().finished }
        #expect(finished.first { $0.id == 2 }?.cachedPromptTokens == 32)
        #expect(scheduler.usedBlockCount == 0)
        #expect(scheduler.blocks.evictableBlockCount > 0)
    }

    @Test func aStoppedSequenceFinishesAndFreesItsBlocks() throws {
        var scheduler = try Scheduler(blockCount: 16)
        #expect(scheduler.tryAdd(1, prompt: prompt(20), maxTokens: 50) == nil)
        _ = try scheduler.runStep()
        let finished = try scheduler.runStep(stopping: [1]).finished
        #expect(finished.map(\.status) == [.finished(.stop)])
        #expect(finished.first?.outputCount == 2)
        #expect(scheduler.usedBlockCount == 0)
        #expect(scheduler.runningCount == 0)
    }

    @Test func theForwardBatchFollowsTheEntries() throws {
        var scheduler = try Scheduler(configuration: .init(maxBatchedTokens: 20, maxSequences: 4), blockCount: 32)
        #expect(scheduler.tryAdd(1, prompt: prompt(5), maxTokens: 5) == nil)
        #expect(scheduler.tryAdd(2, prompt: prompt(6, from: 50), maxTokens: 5) == nil)
        _ = try scheduler.runStep()
        #expect(scheduler.tryAdd(3, prompt: prompt(30, from: 90), maxTokens: 5) == nil)
        let step = scheduler.schedule()
        let batch = step.forwardBatch
        #expect(batch.tokens == step.entries.flatMap(\.tokens))
        #expect(batch.positions == step.entries.flatMap { entry in (0..<entry.tokens.count).map { Int32(entry.startPosition + $0) } })
        #expect(batch.sequences.map(\.count) == [1, 1, 18])
        #expect(batch.sequences.map(\.blockTable) == step.entries.map(\.blockTable))
        #expect(batch.logitRows == [0, 1], "the partial prompt asks for no logits")
        #expect(step.samplingSequences == [1, 2])
        let cache = try PagedKVCache(layerCount: 1, kvWidth: 1, blockCount: 32)
        #expect(throws: Never.self) { try batch.validate(vocabularySize: 100_000, cache: cache, contextLength: 2048) }
    }

    @Test func timestampsComeFromTheInjectedClock() throws {
        let clock = MockEngineClock()
        var scheduler = try Scheduler(blockCount: 16, clock: clock)
        clock.advance(by: .seconds(1))
        #expect(scheduler.tryAdd(1, prompt: prompt(4), maxTokens: 1) == nil)
        clock.advance(by: .milliseconds(250))
        let step = scheduler.schedule()
        #expect(scheduler.sequence(1)?.arrivalTime == .seconds(1))
        #expect(scheduler.sequence(1)?.firstScheduledTime == .milliseconds(1250))
        clock.advance(by: .milliseconds(100))
        let finished = try scheduler.complete(step, sampled: [1: 9])
        #expect(finished.first?.finishTime == .milliseconds(1350))
        #expect(finished.first?.status == .finished(.length))
    }

    @Test func badConfigurationsAreRefused() {
        #expect(throws: SchedulerError.self) { try SchedulerConfiguration(maxBatchedTokens: 8, maxSequences: 16).validate() }
        #expect(throws: SchedulerError.self) { try SchedulerConfiguration(blockSize: 0).validate() }
        #expect(throws: SchedulerError.self) { try SchedulerConfiguration(longPrefillThreshold: -1).validate() }
        #expect(throws: SchedulerError.self) { try Scheduler(blockCount: 0) }
        #expect(throws: Never.self) { try SchedulerConfiguration().validate() }
    }
}

/// A failed property, with the seed and step that reproduce it.
private struct PropertyFailure: Error, CustomStringConvertible {
    var description: String
}

/// Random traffic against the scheduler and a fake model that keeps a shadow of the KV arena: every step's
/// tokens must continue their sequence, everything before them must be in the cache under their block table,
/// and no step may write into a shared or cached block. With `depth` 2 a step is scheduled while the one before
/// is still in flight (a pipeline's batch queue): they share a sequence only where a prompt's next chunk follows
/// the one in flight, and steps complete in order.
private struct SchedulerSimulation {
    struct Expected {
        var prompt: [Int32]
        var maxTokens: Int
        var priority: Int
        var outputs: [Int32] = []
        /// Where the next step of this sequence must start (nil: not in the cache, the next one is an admission).
        var nextPosition: Int?
        var outcome: SequenceState.Status?
        var stream: [Int32] { prompt + outputs }
    }

    let seed: UInt64
    var rng: SeededGenerator
    let configuration: SchedulerConfiguration
    let blockCount: Int
    let clock = MockEngineClock()
    var scheduler: Scheduler
    var arena: [Int32]
    /// Only for `ForwardBatch.validate`, which checks block ids against it.
    let cache: PagedKVCache
    var requests: [SequenceID: Expected] = [:]
    var nextID: UInt64 = 0
    let bases: [[Int32]]
    let usesPriorities: Bool
    var stepNumber = 0
    var aborted = 0
    var stoppedCount = 0
    /// Steps in flight at most.
    let depth: Int
    /// Steps scheduled and not yet completed, oldest first.
    var pending: [SchedulerStep] = []
    /// Prompt chunks scheduled while the chunk before them was in flight.
    var chunksBackToBack = 0

    init(seed: UInt64) throws {
        self.seed = seed
        var rng = SeededGenerator(seed: seed)
        let blockSize = Bool.random(using: &rng) ? 4 : 16
        let blockCount = blockSize == 4 ? Int.random(in: 12...40, using: &rng) : Int.random(in: 4...10, using: &rng)
        let maxSequences = Int.random(in: 3...8, using: &rng)
        configuration = SchedulerConfiguration(
            maxBatchedTokens: max(maxSequences, Int.random(in: 8...96, using: &rng)),
            maxSequences: maxSequences,
            maxWaiting: Int.random(in: 4...24, using: &rng),
            longPrefillThreshold: Bool.random(using: &rng) ? 0 : Int.random(in: 1...24, using: &rng),
            blockSize: blockSize,
            prefixCaching: seed % 4 != 3
        )
        self.blockCount = blockCount
        usesPriorities = seed % 2 == 0
        depth = seed > 6 ? 2 : 1
        bases = (0..<3).map { _ in (0..<48).map { _ in Int32.random(in: 0..<5, using: &rng) } }
        let weakHash = seed % 3 == 0
        scheduler = try Scheduler(configuration: configuration, blockCount: blockCount, clock: clock) { parent, tokens in
            weakHash ? (parent &+ UInt64(tokens.first ?? 0)) % 5 : KVBlockManager.chainHash(parent: parent, tokens: tokens)
        }
        arena = Array(repeating: -1, count: blockCount * blockSize)
        cache = try PagedKVCache(layerCount: 1, kvWidth: 1, blockCount: blockCount, blockSize: blockSize)
        self.rng = rng
    }

    func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw PropertyFailure(description: "seed \(seed), step \(stepNumber): \(message())") }
    }

    func checkInvariants(_ moment: String) throws {
        let problems = scheduler.invariantViolations()
        try check(problems.isEmpty, "invariants broken \(moment): \(problems)")
    }

    func key(_ id: SequenceID) -> (Int, UInt64) { (requests[id]?.priority ?? 0, id.rawValue) }

    mutating func arrive() throws {
        let capacity = blockCount * configuration.blockSize
        let prompt: [Int32]
        if Int.random(in: 0..<20, using: &rng) == 0 {
            prompt = (0..<Int.random(in: capacity...(capacity + 20), using: &rng)).map { _ in 1 }
        } else if Int.random(in: 0..<10, using: &rng) < 3 {
            prompt = (0..<Int.random(in: 1...40, using: &rng)).map { _ in Int32.random(in: 0..<5, using: &rng) }
        } else {
            let base = bases.randomElement(using: &rng)!
            prompt = Array(base.prefix(Int.random(in: 1...base.count, using: &rng)))
                + (0..<Int.random(in: 0...8, using: &rng)).map { _ in Int32.random(in: 0..<5, using: &rng) }
        }
        let maxTokens = Int.random(in: 1...16, using: &rng)
        let priority = usesPriorities ? Int.random(in: 0...2, using: &rng) : 0
        nextID += 1
        let id = SequenceID(nextID)
        let waitingBefore = scheduler.waitingCount
        let freeSlots = max(0, configuration.maxSequences - scheduler.runningCount)
        let code = scheduler.tryAdd(id, prompt: prompt, maxTokens: maxTokens, priority: priority)
        if prompt.count + maxTokens - 1 > capacity {
            try check(code == .exceedsCacheCapacity, "\(id) of \(prompt.count)+\(maxTokens) tokens fits no cache of \(capacity) but got \(String(describing: code))")
        } else if waitingBefore >= configuration.maxWaiting + freeSlots {
            try check(code == .queueFull, "\(id) joined a full queue: \(String(describing: code))")
        } else {
            try check(code == nil, "\(id) refused: \(String(describing: code))")
            requests[id] = Expected(prompt: prompt, maxTokens: maxTokens, priority: priority)
        }
        try checkInvariants("after adding \(id)")
    }

    mutating func abort(_ id: SequenceID) throws {
        let state = scheduler.abort(id)
        try check(state?.status == .finished(.aborted), "abort of live \(id) gave \(String(describing: state?.status))")
        requests[id]?.outcome = .finished(.aborted)
        requests[id]?.nextPosition = nil
        aborted += 1
        try checkInvariants("after aborting \(id)")
    }

    mutating func step() throws {
        stepNumber += 1
        clock.advance(by: .milliseconds(Int64.random(in: 1...20, using: &rng)))
        let hadWork = scheduler.hasUnfinishedSequences
        let runningBefore = Set(scheduler.runningIDs)
        let sequences = scheduler.runningCount + scheduler.waitingCount
        let step = scheduler.schedule(sequenceLimit: depth == 1 ? nil : max(1, (sequences + depth - 1) / depth))
        try checkInvariants("after schedule")
        try check(step.tokenCount <= configuration.maxBatchedTokens, "\(step.tokenCount) tokens exceed the budget")
        try check(!hadWork || !step.isEmpty || !pending.isEmpty,
                  "no progress with \(scheduler.waitingCount) waiting and \(scheduler.runningCount) running")
        try check(Set(step.entries.map(\.id)).count == step.entries.count, "a sequence appears twice in one step")
        let inFlight = Set(pending.flatMap { $0.entries.map(\.id) })
        let sampling = Set(pending.flatMap { $0.entries.filter(\.samples).map(\.id) })
        for entry in step.entries {
            // Only a prompt's next chunk may follow its chunk in flight (checked to start where that one ends below).
            try check(!sampling.contains(entry.id), "\(entry.id) is scheduled while its sampled step is in flight")
            if inFlight.contains(entry.id) { chunksBackToBack += 1 }
        }
        for id in step.preempted { try check(!inFlight.contains(id), "\(id) was preempted while in flight") }
        if !step.isEmpty {
            do { try step.forwardBatch.validate(vocabularySize: 8, cache: cache, contextLength: arena.count + 32) } catch {
                try check(false, "the model refuses the batch: \(error)")
            }
        }

        for id in step.preempted {
            try check(runningBefore.contains(id), "preempted \(id) was not running")
            try check(scheduler.sequence(id)?.status == .waiting, "preempted \(id) is not waiting")
            try check(!step.entries.contains { $0.id == id }, "preempted \(id) is still in the step")
            for entry in step.entries {
                try check(key(id) > key(entry.id), "preempted \(id) ranks before scheduled \(entry.id)")
            }
            requests[id]?.nextPosition = nil
        }

        let blockSize = configuration.blockSize
        for entry in step.entries {
            let expected = try #require(requests[entry.id])
            let stream = expected.stream
            let start = entry.startPosition, end = entry.startPosition + entry.tokens.count
            try check(!entry.tokens.isEmpty && end <= stream.count, "\(entry.id) runs to \(end) of \(stream.count) tokens")
            try check(entry.tokens == Array(stream[start..<end]), "\(entry.id) got tokens that are not its own")
            try check(entry.samples == (end == stream.count), "\(entry.id) samples: \(entry.samples) at \(end) of \(stream.count)")
            if let next = expected.nextPosition {
                try check(start == next, "\(entry.id) continues at \(start), not \(next)")
            } else {
                try check(start % blockSize == 0, "\(entry.id) resumes at \(start), not a block boundary")
            }
            if configuration.longPrefillThreshold > 0, entry.tokens.count > 1 {
                try check(entry.tokens.count <= configuration.longPrefillThreshold, "\(entry.id) chunk of \(entry.tokens.count)")
            }
            try check(entry.blockTable.count * blockSize >= end, "\(entry.id) table too short for \(end)")
            for position in 0..<start {
                let slot = Int(entry.blockTable[position / blockSize]) * blockSize + position % blockSize
                try check(arena[slot] == stream[position], "\(entry.id) position \(position) is not in the cache")
            }
            for position in start..<end {
                let block = entry.blockTable[position / blockSize]
                try check(scheduler.blocks.referenceCount(of: block) == 1 && !scheduler.blocks.isCached(block),
                          "\(entry.id) writes into shared or cached block \(block)")
                arena[Int(block) * blockSize + position % blockSize] = stream[position]
            }
            requests[entry.id]?.nextPosition = end
        }
        if !step.isEmpty { pending.append(step) }
        if pending.count >= depth || (step.isEmpty && !pending.isEmpty) { try completeOldest() }
    }

    /// The oldest step in flight has run: sample, maybe lose a client meanwhile, and complete it.
    mutating func completeOldest() throws {
        let step = pending.removeFirst()
        // A client may go away while the step runs.
        var abortedDuringStep: Set<SequenceID> = []
        if Int.random(in: 0..<30, using: &rng) == 0,
           let victim = step.entries.filter({ scheduler.sequence($0.id) != nil }).randomElement(using: &rng)?.id {
            try abort(victim)
            abortedDuringStep.insert(victim)
        }

        var sampled: [SequenceID: Int32] = [:]
        var stopped: Set<SequenceID> = []
        // (Sequences aborted while their step was in flight sample nothing.)
        for entry in step.entries where entry.samples && !abortedDuringStep.contains(entry.id) && scheduler.sequence(entry.id) != nil {
            sampled[entry.id] = Int32.random(in: 0..<5, using: &rng)
            if Int.random(in: 0..<40, using: &rng) == 0 { stopped.insert(entry.id) }
        }
        let finished = try scheduler.complete(step, sampled: sampled, stopped: stopped)
        try checkInvariants("after complete")
        for (id, token) in sampled { requests[id]?.outputs.append(token) }
        for state in finished {
            let expected = try #require(requests[state.id])
            try check(Array(state.outputTokens) == expected.outputs && Array(state.promptTokens) == expected.prompt,
                      "\(state.id) finished with other tokens")
            if stopped.contains(state.id) {
                try check(state.status == .finished(.stop), "\(state.id) was stopped but ended \(state.status)")
                stoppedCount += 1
            } else {
                try check(state.status == .finished(.length) && expected.outputs.count == expected.maxTokens,
                          "\(state.id) ended \(state.status) with \(expected.outputs.count) of \(expected.maxTokens) tokens")
            }
            try check(scheduler.sequence(state.id) == nil, "finished \(state.id) is still scheduled")
            requests[state.id]?.outcome = state.status
        }
        for id in sampled.keys where requests[id]?.outcome == nil {
            let expected = try #require(requests[id])
            try check(expected.outputs.count < expected.maxTokens && !stopped.contains(id), "\(id) should have finished")
        }
    }

    /// Random traffic for `arrivalSteps` steps, then drains; returns the preemption count.
    mutating func run(arrivalSteps: Int) throws -> Int {
        for _ in 0..<arrivalSteps {
            for _ in 0..<Int.random(in: 0...2, using: &rng) where Int.random(in: 0..<3, using: &rng) == 0 { try arrive() }
            if Int.random(in: 0..<40, using: &rng) == 0 {
                let live = scheduler.waitingIDs + scheduler.runningIDs
                if let id = live.randomElement(using: &rng) { try abort(id) }
            }
            try step()
        }
        var drainSteps = 0
        while scheduler.hasUnfinishedSequences || !pending.isEmpty {
            drainSteps += 1
            try check(drainSteps <= 20_000, "still \(scheduler.waitingCount) waiting and \(scheduler.runningCount) running after 20000 steps")
            try step()
        }
        try check(scheduler.usedBlockCount == 0 && scheduler.blocks.freeBlockCount == blockCount,
                  "blocks leak: \(scheduler.usedBlockCount) used, \(scheduler.blocks.freeBlockCount) of \(blockCount) free")
        for (id, expected) in requests {
            switch expected.outcome {
            case .finished(.length): try check(expected.outputs.count == expected.maxTokens, "\(id) length mismatch")
            case .finished(.stop), .finished(.aborted): break
            default: throw PropertyFailure(description: "seed \(seed): \(id) never finished")
            }
        }
        try check(requests.values.contains { $0.outcome == .finished(.length) }, "no request ran to completion")
        return scheduler.preemptionCount
    }
}

@Suite("Scheduler properties")
struct SchedulerPropertyTests {
    @Test(arguments: 1...12 as ClosedRange<UInt64>)
    func randomTrafficKeepsInvariantsAndFinishesEverything(seed: UInt64) throws {
        var simulation = try SchedulerSimulation(seed: seed)
        do {
            let preemptions = try simulation.run(arrivalSteps: 2500)
            #expect(preemptions > 0, "seed \(seed): the small cache should force preemption")
            if simulation.depth > 1, simulation.configuration.longPrefillThreshold > 0 {
                #expect(simulation.chunksBackToBack > 0, "seed \(seed): no prompt chunk followed one in flight")
            }
        } catch let failure as PropertyFailure {
            Issue.record("\(failure)")
        }
    }
}
