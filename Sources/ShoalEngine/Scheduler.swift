/// Continuous batching in the style of vLLM v1, as a value-type state machine: it decides what each step's
/// batch holds and keeps the KV block tables, but never runs the model.
///
/// Every sequence has tokens (prompt, then generated) and a count of those already in the KV cache; a step
/// computes some of the rest. Each ``schedule()``:
/// 1. gives every running sequence that is decoding its one token (so a long prompt never stalls a stream);
/// 2. continues prompts being prefilled in chunks, within the remaining token budget;
/// 3. admits waiting requests by priority, then arrival, chunking a prompt to what is left of the budget,
///    while there are sequence slots and blocks (and nothing was preempted in this step).
///
/// When a running sequence cannot get a block, the running sequence that comes last in (priority, arrival)
/// order is preempted by recompute: its blocks are freed and it waits again, later to prefill its prompt and
/// the tokens it had generated (prefix-cache hits make that cheap). The first sequence in that order always
/// fits, because ``add(_:)`` rejects requests that cannot fit in the whole cache, so the scheduler never
/// deadlocks: whenever a sequence is waiting or running, a step carries at least one token.
///
/// Drive it as `schedule()` → run the step's batch → sample → ``complete(_:sampled:stopped:)``, with
/// ``add(_:)`` and ``abort(_:)`` in between. A pipeline keeps several steps in flight (vLLM's batch queue): each
/// `schedule()` then leaves out the sequences of steps not yet completed (they are never preempted), except
/// that a prompt's next chunk may follow the chunk in flight at once (its stages run steps in order, so a
/// chunk's K/V is in every stage's cache before the next chunk reaches that stage), and steps complete in the
/// order they were scheduled.
public struct Scheduler: Sendable {
    public let configuration: SchedulerConfiguration
    /// The block tables and prefix cache.
    public internal(set) var blocks: KVBlockManager
    let clock: any EngineClock
    var sequences: [SequenceID: SequenceState] = [:]
    /// Waiting sequences, the next to admit last.
    var waiting: [SequenceID] = []
    /// Running sequences in (priority, arrival) order: the preemption victim is last.
    var running: [SequenceID] = []
    var nextArrival: UInt64 = 0
    var stepCount: UInt64 = 0
    /// Steps handed out and not yet completed, oldest first.
    var pendingSteps: [UInt64] = []
    /// Sequences in those steps: the latest step each is in, and where its tokens in flight end.
    var inFlight: [SequenceID: InFlight] = [:]

    /// A sequence's place in the steps in flight.
    struct InFlight: Sendable, Equatable {
        /// The latest step holding its tokens.
        var step: UInt64
        /// The position after its last token in flight: where a next chunk starts.
        var end: Int
    }
    /// Preemptions since the start (a counter metric).
    public private(set) var preemptionCount = 0

    /// - Parameters:
    ///   - configuration: limits and policy; validated here.
    ///   - blockCount: KV blocks in the cache (of `configuration.blockSize` tokens each).
    ///   - clock: the time source for arrival and finish timestamps.
    /// - Throws: `SchedulerError(.invalidConfiguration)`.
    public init(configuration: SchedulerConfiguration = .init(), blockCount: Int, clock: any EngineClock = ContinuousEngineClock()) throws(SchedulerError) {
        try self.init(configuration: configuration, blockCount: blockCount, clock: clock) {
            KVBlockManager.chainHash(parent: $0, tokens: $1)
        }
    }

    /// As the public init, with the prefix cache's block hash replaced (tests force collisions with it).
    package init(
        configuration: SchedulerConfiguration, blockCount: Int, clock: any EngineClock,
        blockHasher: @escaping KVBlockManager.BlockHasher
    ) throws(SchedulerError) {
        try configuration.validate()
        guard blockCount >= 1 else { throw SchedulerError(.invalidConfiguration, "the KV cache needs at least one block, got \(blockCount)") }
        self.configuration = configuration
        self.clock = clock
        blocks = KVBlockManager(
            blockCount: blockCount, blockSize: configuration.blockSize, prefixCaching: configuration.prefixCaching, hasher: blockHasher
        )
    }

    // MARK: Observation

    /// Requests waiting for admission (new or preempted).
    public var waitingCount: Int { waiting.count }
    /// Sequences holding KV blocks.
    public var runningCount: Int { running.count }
    /// Whether any sequence is waiting or running.
    public var hasUnfinishedSequences: Bool { !sequences.isEmpty }
    /// Waiting sequences, the next to admit first.
    public var waitingIDs: [SequenceID] { waiting.reversed() }
    /// Running sequences in (priority, arrival) order.
    public var runningIDs: [SequenceID] { running }
    /// KV blocks held by live sequences.
    public var usedBlockCount: Int { blocks.usedBlockCount }
    /// Fraction of the KV cache held by live sequences, 0...1.
    public var kvCacheUsage: Double { blocks.usage }
    /// Prompt tokens looked up in the prefix cache.
    public var prefixCacheQueries: Int { blocks.prefixQueries }
    /// Prompt tokens found in the prefix cache.
    public var prefixCacheHits: Int { blocks.prefixHits }

    /// The state of a waiting or running sequence.
    public func sequence(_ id: SequenceID) -> SequenceState? { sequences[id] }

    // MARK: Admission

    /// Queues a request.
    /// - Throws: `SchedulerError` with `.invalidRequest` (empty prompt, `maxTokens` below 1, id in use),
    ///   `.exceedsContextLength`, `.exceedsCacheCapacity` (it could never run, even alone), or `.queueFull`.
    public mutating func add(_ request: SchedulerRequest) throws(SchedulerError) {
        let promptCount = request.promptTokens.count
        guard sequences[request.id] == nil else { throw SchedulerError(.invalidRequest, "sequence id \(request.id) is already in use") }
        guard promptCount >= 1 else { throw SchedulerError(.invalidRequest, "the prompt of \(request.id) is empty") }
        guard request.maxTokens >= 1 else {
            throw SchedulerError(.invalidRequest, "max_tokens must be at least 1, got \(request.maxTokens)")
        }
        let (total, overflow) = promptCount.addingReportingOverflow(request.maxTokens)
        if let limit = configuration.maxModelLength, overflow || total > limit {
            throw SchedulerError(
                .exceedsContextLength,
                "the prompt's \(promptCount) tokens plus max_tokens \(request.maxTokens) exceed the context length of \(limit) tokens"
            )
        }
        // The last generated token is sampled, never computed: the cache must hold total - 1 positions.
        guard !overflow, total - 1 <= blocks.tokenCapacity else {
            throw SchedulerError(
                .exceedsCacheCapacity,
                "the prompt's \(promptCount) tokens plus max_tokens \(request.maxTokens) need \(blocks.blocksNeeded(forTokens: overflow ? .max : total - 1)) KV blocks but the cache has \(blocks.blockCount) (\(blocks.tokenCapacity) tokens)"
            )
        }
        // Requests that the next step starts (free running slots) do not count as waiting: a burst of
        // simultaneous requests fills the free slots first.
        let freeSlots = max(0, configuration.maxSequences - running.count)
        guard waiting.count < configuration.maxWaiting + freeSlots else {
            throw SchedulerError(.queueFull, "the waiting queue is full (\(configuration.maxWaiting) requests beyond the \(freeSlots) free running slots)")
        }
        sequences[request.id] = SequenceState(request: request, arrivalTime: clock.now, arrivalOrder: nextArrival)
        nextArrival += 1
        insertWaiting(request.id)
    }

    // MARK: Scheduling

    /// Chooses the next step's tokens, growing block tables and preempting as needed.
    ///
    /// Hand the returned step to ``complete(_:sampled:stopped:)`` once it has run. Steps scheduled before the
    /// last ones completed run alongside them (a pipeline's batches in flight): they hold none of their sequences.
    /// - Parameter sequenceLimit: at most this many sequences in the step (a pipeline spreads its sequences over
    ///   the batches in flight); nil for no limit beyond the configuration's.
    public mutating func schedule(sequenceLimit: Int? = nil) -> SchedulerStep {
        stepCount += 1
        var plan = StepPlan(budget: configuration.maxBatchedTokens, sequenceLimit: max(1, sequenceLimit ?? .max))
        let chunkLimit = configuration.longPrefillThreshold > 0 ? configuration.longPrefillThreshold : Int.max

        // 1. Decodes, then 2. continued prefills, each in (priority, arrival) order.
        for decoding in [true, false] {
            for id in running {
                guard plan.budget > 0, plan.hasRoom else { break }
                guard let sequence = sequences[id], sequence.status == .running,
                      (sequence.uncomputedTokens == 1) == decoding, !plan.contains(id)
                else { continue }
                // In flight: only a prompt whose chunk in flight does not reach its end continues, after that chunk,
                // and only into free blocks (it never preempts, nor runs in a step that preempted a sequence before it).
                let continuing = inFlight[id] != nil
                let start = inFlight[id]?.end ?? sequence.computedTokens
                guard start < sequence.tokens.count, !continuing || plan.preempted.isEmpty else { continue }
                let wanted = min(sequence.tokens.count - start, plan.budget, chunkLimit)
                let granted = reserve(id, tokens: wanted, preempting: !continuing, plan: &plan)
                if granted > 0 { plan.add(id, tokens: granted) }
            }
        }

        // 3. Admissions, unless this step had to preempt.
        if plan.preempted.isEmpty {
            let now = clock.now
            while running.count < configuration.maxSequences, plan.budget > 0, plan.hasRoom, let id = waiting.last,
                  let sequence = sequences[id] {
                guard let allocation = blocks.allocate(
                    sequence: id, promptTokens: sequence.tokens, maxNewTokens: min(plan.budget, chunkLimit)
                ) else { break }
                waiting.removeLast()
                insertRunning(id)
                sequences[id]?.status = .running
                sequences[id]?.computedTokens = allocation.cachedTokens
                if sequence.firstScheduledTime == nil {
                    sequences[id]?.firstScheduledTime = now
                    sequences[id]?.cachedPromptTokens = min(allocation.cachedTokens, sequence.promptCount)
                }
                plan.add(id, tokens: allocation.newTokens)
            }
        }

        var entries: [SchedulerStep.Entry] = []
        entries.reserveCapacity(plan.order.count)
        for (id, count) in plan.order {
            guard let sequence = sequences[id], let table = blocks.blockTable(of: id) else { continue }
            let start = inFlight[id]?.end ?? sequence.computedTokens
            entries.append(SchedulerStep.Entry(
                id: id,
                tokens: Array(sequence.tokens[start..<(start + count)]),
                startPosition: start,
                blockTable: table,
                samples: start + count == sequence.tokens.count
            ))
        }
        if !entries.isEmpty {
            pendingSteps.append(stepCount)
            for entry in entries {
                inFlight[entry.id] = InFlight(step: stepCount, end: entry.startPosition + entry.tokens.count)
            }
        }
        return SchedulerStep(index: stepCount, entries: entries, preempted: plan.preempted)
    }

    /// The step being assembled.
    struct StepPlan {
        var budget: Int
        var sequenceLimit: Int
        var order: [(SequenceID, Int)] = []

        /// Whether another sequence may join.
        var hasRoom: Bool { order.count < sequenceLimit }
        var preempted: [SequenceID] = []

        func contains(_ id: SequenceID) -> Bool { order.contains { $0.0 == id } }

        mutating func add(_ id: SequenceID, tokens: Int) {
            order.append((id, tokens))
            budget -= tokens
        }

        /// Takes `id` out of the step, returning its tokens to the budget.
        mutating func remove(_ id: SequenceID) {
            guard let index = order.firstIndex(where: { $0.0 == id }) else { return }
            budget += order[index].1
            order.remove(at: index)
        }
    }

    /// Grows `id`'s table for up to `tokens` more tokens (fewer if only fewer fit), preempting the last running
    /// sequences while not even one fits (if `preempting`). Returns the tokens granted: 0 if `id` itself was
    /// preempted or nothing fits.
    private mutating func reserve(_ id: SequenceID, tokens: Int, preempting: Bool, plan: inout StepPlan) -> Int {
        while let computed = sequences[id]?.computedTokens {
            let start = inFlight[id]?.end ?? computed
            let fit = min(tokens, blocks.reachableLength(of: id) - start)
            if fit >= 1, blocks.append(sequence: id, newTotalLength: start + fit) { return fit }
            guard preempting else { return 0 }
            // The last running sequence not in flight (a step in flight writes into its blocks).
            guard let victim = running.last(where: { inFlight[$0] == nil }) else { return 0 }
            preempt(victim, plan: &plan)
            if victim == id { return 0 }
        }
        return 0
    }

    /// Frees a running sequence's blocks and puts it back in the waiting queue, to be recomputed.
    private mutating func preempt(_ id: SequenceID, plan: inout StepPlan) {
        plan.remove(id)
        plan.preempted.append(id)
        blocks.free(sequence: id)
        running.removeAll { $0 == id }
        sequences[id]?.status = .waiting
        sequences[id]?.computedTokens = 0
        sequences[id]?.preemptionCount += 1
        preemptionCount += 1
        insertWaiting(id)
    }

    // MARK: Queues

    private func orderKey(_ id: SequenceID) -> (Int, UInt64) { sequences[id]?.orderKey ?? (.max, .max) }

    /// Inserts into `waiting`, kept in descending (priority, arrival) order so the next to admit is last.
    mutating func insertWaiting(_ id: SequenceID) {
        let key = orderKey(id)
        var low = 0
        var high = waiting.count
        while low < high {
            let middle = (low + high) / 2
            if orderKey(waiting[middle]) > key { low = middle + 1 } else { high = middle }
        }
        waiting.insert(id, at: low)
    }

    /// Inserts into `running`, kept in ascending (priority, arrival) order.
    mutating func insertRunning(_ id: SequenceID) {
        let key = orderKey(id)
        var low = 0
        var high = running.count
        while low < high {
            let middle = (low + high) / 2
            if orderKey(running[middle]) < key { low = middle + 1 } else { high = middle }
        }
        running.insert(id, at: low)
    }
}
