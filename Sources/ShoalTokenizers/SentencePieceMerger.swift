/// The score-driven merge of SentencePiece BPE (llama.cpp's `llm_tokenizer_spm`) over one fragment of text,
/// with scratch buffers that are reused across fragments.
///
/// The text (spaces already replaced by `▁`) starts as one symbol per UTF-8 character. Every adjacent pair
/// whose concatenation is a vocabulary token goes into a priority queue keyed by that token's score; the
/// best pair (highest score, leftmost on ties) is merged and its new neighbour pairs are queued, until no
/// queued pair is left. Each final symbol is emitted as its token, or, when it is a single character
/// without a token, as `<0xXX>` byte tokens.
///
/// llama.cpp's "resegment" step (split a final symbol that is not a token back into the pair that formed
/// it) never fires here: a merged symbol is a token by construction, so only single characters can lack
/// a token, and they go straight to byte fallback.
struct SentencePieceMerger {
    /// The vocabulary the merge consults.
    struct Vocabulary: Sendable {
        /// Token texts (in the vocabulary's own encoding, with `▁` for spaces).
        let pieces: PieceTable
        /// The score of each token; higher merges first.
        let scores: [Float]
        /// Whether a token may be formed by merging (normal and user-defined tokens).
        let mergeable: [Bool]
        /// The `<0xXX>` token of each byte, or -1.
        let byteTokens: [Int32]
        /// Emitted for a byte without a `<0xXX>` token, if there is one.
        let unknownID: Int32?

        /// The id of the mergeable token whose text is `count` bytes at `start`, or -1.
        @inline(__always)
        func mergeableID(_ start: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
            let id = pieces.lookup(start, count)
            return id >= 0 && mergeable[Int(id)] ? id : -1
        }
    }

    private struct Symbol {
        var start: Int32
        var length: Int32
        var previous: Int32
        var next: Int32
    }

    private struct Bigram {
        var score: Float
        var left: Int32
        var right: Int32
        var length: Int32

        /// Whether `self` is merged before `other`: higher score, then the leftmost pair.
        @inline(__always)
        func precedes(_ other: Bigram) -> Bool {
            score > other.score || (score == other.score && left < other.left)
        }
    }

    /// The fragment's bytes, with spaces replaced by `▁`.
    private(set) var text: [UInt8] = []
    private var symbols: [Symbol] = []
    /// A binary max-heap in `Bigram.precedes` order.
    private var queue: [Bigram] = []

    /// Loads a fragment: copies `bytes`, replacing each space (0x20) by `▁` (E2 96 81).
    ///
    /// - Parameters:
    ///   - bytes: UTF-8 text.
    ///   - prefixSpace: Puts a `▁` first (SentencePiece's dummy prefix).
    mutating func load(_ bytes: UnsafeBufferPointer<UInt8>, prefixSpace: Bool) {
        text.removeAll(keepingCapacity: true)
        text.reserveCapacity(bytes.count + 3)
        if prefixSpace { text.append(contentsOf: [0xE2, 0x96, 0x81]) }
        for byte in bytes {
            if byte == 0x20 {
                text.append(contentsOf: [0xE2, 0x96, 0x81])
            } else {
                text.append(byte)
            }
        }
    }

    /// Merges the loaded fragment and appends its token ids to `output`.
    ///
    /// - Complexity: O(n log n) for n characters.
    mutating func tokenize(_ vocabulary: Vocabulary, into output: inout [Int32]) {
        let count = text.count
        if count == 0 { return }
        symbols.removeAll(keepingCapacity: true)
        queue.removeAll(keepingCapacity: true)
        // Split into UTF-8 characters; a stray continuation byte is a character of its own.
        var offset = 0
        while offset < count {
            let lead = text[offset]
            let length: Int
            switch lead {
            case 0xF0...0xFF: length = 4
            case 0xE0...0xEF: length = 3
            case 0xC0...0xDF: length = 2
            default: length = 1
            }
            let clamped = min(length, count - offset)
            let index = Int32(symbols.count)
            symbols.append(Symbol(start: Int32(offset), length: Int32(clamped), previous: index - 1, next: index + 1))
            offset += clamped
        }
        symbols[symbols.count - 1].next = -1

        // A local copy (no bytes are copied) so that the buffer can be read while `self` is mutated.
        let text = self.text
        text.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress!
            for right in 1..<Int32(symbols.count) {
                addBigram(right - 1, right, base, vocabulary)
            }
            while let bigram = popBest() {
                let left = Int(bigram.left)
                let right = Int(bigram.right)
                // A pair queued before one of its symbols changed is stale.
                let leftLength = symbols[left].length
                let rightLength = symbols[right].length
                if leftLength == 0 || rightLength == 0 || leftLength + rightLength != bigram.length { continue }
                symbols[left].length = bigram.length
                symbols[right].length = 0
                let next = symbols[right].next
                symbols[left].next = next
                if next >= 0 { symbols[Int(next)].previous = bigram.left }
                addBigram(symbols[left].previous, bigram.left, base, vocabulary)
                addBigram(bigram.left, next, base, vocabulary)
            }
            var index: Int32 = 0
            while index >= 0 {
                let symbol = symbols[Int(index)]
                let start = base + Int(symbol.start)
                let id = vocabulary.mergeableID(start, Int(symbol.length))
                if id >= 0 {
                    output.append(id)
                } else {
                    for offset in 0..<Int(symbol.length) {
                        let byteToken = vocabulary.byteTokens[Int(start[offset])]
                        if byteToken >= 0 {
                            output.append(byteToken)
                        } else if let unknownID = vocabulary.unknownID {
                            output.append(unknownID)
                        }
                    }
                }
                index = symbol.next
            }
        }
    }

    @inline(__always)
    private mutating func addBigram(
        _ left: Int32, _ right: Int32, _ base: UnsafePointer<UInt8>, _ vocabulary: Vocabulary
    ) {
        if left < 0 || right < 0 { return }
        let leftSymbol = symbols[Int(left)]
        let length = leftSymbol.length + symbols[Int(right)].length
        let id = vocabulary.mergeableID(base + Int(leftSymbol.start), Int(length))
        if id < 0 { return }
        push(Bigram(score: vocabulary.scores[Int(id)], left: left, right: right, length: length))
    }

    private mutating func push(_ bigram: Bigram) {
        var child = queue.count
        queue.append(bigram)
        while child > 0 {
            let parent = (child - 1) / 2
            if !bigram.precedes(queue[parent]) { break }
            queue[child] = queue[parent]
            child = parent
        }
        queue[child] = bigram
    }

    private mutating func popBest() -> Bigram? {
        guard let last = queue.popLast() else { return nil }
        if queue.isEmpty { return last }
        let best = queue[0]
        let count = queue.count
        var parent = 0
        while true {
            var child = 2 * parent + 1
            if child >= count { break }
            if child + 1 < count, queue[child + 1].precedes(queue[child]) { child += 1 }
            if !queue[child].precedes(last) { break }
            queue[parent] = queue[child]
            parent = child
        }
        queue[parent] = last
        return best
    }
}
