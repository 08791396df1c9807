extension Scheduler {
    /// Records that `step` ran: advances each scheduled sequence's computed tokens (registering its full
    /// blocks in the prefix cache), appends the sampled tokens, and finishes the sequences that reached
    /// `maxTokens` or that the caller stopped, freeing their blocks at once.
    ///
    /// Entries of sequences aborted since `step` was scheduled are skipped.
    /// - Parameters:
    ///   - step: the step last returned by ``schedule()``.
    ///   - sampled: the token sampled for every entry with `samples` set (extra ids are ignored).
    ///   - stopped: sequences whose token just sampled ends them (end-of-sequence token or stop string);
    ///     ids that did not sample in this step are ignored (use ``abort(_:)`` for those).
    /// - Returns: the sequences that finished, with `.length` or `.stop` status.
    /// - Throws: `SchedulerError(.invalidStep)`, changing nothing, if `step` is not the oldest step in flight or
    ///   a sampled token is missing.
    @discardableResult
    public mutating func complete(
        _ step: SchedulerStep, sampled: [SequenceID: Int32], stopped: Set<SequenceID> = []
    ) throws(SchedulerError) -> [SequenceState] {
        guard pendingSteps.first == step.index || (step.isEmpty && !pendingSteps.contains(step.index)) else {
            throw SchedulerError(.invalidStep, "step \(step.index) is not the oldest step in flight (\(pendingSteps.first.map { "\($0)" } ?? "none"))")
        }
        for entry in step.entries where entry.samples && isLive(entry) && sampled[entry.id] == nil {
            throw SchedulerError(.invalidStep, "no sampled token for \(entry.id) in step \(step.index)")
        }
        if !step.isEmpty { pendingSteps.removeFirst() }
        for entry in step.entries where inFlight[entry.id]?.step == step.index { inFlight[entry.id] = nil }
        var finished: [SequenceState] = []
        for entry in step.entries where isLive(entry) {
            let id = entry.id
            sequences[id]?.computedTokens += entry.tokens.count
            if let sequence = sequences[id] {
                blocks.markComputed(sequence: id, upTo: sequence.computedTokens, tokens: sequence.tokens)
            }
            guard entry.samples, let token = sampled[id] else { continue }
            sequences[id]?.tokens.append(token)
            guard let sequence = sequences[id] else { continue }
            if stopped.contains(id) {
                finished.append(finish(id, reason: .stop))
            } else if sequence.outputCount >= sequence.maxTokens {
                finished.append(finish(id, reason: .length))
            }
        }
        return finished
    }

    /// Whether `entry` still describes its sequence (it was not aborted since it was scheduled).
    private func isLive(_ entry: SchedulerStep.Entry) -> Bool {
        guard let sequence = sequences[entry.id] else { return false }
        return sequence.status == .running && sequence.computedTokens == entry.startPosition
    }

    /// Ends a sequence wherever it is (waiting, prefilling or decoding) and frees its blocks at once.
    /// - Returns: its final state, or nil if the id is not waiting or running.
    @discardableResult
    public mutating func abort(_ id: SequenceID) -> SequenceState? {
        guard sequences[id] != nil else { return nil }
        return finish(id, reason: .aborted)
    }

    /// Aborts every waiting and running sequence (shutdown past the drain deadline, a lost worker) and forgets
    /// the steps in flight: none of them may be completed afterwards.
    /// - Returns: their final states.
    @discardableResult
    public mutating func abortAll() -> [SequenceState] {
        defer {
            pendingSteps.removeAll()
            inFlight.removeAll()
        }
        return (waitingIDs + runningIDs).compactMap { abort($0) }
    }

    private mutating func finish(_ id: SequenceID, reason: SequenceState.FinishReason) -> SequenceState {
        blocks.free(sequence: id)
        running.removeAll { $0 == id }
        waiting.removeAll { $0 == id }
        var state = sequences.removeValue(forKey: id)!
        state.status = .finished(reason)
        state.finishTime = clock.now
        return state
    }

    /// Checks the scheduler's bookkeeping and its block manager's (see ``KVBlockManager/invariantViolations()``).
    /// - Returns: a description of each violation; empty when consistent.
    public func invariantViolations() -> [String] {
        var problems = blocks.invariantViolations()
        func fail(_ message: String) { problems.append(message) }
        if running.count > configuration.maxSequences { fail("\(running.count) running sequences exceed \(configuration.maxSequences)") }
        if Set(running).count != running.count || Set(waiting).count != waiting.count { fail("a queue holds an id twice") }
        if !Set(running).isDisjoint(with: waiting) { fail("a sequence is both waiting and running") }
        if running.count + waiting.count != sequences.count { fail("\(sequences.count) sequences but \(running.count) running and \(waiting.count) waiting") }
        if blocks.sequenceCount != running.count { fail("\(blocks.sequenceCount) block tables for \(running.count) running sequences") }
        for (id, entry) in inFlight where !pendingSteps.contains(entry.step) { fail("\(id) is in step \(entry.step), which is not in flight") }
        for (id, entry) in inFlight {
            guard let sequence = sequences[id] else { continue }
            if entry.end <= sequence.computedTokens || entry.end > sequence.tokens.count {
                fail("\(id)'s tokens in flight end at \(entry.end) with \(sequence.computedTokens) of \(sequence.tokens.count) computed")
            }
        }
        for (earlier, later) in zip(running, running.dropFirst()) where !(sequences[earlier].map { a in sequences[later].map { a.precedes($0) } ?? false } ?? false) {
            fail("running queue out of order at \(earlier), \(later)")
        }
        for (later, earlier) in zip(waiting, waiting.dropFirst()) where !(sequences[earlier].map { a in sequences[later].map { a.precedes($0) } ?? false } ?? false) {
            fail("waiting queue out of order at \(later), \(earlier)")
        }
        for id in running {
            guard let sequence = sequences[id] else { fail("running \(id) has no state"); continue }
            if sequence.status != .running { fail("running \(id) has status \(sequence.status)") }
            if sequence.computedTokens >= sequence.tokens.count { fail("running \(id) has no token left to compute") }
            let held = blocks.blockTable(of: id)?.count ?? 0
            if held < blocks.blocksNeeded(forTokens: sequence.computedTokens) {
                fail("running \(id) has \(sequence.computedTokens) computed tokens in \(held) blocks")
            }
        }
        for id in waiting {
            guard let sequence = sequences[id] else { fail("waiting \(id) has no state"); continue }
            if sequence.status != .waiting { fail("waiting \(id) has status \(sequence.status)") }
            if sequence.computedTokens != 0 { fail("waiting \(id) has \(sequence.computedTokens) computed tokens") }
            if blocks.blockTable(of: id) != nil { fail("waiting \(id) holds blocks") }
        }
        for (id, sequence) in sequences where sequence.outputCount >= sequence.maxTokens {
            fail("\(id) has \(sequence.outputCount) of at most \(sequence.maxTokens) tokens but is not finished")
        }
        return problems
    }
}
