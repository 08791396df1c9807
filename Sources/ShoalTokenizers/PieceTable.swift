/// An open-addressing hash table from token texts (as UTF-8 bytes) to token ids, looked up by a byte range
/// without allocating: the merge loop of `SentencePieceTokenizer` asks it about every adjacent symbol pair.
///
/// A text that occurs more than once in the vocabulary maps to its last id, as in llama.cpp.
struct PieceTable: Sendable {
    /// The text bytes of token `i` are `bytes[Int(offsets[i])..<Int(offsets[i + 1])]`.
    private let bytes: [UInt8]
    private let offsets: [Int]
    /// Token id in each slot, or -1 for an empty slot.
    private let slots: [Int32]
    /// `64 - log2(slots.count)`: the hash's top bits choose the slot.
    private let shift: UInt64

    /// - Parameter pieces: The token texts; the id of a text is its index.
    /// - Complexity: O(total bytes).
    init(pieces: [String]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(pieces.count * 8)
        var offsets: [Int] = [0]
        offsets.reserveCapacity(pieces.count + 1)
        for piece in pieces {
            bytes.append(contentsOf: piece.utf8)
            offsets.append(bytes.count)
        }
        // A byte past the last piece, so that the buffer is never empty (its base address is never nil).
        bytes.append(0)
        var capacity = 16
        var bits: UInt64 = 4
        while capacity < pieces.count * 2 {
            capacity <<= 1
            bits += 1
        }
        let shift = 64 - bits
        var slots = [Int32](repeating: -1, count: capacity)
        bytes.withUnsafeBufferPointer { all in
            let base = all.baseAddress!
            for id in pieces.indices {
                let start = offsets[id]
                let count = offsets[id + 1] - start
                var slot = Int(truncatingIfNeeded: Self.hash(base + start, count) >> shift)
                while true {
                    let existing = Int(slots[slot])
                    if existing < 0 { break }
                    let existingStart = offsets[existing]
                    if offsets[existing + 1] - existingStart == count,
                        Self.equal(base + existingStart, base + start, count)
                    {
                        break
                    }
                    slot = (slot + 1) & (capacity - 1)
                }
                slots[slot] = Int32(id)
            }
        }
        self.bytes = bytes
        self.offsets = offsets
        self.slots = slots
        self.shift = shift
    }

    /// The number of tokens.
    var count: Int { offsets.count - 1 }

    /// The text bytes of token `id` (a valid id).
    func piece(_ id: Int) -> ArraySlice<UInt8> {
        bytes[offsets[id]..<offsets[id + 1]]
    }

    /// The id of the token whose text is the `count` bytes at `start`, or -1.
    @inline(__always)
    func lookup(_ start: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: Self.hash(start, count) >> shift)
        return bytes.withUnsafeBufferPointer { all in
            while true {
                let id = Int(slots[slot])
                if id < 0 { return -1 }
                let pieceStart = offsets[id]
                if offsets[id + 1] - pieceStart == count, Self.equal(all.baseAddress! + pieceStart, start, count) {
                    return Int32(id)
                }
                slot = (slot + 1) & mask
            }
        }
    }

    /// The id of the token with text `text`, or -1.
    func lookup(_ text: String) -> Int32 {
        var text = text
        return text.withUTF8 { utf8 in
            guard let base = utf8.baseAddress else {
                var empty: UInt8 = 0
                return lookup(&empty, 0)
            }
            return lookup(base, utf8.count)
        }
    }

    /// FNV-1a over the bytes, then a multiplicative mix so that the top bits are well spread.
    @inline(__always)
    private static func hash(_ start: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for index in 0..<count {
            hash = (hash ^ UInt64(start[index])) &* 0x0000_0100_0000_01B3
        }
        return (hash ^ (hash >> 31)) &* 0x9E37_79B9_7F4A_7C15
    }

    @inline(__always)
    private static func equal(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        for index in 0..<count where a[index] != b[index] { return false }
        return true
    }
}
