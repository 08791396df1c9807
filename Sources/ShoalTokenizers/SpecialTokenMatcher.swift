/// Finds special tokens written literally in text, the way llama.cpp partitions a prompt:
/// longer tokens claim their occurrences first, each token takes its leftmost non-overlapping
/// occurrences in what is left, and the remaining text is split around the claimed spans.
struct SpecialTokenMatcher: Sendable {
    /// A piece of the input: plain text (a byte range) or one special token.
    enum Fragment: Equatable {
        case text(Range<Int>)
        case token(Int32)
    }

    private struct Entry {
        var id: Int32
        var length: Int
        /// User-defined tokens match even when special tokens are not parsed.
        var alwaysMatches: Bool
    }

    /// Entries in priority order (longest first, then lowest id).
    private let entries: [Entry]
    /// Trie edges: `(node << 8) | byte` → child node. Node 0 is the root.
    private let edges: [Int: Int32]
    /// Entry index ending at each node, or -1.
    private let terminal: [Int32]
    /// Whether any token starts with a byte.
    private let startsToken: [Bool]

    /// Whether there is any token to match.
    var isEmpty: Bool { entries.isEmpty }

    /// - Parameter tokens: `(id, text bytes, alwaysMatches)` of every matchable token; empty texts are ignored.
    init(tokens: [(id: Int32, bytes: [UInt8], alwaysMatches: Bool)]) {
        let sorted = tokens.filter { !$0.bytes.isEmpty }.sorted {
            $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id
        }
        var entries: [Entry] = []
        var edges: [Int: Int32] = [:]
        var terminal: [Int32] = [-1]
        var startsToken = [Bool](repeating: false, count: 256)
        for token in sorted {
            var node = 0
            for byte in token.bytes {
                let key = (node << 8) | Int(byte)
                if let child = edges[key] {
                    node = Int(child)
                } else {
                    let child = terminal.count
                    terminal.append(-1)
                    edges[key] = Int32(child)
                    node = child
                }
            }
            // The same text twice: the first in priority order wins, as in llama.cpp.
            if terminal[node] < 0 {
                terminal[node] = Int32(entries.count)
                entries.append(Entry(id: token.id, length: token.bytes.count, alwaysMatches: token.alwaysMatches))
                startsToken[Int(token.bytes[0])] = true
            }
        }
        self.entries = entries
        self.edges = edges
        self.terminal = terminal
        self.startsToken = startsToken
    }

    /// Splits `bytes` into text ranges and special tokens.
    ///
    /// - Parameters:
    ///   - bytes: UTF-8 text.
    ///   - parseSpecial: Whether control tokens match; user-defined tokens always do.
    /// - Returns: The fragments in order; empty for empty input.
    /// - Complexity: O(n · d) for n bytes and trie depth d, plus the sort of the candidate matches.
    func partition(_ bytes: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Fragment] {
        let count = bytes.count
        if count == 0 { return [] }
        if entries.isEmpty { return [.text(0..<count)] }
        // Every occurrence of every matchable token, as (priority << 32) | start.
        var candidates: [UInt64] = []
        for start in 0..<count where startsToken[Int(bytes[start])] {
            var node = 0
            var index = start
            while index < count, let child = edges[(node << 8) | Int(bytes[index])] {
                node = Int(child)
                index += 1
                let entryIndex = terminal[node]
                if entryIndex >= 0, parseSpecial || entries[Int(entryIndex)].alwaysMatches {
                    candidates.append(UInt64(entryIndex) << 32 | UInt64(start))
                }
            }
        }
        if candidates.isEmpty { return [.text(0..<count)] }
        candidates.sort()
        var claimed = [Bool](repeating: false, count: count)
        var matches: [(start: Int, entry: Int)] = []
        for candidate in candidates {
            let entryIndex = Int(candidate >> 32)
            let start = Int(candidate & 0xFFFF_FFFF)
            let end = start + entries[entryIndex].length
            if claimed[start..<end].contains(true) { continue }
            for index in start..<end { claimed[index] = true }
            matches.append((start, entryIndex))
        }
        matches.sort { $0.start < $1.start }
        var fragments: [Fragment] = []
        fragments.reserveCapacity(matches.count * 2 + 1)
        var position = 0
        for match in matches {
            if position < match.start { fragments.append(.text(position..<match.start)) }
            fragments.append(.token(entries[match.entry].id))
            position = match.start + entries[match.entry].length
        }
        if position < count { fragments.append(.text(position..<count)) }
        return fragments
    }
}
