public import ShoalModels

extension SchedulerStep {
    /// The step as one flattened batch for the model: entries in order, a logit row for each sampling entry
    /// (so logit row `i` belongs to `samplingSequences[i]`).
    public var forwardBatch: ForwardBatch {
        var batch = ForwardBatch()
        let count = tokenCount
        batch.tokens.reserveCapacity(count)
        batch.positions.reserveCapacity(count)
        batch.sequences.reserveCapacity(entries.count)
        for entry in entries {
            batch.append(tokens: entry.tokens, startingAt: entry.startPosition, blockTable: entry.blockTable, wantLogits: entry.samples)
        }
        return batch
    }
}
