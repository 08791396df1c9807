/// A context-free grammar over bytes, the form every constraint (GBNF text, JSON Schema, regular expression) is
/// compiled to before it constrains generation.
///
/// Each rule is a list of alternatives; each alternative a sequence of elements, either a set of bytes (one byte
/// of input) or a reference to a rule. Characters are UTF-8: a character class with non-ASCII members becomes a
/// rule whose alternatives are byte sequences. Repetition is rewritten into right-recursive helper rules, which the
/// matcher runs without growing its stack. Left recursion is refused when the grammar is built.
public struct Grammar: Sendable {
    /// One element of an alternative.
    package enum Element: Hashable, Sendable {
        /// One byte from `byteSets[index]`.
        case bytes(Int)
        /// The rule with this index.
        case rule(Int)
        /// The end of an alternative.
        case end
    }

    /// Every alternative's elements, one after the other, each alternative closed by `.end`.
    package let elements: [Element]
    /// Per rule, the positions in `elements` where its alternatives start.
    package let alternatives: [[Int]]
    /// The byte sets `Element.bytes` refers to.
    package let byteSets: [ByteSet]
    /// Rule names, for messages (helper rules are named after the rule they were made for).
    package let ruleNames: [String]
    /// The start rule.
    package let root: Int

    /// Builds a grammar from rules given as alternatives of terms; `root` is an index into `rules`.
    init(rules: [[[Term]]], names: [String], root: Int) throws(GrammarError) {
        var elements: [Element] = []
        var alternatives: [[Int]] = []
        var byteSets: [ByteSet] = []
        var setIndex: [ByteSet: Int] = [:]
        for rule in rules {
            var starts: [Int] = []
            for alternative in rule {
                starts.append(elements.count)
                for term in alternative {
                    switch term {
                    case .bytes(let set):
                        let index: Int
                        if let known = setIndex[set] {
                            index = known
                        } else {
                            index = byteSets.count
                            byteSets.append(set)
                            setIndex[set] = index
                        }
                        elements.append(.bytes(index))
                    case .rule(let r):
                        elements.append(.rule(r))
                    }
                }
                elements.append(.end)
            }
            alternatives.append(starts)
        }
        self.elements = elements
        self.alternatives = alternatives
        self.byteSets = byteSets
        self.ruleNames = names
        self.root = root
        try refuseLeftRecursion()
    }

    /// A term of a rule while it is being built.
    enum Term: Hashable, Sendable {
        case bytes(ByteSet)
        case rule(Int)
    }

    /// Throws when some rule can reach itself without consuming a byte (the matcher would expand it forever).
    private func refuseLeftRecursion() throws(GrammarError) {
        // Nullable rules: those with an alternative of nullable rules only (fixed point).
        var nullable = [Bool](repeating: false, count: alternatives.count)
        var changed = true
        while changed {
            changed = false
            for r in alternatives.indices where !nullable[r] {
                for start in alternatives[r] where nullablePrefixEnds(at: start, nullable) == nil {
                    nullable[r] = true
                    changed = true
                    break
                }
            }
        }
        // Rule r "starts with" rule s when s appears in an alternative of r after nullable elements only.
        var startsWith = [[Int]](repeating: [], count: alternatives.count)
        for r in alternatives.indices {
            for start in alternatives[r] {
                var p = start
                while case .rule(let s) = elements[p] {
                    startsWith[r].append(s)
                    if !nullable[s] { break }
                    p += 1
                }
            }
        }
        // A cycle in that relation is left recursion.
        var state = [UInt8](repeating: 0, count: alternatives.count)  // 0 new, 1 on the path, 2 done
        func visit(_ r: Int, _ path: inout [Int]) throws(GrammarError) {
            state[r] = 1
            path.append(r)
            for s in startsWith[r] {
                if state[s] == 1 {
                    let cycle = path[path.firstIndex(of: s)!...].map { ruleNames[$0] } + [ruleNames[s]]
                    throw GrammarError(.unsupportedGrammar,
                                       "left recursion: \(cycle.joined(separator: " -> ")) can repeat without reading input")
                }
                if state[s] == 0 { try visit(s, &path) }
            }
            path.removeLast()
            state[r] = 2
        }
        for r in alternatives.indices where state[r] == 0 {
            var path: [Int] = []
            try visit(r, &path)
        }
    }

    /// The position of the first element at or after `start` that needs input (a byte set or a non-nullable rule),
    /// or nil when the alternative can end having read nothing.
    private func nullablePrefixEnds(at start: Int, _ nullable: [Bool]) -> Int? {
        var p = start
        while true {
            switch elements[p] {
            case .end: return nil
            case .bytes: return p
            case .rule(let s):
                if !nullable[s] { return p }
                p += 1
            }
        }
    }
}

/// A set of byte values (256 bits).
package struct ByteSet: Hashable, Sendable {
    var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    init() {}

    init(_ byte: UInt8) { insert(byte) }

    init(_ range: ClosedRange<UInt8>) {
        for b in range { insert(b) }
    }

    mutating func insert(_ byte: UInt8) {
        let bit = UInt64(1) << UInt64(byte & 63)
        switch byte >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }

    package func contains(_ byte: UInt8) -> Bool {
        let word: UInt64
        switch byte >> 6 {
        case 0: word = words.0
        case 1: word = words.1
        case 2: word = words.2
        default: word = words.3
        }
        return word >> UInt64(byte & 63) & 1 != 0
    }

    package static func == (a: ByteSet, b: ByteSet) -> Bool { a.words == b.words }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}
