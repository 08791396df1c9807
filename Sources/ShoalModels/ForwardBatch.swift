/// One step's work for the forward pass: the tokens of several sequences flattened into one array.
///
/// Each sequence contributes a run of consecutive positions (a prefill chunk or one decode token);
/// the positions before its first token in this batch must already be in the KV cache, reachable
/// through its block table. `logitRows` lists the flattened token indices whose logits are wanted
/// (usually the last token of each sequence).
public struct ForwardBatch: Sendable {
    /// A sequence's share of the batch.
    public struct Sequence: Sendable {
        /// Index of its first token in `tokens`.
        public var start: Int
        /// How many of its tokens this batch carries.
        public var count: Int
        /// KV block ids, covering at least every position up to the last one in this batch.
        public var blockTable: [Int32]

        public init(start: Int, count: Int, blockTable: [Int32]) {
            self.start = start
            self.count = count
            self.blockTable = blockTable
        }
    }

    public var tokens: [Int32]
    public var positions: [Int32]
    public var sequences: [Sequence]
    public var logitRows: [Int]

    public init(tokens: [Int32] = [], positions: [Int32] = [], sequences: [Sequence] = [], logitRows: [Int] = []) {
        self.tokens = tokens
        self.positions = positions
        self.sequences = sequences
        self.logitRows = logitRows
    }

    /// Appends a sequence's tokens starting at `position`; when `wantLogits`, the last token's logits are asked for.
    public mutating func append(tokens newTokens: [Int32], startingAt position: Int, blockTable: [Int32], wantLogits: Bool = true) {
        let start = tokens.count
        tokens.append(contentsOf: newTokens)
        positions.append(contentsOf: (0..<newTokens.count).map { Int32(position + $0) })
        sequences.append(Sequence(start: start, count: newTokens.count, blockTable: blockTable))
        if wantLogits, !newTokens.isEmpty { logitRows.append(tokens.count - 1) }
    }

    /// Checks the batch against the cache and model before any memory is touched.
    /// - Throws: `ModelError(.invalidBatch)` naming the first inconsistency.
    public func validate(vocabularySize: Int, cache: PagedKVCache, contextLength: Int) throws {
        func fail(_ message: String) -> ModelError { ModelError(.invalidBatch, message) }
        guard positions.count == tokens.count else { throw fail("\(tokens.count) tokens but \(positions.count) positions") }
        var covered = 0
        for (index, sequence) in sequences.enumerated() {
            guard sequence.start == covered, sequence.count > 0 else {
                throw fail("sequence \(index) does not continue the flattened batch at token \(covered)")
            }
            covered += sequence.count
            guard covered <= tokens.count else { throw fail("sequence \(index) runs past the batch") }
            let first = Int(positions[sequence.start])
            for offset in 0..<sequence.count where Int(positions[sequence.start + offset]) != first + offset {
                throw fail("sequence \(index) positions are not consecutive")
            }
            let last = first + sequence.count - 1
            guard first >= 0, last < contextLength else {
                throw fail("sequence \(index) position \(last) is outside the context of \(contextLength)")
            }
            guard sequence.blockTable.count * cache.blockSize > last else {
                throw fail("sequence \(index) block table covers \(sequence.blockTable.count * cache.blockSize) positions, needs \(last + 1)")
            }
            for block in sequence.blockTable where block < 0 || Int(block) >= cache.blockCount {
                throw fail("sequence \(index) names block \(block) outside the cache of \(cache.blockCount)")
            }
        }
        guard covered == tokens.count else { throw fail("sequences cover \(covered) of \(tokens.count) tokens") }
        for token in tokens where token < 0 || Int(token) >= vocabularySize {
            throw fail("token id \(token) is outside the vocabulary of \(vocabularySize)")
        }
        for row in logitRows where row < 0 || row >= tokens.count {
            throw fail("logit row \(row) is outside the batch of \(tokens.count) tokens")
        }
    }
}
