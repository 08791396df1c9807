/// Byte-level BPE merge rules over symbol ids, and the merge loop.
///
/// Symbols are vocabulary ids; strings that occur in merge rules (or single bytes) but are not in the
/// vocabulary get extra ids from `vocabularySize` upwards, so that merging never needs a string.
struct BPEMergeTable: Sendable {
    /// `(left << 32) | right` → `(rank << 32) | merged symbol`.
    private let pairs: [UInt64: UInt64]
    /// The symbol of each single byte.
    let symbolOfByte: [Int32]
    /// The bytes of each extra symbol (id `vocabularySize + i`).
    private let extraSymbolBytes: [[UInt8]]
    private let vocabularySize: Int

    /// - Parameters:
    ///   - merges: Rules `"left right"` in byte-level encoding; the rank of a rule is its index.
    ///   - vocabulary: Id of each vocabulary string.
    ///   - vocabularySize: Number of vocabulary ids.
    /// - Throws: `TokenizerError.invalidMerge` for a rule without two non-empty parts.
    init(merges: [String], vocabulary: [String: Int32], vocabularySize: Int) throws {
        guard merges.count < Int(Int32.max) / 4 else {
            throw TokenizerError(.invalidMerge, "\(merges.count) merge rules are too many for 32-bit ids")
        }
        self.vocabularySize = vocabularySize
        var extraIDs: [String: Int32] = [:]
        var extraSymbolBytes: [[UInt8]] = []
        func symbol(_ text: String) -> Int32 {
            if let id = vocabulary[text] { return id }
            if let id = extraIDs[text] { return id }
            let id = Int32(vocabularySize + extraSymbolBytes.count)
            extraIDs[text] = id
            extraSymbolBytes.append(ByteLevel.decode(text))
            return id
        }
        var symbolOfByte = [Int32](repeating: 0, count: 256)
        for byte in 0..<256 {
            symbolOfByte[byte] = symbol(ByteLevel.encode(CollectionOfOne(UInt8(byte))))
        }
        var pairs: [UInt64: UInt64] = [:]
        pairs.reserveCapacity(merges.count)
        for (rank, rule) in merges.enumerated() {
            // Split at the first space after the first byte, as llama.cpp does.
            let utf8 = rule.utf8
            guard let space = utf8.dropFirst().firstIndex(of: 0x20) else {
                throw TokenizerError(.invalidMerge, "merge \(rank) \"\(rule)\" has no space between two parts")
            }
            let left = String(rule[..<space])
            let right = String(rule[utf8.index(after: space)...])
            if right.isEmpty {
                throw TokenizerError(.invalidMerge, "merge \(rank) \"\(rule)\" has an empty right part")
            }
            let leftID = symbol(left)
            let rightID = symbol(right)
            let merged = symbol(left + right)
            let key = UInt64(UInt32(bitPattern: leftID)) << 32 | UInt64(UInt32(bitPattern: rightID))
            if pairs[key] == nil {  // a repeated rule keeps its first rank
                pairs[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged))
            }
        }
        self.pairs = pairs
        self.symbolOfByte = symbolOfByte
        self.extraSymbolBytes = extraSymbolBytes
    }

    /// Scratch buffers for `merge`, reused across pieces of one call.
    struct Workspace {
        var symbols: [Int32] = []
        var next: [Int32] = []
        var previous: [Int32] = []
        var heap: [Candidate] = []
    }

    struct Candidate {
        /// `(rank << 32) | left position`: the lowest rank merges first, then the leftmost.
        var key: UInt64
        var left: Int32
        var right: Int32
        var merged: Int32
    }

    @inline(__always)
    private func lookup(_ left: Int32, _ right: Int32) -> UInt64? {
        pairs[UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))]
    }

    /// Merges the bytes of one piece and appends the resulting token ids.
    ///
    /// Lowest-rank pair first, leftmost first among equal ranks (llama.cpp's and Hugging Face's order).
    /// A final symbol outside the vocabulary falls back to one token per byte (`unknownID` for a byte
    /// without its own token, dropped when there is none).
    /// - Complexity: O(n log n) in the piece's bytes.
    func merge(
        _ bytes: UnsafeBufferPointer<UInt8>, into output: inout [Int32], unknownID: Int32?, workspace: inout Workspace
    ) {
        let count = bytes.count
        if count == 0 { return }
        if count == 1 {
            emit(symbolOfByte[Int(bytes[0])], into: &output, unknownID: unknownID)
            return
        }
        workspace.symbols.removeAll(keepingCapacity: true)
        workspace.next.removeAll(keepingCapacity: true)
        workspace.previous.removeAll(keepingCapacity: true)
        workspace.heap.removeAll(keepingCapacity: true)
        for index in 0..<count {
            workspace.symbols.append(symbolOfByte[Int(bytes[index])])
            workspace.next.append(index + 1 < count ? Int32(index + 1) : -1)
            workspace.previous.append(Int32(index - 1))
        }
        for index in 0..<(count - 1) {
            push(left: index, workspace: &workspace)
        }
        while let candidate = pop(&workspace.heap) {
            let left = Int(candidate.key & 0xFFFF_FFFF)
            let right = Int(workspace.next[left])
            // Skip candidates made stale by an earlier merge.
            guard right >= 0, workspace.symbols[left] == candidate.left, workspace.symbols[right] == candidate.right
            else { continue }
            workspace.symbols[left] = candidate.merged
            workspace.symbols[right] = -1
            let after = workspace.next[right]
            workspace.next[left] = after
            if after >= 0 { workspace.previous[Int(after)] = Int32(left) }
            let before = workspace.previous[left]
            if before >= 0 { push(left: Int(before), workspace: &workspace) }
            if after >= 0 { push(left: left, workspace: &workspace) }
        }
        var index = 0
        while index >= 0 {
            emit(workspace.symbols[index], into: &output, unknownID: unknownID)
            index = Int(workspace.next[index])
        }
    }

    @inline(__always)
    private func push(left: Int, workspace: inout Workspace) {
        let right = Int(workspace.next[left])
        let leftSymbol = workspace.symbols[left]
        let rightSymbol = workspace.symbols[right]
        guard let value = lookup(leftSymbol, rightSymbol) else { return }
        let candidate = Candidate(
            key: (value & 0xFFFF_FFFF_0000_0000) | UInt64(left), left: leftSymbol, right: rightSymbol,
            merged: Int32(bitPattern: UInt32(truncatingIfNeeded: value)))
        workspace.heap.append(candidate)
        var child = workspace.heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if workspace.heap[parent].key <= candidate.key { break }
            workspace.heap[child] = workspace.heap[parent]
            child = parent
        }
        workspace.heap[child] = candidate
    }

    @inline(__always)
    private func pop(_ heap: inout [Candidate]) -> Candidate? {
        guard let last = heap.popLast() else { return nil }
        if heap.isEmpty { return last }
        let top = heap[0]
        let count = heap.count
        var parent = 0
        while true {
            var child = 2 * parent + 1
            if child >= count { break }
            if child + 1 < count, heap[child + 1].key < heap[child].key { child += 1 }
            if last.key <= heap[child].key { break }
            heap[parent] = heap[child]
            parent = child
        }
        heap[parent] = last
        return top
    }

    @inline(__always)
    private func emit(_ symbol: Int32, into output: inout [Int32], unknownID: Int32?) {
        if Int(symbol) < vocabularySize {
            output.append(symbol)
            return
        }
        for byte in extraSymbolBytes[Int(symbol) - vocabularySize] {
            let single = symbolOfByte[Int(byte)]
            if Int(single) < vocabularySize {
                output.append(single)
            } else if let unknownID {
                output.append(unknownID)
            }
        }
    }
}
