extension Grammar {
    /// Parses a grammar in GBNF, llama.cpp's grammar format (llama-server's `grammar` field):
    /// `name ::= alternatives` rules; `"literals"` with escapes (`\n \r \t \" \\ \xHH \uHHHH \UHHHHHHHH`);
    /// classes `[a-z]`, `[^"\\]`; `.` (any character); groups `( )`; `|`; postfix `* + ? {m} {m,} {m,n}`; `#`
    /// comments. A rule may span lines; a new rule starts where a name is followed by `::=`.
    /// - Parameter root: the start rule's name.
    /// - Throws: `GrammarError` (`.invalidGrammar`) naming the line and what was expected, an undefined rule or a
    ///   missing root; `.unsupportedGrammar` for left recursion.
    public init(gbnf: String, root: String = "root") throws(GrammarError) {
        var parser = GBNFParser(Array(gbnf.unicodeScalars))
        try parser.parse()
        guard let rootIndex = parser.builder.index(of: root), parser.builder.defined[rootIndex] else {
            throw GrammarError(.invalidGrammar, "the grammar has no rule named '\(root)'")
        }
        if let missing = parser.builder.defined.firstIndex(of: false) {
            throw GrammarError(.invalidGrammar, "rule '\(parser.builder.names[missing])' is used but never defined")
        }
        try self.init(rules: parser.builder.rules, names: parser.builder.names, root: rootIndex)
    }
}

/// Rules under construction: named rules and the helper rules that repetition and character classes need.
struct GrammarBuilder {
    var rules: [[[Grammar.Term]]] = []
    var names: [String] = []
    var defined: [Bool] = []
    private var indexByName: [String: Int] = [:]
    private var classRules: [[ClosedRange<UInt32>]: Int] = [:]

    func index(of name: String) -> Int? { indexByName[name] }

    /// The rule named `name`, declared (not yet defined) if new.
    mutating func reference(_ name: String) -> Int {
        if let index = indexByName[name] { return index }
        let index = add(name: name, [])
        defined[index] = false
        indexByName[name] = index
        return index
    }

    mutating func define(_ name: String, _ alternatives: [[Grammar.Term]]) -> Bool {
        let index = reference(name)
        if defined[index] { return false }
        rules[index] = alternatives
        defined[index] = true
        return true
    }

    /// A new helper rule.
    mutating func add(name: String, _ alternatives: [[Grammar.Term]]) -> Int {
        rules.append(alternatives)
        names.append(name)
        defined.append(true)
        return rules.count - 1
    }

    /// `x*`: `r ::= x r | ε`.
    mutating func star(_ x: [Grammar.Term], name: String) -> Int {
        let r = add(name: name, [])
        rules[r] = [x + [.rule(r)], []]
        return r
    }

    /// Terms for `x{min,max}` (max nil: unbounded).
    mutating func repeated(_ x: [Grammar.Term], min: Int, max: Int?, name: String) -> [Grammar.Term] {
        var terms: [Grammar.Term] = []
        for _ in 0..<min { terms += x }
        guard let max else { return terms + [.rule(star(x, name: name))] }
        if max > min {
            // opt_k ::= x opt_(k-1) | ε, nested so that at most max - min more copies follow.
            var tail: Int? = nil
            for _ in 0..<(max - min) {
                let r = add(name: name, [])
                rules[r] = [x + (tail.map { [.rule($0)] } ?? []), []]
                tail = r
            }
            terms.append(.rule(tail!))
        }
        return terms
    }

    /// Terms matching one character from `ranges` (code points, sorted, disjoint) in UTF-8.
    mutating func characterClass(_ ranges: [ClosedRange<UInt32>], name: String) -> [Grammar.Term] {
        let sequences = utf8Sequences(ranges)
        if sequences.count == 1 { return sequences[0].map { .bytes($0) } }
        if let known = classRules[ranges] { return [.rule(known)] }
        let r = add(name: name, sequences.map { $0.map { .bytes($0) } })
        classRules[ranges] = r
        return [.rule(r)]
    }
}

/// Code points a class may hold: all of Unicode but the surrogates.
let unicodeScalarRanges: [ClosedRange<UInt32>] = [0...0xD7FF, 0xE000...0x10FFFF]

/// Sorted, merged ranges.
func normalized(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
    var out: [ClosedRange<UInt32>] = []
    for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
        if let last = out.last, r.lowerBound <= last.upperBound &+ 1 {
            out[out.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
        } else {
            out.append(r)
        }
    }
    return out
}

/// The code points (of `unicodeScalarRanges`) not in `ranges`.
func complement(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
    var out: [ClosedRange<UInt32>] = []
    var next: UInt32 = 0
    for r in normalized(ranges) {
        if r.lowerBound > next { out.append(next...(r.lowerBound - 1)) }
        next = r.upperBound &+ 1
        if r.upperBound == 0x10FFFF { next = 0x110000 }
    }
    if next <= 0x10FFFF { out.append(next...0x10FFFF) }
    return intersect(out, unicodeScalarRanges)
}

func intersect(_ a: [ClosedRange<UInt32>], _ b: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
    var out: [ClosedRange<UInt32>] = []
    for x in a {
        for y in b where x.overlaps(y) { out.append(max(x.lowerBound, y.lowerBound)...min(x.upperBound, y.upperBound)) }
    }
    return normalized(out)
}

/// The UTF-8 encodings of the code points in `ranges` as sequences of byte sets: every sequence's bytes are
/// independent ranges, so a sequence matches exactly the encodings of one sub-range. The one-byte sequences are
/// merged into one set.
func utf8Sequences(_ ranges: [ClosedRange<UInt32>]) -> [[ByteSet]] {
    var ascii = ByteSet()
    var hasASCII = false
    var out: [[ByteSet]] = []
    for range in intersect(ranges, unicodeScalarRanges) {
        for (lo, hi) in splitByLength(range.lowerBound, range.upperBound) {
            for (a, b) in splitUniform(lo, hi) {
                let x = encodeUTF8(a), y = encodeUTF8(b)
                if x.count == 1 {
                    for byte in x[0]...y[0] { ascii.insert(byte) }
                    hasASCII = true
                } else {
                    out.append(zip(x, y).map { ByteSet($0...$1) })
                }
            }
        }
    }
    return hasASCII ? [[ascii]] + out : out
}

/// `lo...hi` cut where the UTF-8 length changes.
private func splitByLength(_ lo: UInt32, _ hi: UInt32) -> [(UInt32, UInt32)] {
    var out: [(UInt32, UInt32)] = []
    var start = lo
    for limit: UInt32 in [0x7F, 0x7FF, 0xFFFF, 0x10FFFF] where start <= hi && start <= limit {
        out.append((start, min(hi, limit)))
        start = limit + 1
    }
    return out
}

/// `lo...hi` (same UTF-8 length) cut into ranges whose encodings are products of byte ranges: below the first
/// byte position where the two ends differ, every later position spans its whole continuation range.
private func splitUniform(_ lo: UInt32, _ hi: UInt32) -> [(UInt32, UInt32)] {
    let length = encodeUTF8(lo).count
    for i in 1..<max(length, 1) {
        let mask: UInt32 = (1 << (6 * UInt32(i))) - 1
        if lo & ~mask != hi & ~mask {
            if lo & mask != 0 { return splitUniform(lo, lo | mask) + splitUniform((lo | mask) + 1, hi) }
            if hi & mask != mask { return splitUniform(lo, (hi & ~mask) - 1) + splitUniform(hi & ~mask, hi) }
        }
    }
    return [(lo, hi)]
}

func encodeUTF8(_ c: UInt32) -> [UInt8] {
    switch c {
    case 0..<0x80: return [UInt8(c)]
    case 0x80..<0x800: return [UInt8(0xC0 | c >> 6), UInt8(0x80 | c & 0x3F)]
    case 0x800..<0x10000: return [UInt8(0xE0 | c >> 12), UInt8(0x80 | c >> 6 & 0x3F), UInt8(0x80 | c & 0x3F)]
    default:
        return [UInt8(0xF0 | c >> 18), UInt8(0x80 | c >> 12 & 0x3F), UInt8(0x80 | c >> 6 & 0x3F), UInt8(0x80 | c & 0x3F)]
    }
}

/// Recursive descent over GBNF text.
private struct GBNFParser {
    let text: [Unicode.Scalar]
    var pos = 0
    var builder = GrammarBuilder()
    /// The rule being defined (helper rules are named after it).
    var current = ""

    init(_ text: [Unicode.Scalar]) { self.text = text }

    var atEnd: Bool { pos >= text.count }
    var peek: Unicode.Scalar? { pos < text.count ? text[pos] : nil }

    func line(_ at: Int) -> Int { text[..<min(at, text.count)].reduce(1) { $0 + ($1 == "\n" ? 1 : 0) } }

    func fail(_ message: String) -> GrammarError {
        GrammarError(.invalidGrammar, "grammar line \(line(pos)): \(message)")
    }

    mutating func skipSpace() {
        while let c = peek {
            if c == " " || c == "\t" || c == "\n" || c == "\r" {
                pos += 1
            } else if c == "#" {
                while let d = peek, d != "\n" { pos += 1 }
            } else {
                break
            }
        }
    }

    static func isNameCharacter(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_"
    }

    mutating func name() -> String? {
        let start = pos
        while let c = peek, Self.isNameCharacter(c) { pos += 1 }
        return pos > start ? String(String.UnicodeScalarView(text[start..<pos])) : nil
    }

    /// Whether a rule definition (`name ::=`) starts at the current position.
    func atRuleStart() -> Bool {
        var p = pos
        while p < text.count, Self.isNameCharacter(text[p]) { p += 1 }
        guard p > pos else { return false }
        while p < text.count, text[p] == " " || text[p] == "\t" { p += 1 }
        return p + 2 < text.count && text[p] == ":" && text[p + 1] == ":" && text[p + 2] == "="
    }

    mutating func parse() throws(GrammarError) {
        skipSpace()
        while !atEnd {
            guard let ruleName = name() else { throw fail("expected a rule name, found '\(peek!)'") }
            skipSpace()
            guard pos + 2 < text.count, text[pos] == ":", text[pos + 1] == ":", text[pos + 2] == "=" else {
                throw fail("expected '::=' after '\(ruleName)'")
            }
            pos += 3
            current = ruleName
            let alternatives = try parseAlternatives(nested: false)
            if !builder.define(ruleName, alternatives) { throw fail("rule '\(ruleName)' is defined twice") }
            skipSpace()
        }
    }

    mutating func parseAlternatives(nested: Bool) throws(GrammarError) -> [[Grammar.Term]] {
        var alternatives = [try parseSequence(nested: nested)]
        while peek == "|" {
            pos += 1
            alternatives.append(try parseSequence(nested: nested))
        }
        return alternatives
    }

    mutating func parseSequence(nested: Bool) throws(GrammarError) -> [Grammar.Term] {
        var sequence: [Grammar.Term] = []
        while true {
            skipSpace()
            guard let c = peek else { break }
            if c == "|" || c == ")" { break }
            if !nested && atRuleStart() { break }
            var item = try parseItem()
            // Postfix operators.
            while let op = peek, op == "*" || op == "+" || op == "?" || op == "{" {
                pos += 1
                let helper = "\(current)-repeat"
                switch op {
                case "*": item = [.rule(builder.star(item, name: helper))]
                case "+": item = item + [.rule(builder.star(item, name: helper))]
                case "?": item = builder.repeated(item, min: 0, max: 1, name: helper)
                default:
                    let (min, max) = try parseBounds()
                    item = builder.repeated(item, min: min, max: max, name: helper)
                }
            }
            sequence += item
        }
        return sequence
    }

    /// `{m}`, `{m,}` or `{m,n}` after the `{`.
    mutating func parseBounds() throws(GrammarError) -> (Int, Int?) {
        func number() -> Int? {
            let start = pos
            while let c = peek, c >= "0" && c <= "9" { pos += 1 }
            return pos > start ? Int(String(String.UnicodeScalarView(text[start..<pos]))) : nil
        }
        skipSpace()
        guard let min = number() else { throw fail("expected a number after '{'") }
        skipSpace()
        var max: Int? = min
        if peek == "," {
            pos += 1
            skipSpace()
            max = number()
            skipSpace()
        }
        guard peek == "}" else { throw fail("expected '}' to close a repetition") }
        pos += 1
        if let max, max < min { throw fail("repetition {\(min),\(max)} has its maximum below its minimum") }
        if (max ?? min) > 10_000 { throw fail("repetition counts above 10000 are not supported") }
        return (min, max)
    }

    mutating func parseItem() throws(GrammarError) -> [Grammar.Term] {
        guard let c = peek else { throw fail("unexpected end of grammar") }
        switch c {
        case "\"":
            pos += 1
            var bytes: [Grammar.Term] = []
            while true {
                guard let d = peek else { throw fail("unterminated string literal") }
                if d == "\"" { pos += 1; break }
                let scalar = try parseCharacter()
                bytes += encodeUTF8(scalar).map { .bytes(ByteSet($0)) }
            }
            return bytes
        case "[":
            pos += 1
            var negated = false
            if peek == "^" { negated = true; pos += 1 }
            var ranges: [ClosedRange<UInt32>] = []
            while true {
                guard let d = peek else { throw fail("unterminated character class") }
                if d == "]" { pos += 1; break }
                let lo = try parseCharacter()
                if peek == "-", pos + 1 < text.count, text[pos + 1] != "]" {
                    pos += 1
                    let hi = try parseCharacter()
                    guard hi >= lo else { throw fail("character range is backwards") }
                    ranges.append(lo...hi)
                } else {
                    ranges.append(lo...lo)
                }
            }
            let set = negated ? complement(ranges) : normalized(ranges)
            if set.isEmpty { throw fail("character class matches nothing") }
            return builder.characterClass(set, name: "\(current)-char")
        case ".":
            pos += 1
            return builder.characterClass(unicodeScalarRanges, name: "\(current)-char")
        case "(":
            pos += 1
            let alternatives = try parseAlternatives(nested: true)
            skipSpace()
            guard peek == ")" else { throw fail("expected ')'") }
            pos += 1
            if alternatives.count == 1 { return alternatives[0] }
            return [.rule(builder.add(name: "\(current)-group", alternatives))]
        default:
            guard let ruleName = name() else { throw fail("unexpected character '\(c)'") }
            return [.rule(builder.reference(ruleName))]
        }
    }

    /// One character of a literal or class, escapes decoded.
    mutating func parseCharacter() throws(GrammarError) -> UInt32 {
        guard let c = peek else { throw fail("unexpected end of grammar") }
        pos += 1
        guard c == "\\" else { return c.value }
        guard let e = peek else { throw fail("unterminated escape") }
        pos += 1
        func hex(_ digits: Int) throws(GrammarError) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<digits {
                guard let h = peek, let digit = UInt32(String(h), radix: 16) else { throw fail("expected \(digits) hex digits") }
                value = value * 16 + digit
                pos += 1
            }
            return value
        }
        switch e {
        case "n": return 0x0A
        case "r": return 0x0D
        case "t": return 0x09
        case "x": return try hex(2)
        case "u": return try hex(4)
        case "U": return try hex(8)
        case "\\", "\"", "[", "]", "-", "^", "/": return e.value
        default: throw fail("unknown escape '\\\(e)'")
        }
    }
}
