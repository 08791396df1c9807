/// Compiles regular expressions (the ECMA-262 subset JSON Schema's `pattern` uses) into GBNF grammars.
///
/// Supported: literal characters; `.` (any character except `\n`); escapes `\d \w \s \D \W \S`, `\n \t \r \f \v \0`,
/// `\xHH`, `\uHHHH`, `\u{H…}` and any escaped non-alphanumeric character (`\. \\ \( \[ \{ \| \* \+ \? \^ \$ \/ \-` …);
/// character classes `[...]` with ranges, negation (`[^...]`) and the escapes above inside (`\b` is a backspace there);
/// groups `(...)`, non-capturing `(?:...)` and named `(?<name>...)` (grouping only); alternation `|`; quantifiers
/// `* + ? {m} {m,} {m,n}`, each optionally lazy (`*?` …), which matches the same strings. A `{` that does not start a
/// quantifier is a literal, as in ECMA-262. `\s` is ECMA-262's set (ASCII whitespace, NBSP, the Unicode spaces, BOM).
///
/// Not supported, thrown as ``GrammarError/Code/invalidRegex`` naming the construct: backreferences (`\1`, `\k<name>`),
/// lookahead and lookbehind (`(?=`, `(?!`, `(?<=`, `(?<!`), word boundaries (`\b`, `\B`), Unicode property escapes
/// (`\p{…}`), inline flags (`(?i)`), possessive quantifiers, anchors anywhere but at the start or end of a
/// top-level alternative, and repetition counts above ``maximumRepetitionCount``.
///
/// Matching is over Unicode scalar values (code points), case-sensitive.
public enum RegexGrammar {
    /// The largest `m` or `n` accepted in `{m}`, `{m,}` and `{m,n}`.
    public static let maximumRepetitionCount = 1000

    /// A complete GBNF grammar whose `root` rule matches exactly the strings that fully match `pattern`.
    ///
    /// The pattern is implicitly anchored at both ends; a leading `^` and a trailing `$` (per top-level alternative)
    /// are accepted and change nothing.
    ///
    /// - Parameter pattern: A regular expression in the subset described on ``RegexGrammar``.
    /// - Returns: GBNF text with a `root` rule.
    /// - Throws: ``GrammarError`` with code `.invalidRegex` naming the construct and its offset in the pattern.
    public static func gbnf(pattern: String) throws(GrammarError) -> String {
        let branches = try parseAnchoredBranches(pattern)
        let node = RegexNode.alternation(branches.map(\.node))
        var renderer = RegexRenderer(mode: .raw)
        let body = renderer.render(node)
        return "root ::= \(body.text.isEmpty ? "\"\"" : body.text)\n"
    }

    /// The GBNF expression for the *inside* of a JSON string (between the quotes) whose decoded value matches
    /// `pattern` with JSON Schema's unanchored (search) semantics.
    ///
    /// A top-level alternative without a leading `^` may be preceded by any characters, one without a trailing `$`
    /// followed by any; those are spelled with `anyCharacterRule` (a rule matching one JSON string character, escapes
    /// included). Characters the pattern matches are spelled as JSON must write them: `"` as `\"`, `\` as `\\`,
    /// control characters as `\n \t \r \b \f` or `\u00XX`; other characters are written raw (an escape such as
    /// `\u0041` for `A` is not accepted, which only narrows what a model may write).
    ///
    /// - Throws: ``GrammarError`` with code `.invalidRegex`.
    package static func jsonStringContent(pattern: String, anyCharacterRule: String) throws(GrammarError) -> String {
        let branches = try parseAnchoredBranches(pattern)
        var renderer = RegexRenderer(mode: .jsonString)
        var alternatives: [String] = []
        var anyEmpty = false
        for branch in branches {
            var parts: [String] = []
            if !branch.anchoredStart { parts.append("\(anyCharacterRule)*") }
            let body = renderer.render(branch.node)
            if !body.text.isEmpty { parts.append(body.atomicText) }
            if !branch.anchoredEnd { parts.append("\(anyCharacterRule)*") }
            if parts.isEmpty {
                anyEmpty = true
            } else {
                alternatives.append(parts.joined(separator: " "))
            }
        }
        if alternatives.isEmpty { return "" }
        let joined = alternatives.joined(separator: " | ")
        if anyEmpty { return "(\(joined))?" }
        return alternatives.count == 1 ? joined : "(\(joined))"
    }

    struct Branch {
        var node: RegexNode
        var anchoredStart: Bool
        var anchoredEnd: Bool
    }

    /// Parses `pattern` and splits its top-level alternation, stripping the anchors at each alternative's ends.
    static func parseAnchoredBranches(_ pattern: String) throws(GrammarError) -> [Branch] {
        var parser = RegexParser(pattern)
        let node = try parser.parse()
        let alternatives: [RegexNode]
        if case .alternation(let items) = node { alternatives = items } else { alternatives = [node] }
        var branches: [Branch] = []
        for alternative in alternatives {
            var items: [RegexNode]
            if case .sequence(let parts) = alternative { items = parts } else { items = [alternative] }
            var anchoredStart = false
            var anchoredEnd = false
            while let first = items.first, case .startAnchor = first {
                anchoredStart = true
                items.removeFirst()
            }
            while let last = items.last, case .endAnchor = last {
                anchoredEnd = true
                items.removeLast()
            }
            let stripped = RegexNode.sequence(items)
            if stripped.containsAnchor {
                throw GrammarError(.invalidRegex, "anchor '^' or '$' inside the regular expression '\(pattern)' is not supported (only at the start or end of a top-level alternative)")
            }
            branches.append(Branch(node: stripped, anchoredStart: anchoredStart, anchoredEnd: anchoredEnd))
        }
        return branches
    }
}

extension RegexGrammar {
    // MARK: - Character sets

    /// A set of Unicode scalar values as sorted, disjoint, non-adjacent closed ranges.
    struct ScalarSet: Equatable {
        private(set) var ranges: [ClosedRange<UInt32>]

        init(_ ranges: [ClosedRange<UInt32>] = []) {
            self.ranges = []
            for range in ranges { insert(range) }
        }

        static func single(_ value: UInt32) -> ScalarSet { ScalarSet([value...value]) }

        /// All scalar values (surrogate code points excluded, as no string contains them).
        static let universe = ScalarSet([0...0xD7FF, 0xE000...0x10FFFF])
        static let digits = ScalarSet([0x30...0x39])
        static let word = ScalarSet([0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A])
        static let whitespace = ScalarSet([
            0x09...0x0D, 0x20...0x20, 0xA0...0xA0, 0x1680...0x1680, 0x2000...0x200A, 0x2028...0x2029,
            0x202F...0x202F, 0x205F...0x205F, 0x3000...0x3000, 0xFEFF...0xFEFF,
        ])
        /// `.`: everything but a line feed.
        static let dot = ScalarSet.universe.subtracting(.single(0x0A))
        /// Characters a JSON string may contain unescaped.
        static let jsonUnescaped = ScalarSet([0x20...0x21, 0x23...0x5B, 0x5D...0xD7FF, 0xE000...0x10FFFF])

        var isEmpty: Bool { ranges.isEmpty }

        var singleValue: UInt32? {
            if ranges.count == 1, ranges[0].lowerBound == ranges[0].upperBound { return ranges[0].lowerBound }
            return nil
        }

        mutating func insert(_ range: ClosedRange<UInt32>) {
            var lower = range.lowerBound
            var upper = range.upperBound
            var result: [ClosedRange<UInt32>] = []
            var placed = false
            for existing in ranges {
                if existing.upperBound &+ 1 < lower {
                    result.append(existing)
                } else if upper &+ 1 < existing.lowerBound {
                    if !placed {
                        result.append(lower...upper)
                        placed = true
                    }
                    result.append(existing)
                } else {
                    lower = min(lower, existing.lowerBound)
                    upper = max(upper, existing.upperBound)
                }
            }
            if !placed { result.append(lower...upper) }
            ranges = result
        }

        func union(_ other: ScalarSet) -> ScalarSet {
            var result = self
            for range in other.ranges { result.insert(range) }
            return result
        }

        func complement() -> ScalarSet { ScalarSet.universe.subtracting(self) }

        func subtracting(_ other: ScalarSet) -> ScalarSet {
            var result: [ClosedRange<UInt32>] = []
            for range in ranges {
                var pieces = [range]
                for cut in other.ranges {
                    pieces = pieces.flatMap { piece -> [ClosedRange<UInt32>] in
                        if cut.upperBound < piece.lowerBound || cut.lowerBound > piece.upperBound { return [piece] }
                        var kept: [ClosedRange<UInt32>] = []
                        if cut.lowerBound > piece.lowerBound { kept.append(piece.lowerBound...(cut.lowerBound - 1)) }
                        if cut.upperBound < piece.upperBound { kept.append((cut.upperBound + 1)...piece.upperBound) }
                        return kept
                    }
                }
                result.append(contentsOf: pieces)
            }
            return ScalarSet(result)
        }

        func intersection(_ other: ScalarSet) -> ScalarSet { subtracting(other.complement()) }

        var scalarCount: Int { ranges.reduce(0) { $0 + Int($1.upperBound - $1.lowerBound) + 1 } }

        var scalars: [UInt32] { ranges.flatMap { Array($0) } }
    }

    // MARK: - GBNF spelling

    /// Spells literals and character classes in the GBNF dialect (ASCII-only output).
    enum GBNFSpelling {
        /// A quoted GBNF string literal for `text`.
        static func literal(_ text: String) -> String {
            literal(scalars: text.unicodeScalars.map(\.value))
        }

        static func literal(scalars: [UInt32]) -> String {
            var out = "\""
            for value in scalars {
                switch value {
                case 0x22: out += "\\\""
                case 0x5C: out += "\\\\"
                case 0x0A: out += "\\n"
                case 0x0D: out += "\\r"
                case 0x09: out += "\\t"
                default: out += escapedIfNeeded(value, rawAllowed: value >= 0x20 && value < 0x7F)
                }
            }
            return out + "\""
        }

        /// A GBNF character class (`[...]` or `[^...]`, whichever is shorter) matching exactly `set`, or `.` for all.
        static func characterClass(_ set: ScalarSet) -> String {
            if set == .universe { return "." }
            let complement = set.complement()
            if complement.ranges.count < set.ranges.count {
                return "[^" + classItems(complement) + "]"
            }
            return "[" + classItems(set) + "]"
        }

        private static func classItems(_ set: ScalarSet) -> String {
            var out = ""
            for range in set.ranges {
                out += classCharacter(range.lowerBound)
                if range.upperBound > range.lowerBound {
                    if range.upperBound > range.lowerBound + 1 { out += "-" }
                    out += classCharacter(range.upperBound)
                }
            }
            return out
        }

        private static func classCharacter(_ value: UInt32) -> String {
            switch value {
            case 0x0A: return "\\n"
            case 0x0D: return "\\r"
            case 0x09: return "\\t"
            default:
                let safe = (0x30...0x39).contains(value) || (0x41...0x5A).contains(value) || (0x61...0x7A).contains(value)
                    || " !#$%&'()*+,./:;<=>?@_`{|}~".unicodeScalars.contains { $0.value == value }
                return escapedIfNeeded(value, rawAllowed: safe)
            }
        }

        private static func escapedIfNeeded(_ value: UInt32, rawAllowed: Bool) -> String {
            if rawAllowed, let scalar = Unicode.Scalar(value) { return String(Character(scalar)) }
            if value <= 0xFF { return "\\x" + hex(value, width: 2) }
            if value <= 0xFFFF { return "\\u" + hex(value, width: 4) }
            return "\\U" + hex(value, width: 8)
        }

        static func hex(_ value: UInt32, width: Int) -> String {
            let digits = String(value, radix: 16, uppercase: true)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
    }

    // MARK: - Syntax tree

    indirect enum RegexNode {
        case empty
        case characters(ScalarSet)
        case sequence([RegexNode])
        case alternation([RegexNode])
        /// `max == nil` is unbounded.
        case repetition(RegexNode, min: Int, max: Int?)
        case startAnchor
        case endAnchor

        var isNullable: Bool {
            switch self {
            case .empty, .startAnchor, .endAnchor: return true
            case .characters: return false
            case .sequence(let items): return items.allSatisfy(\.isNullable)
            case .alternation(let items): return items.contains(where: \.isNullable)
            case .repetition(let item, let min, _): return min == 0 || item.isNullable
            }
        }

        var containsAnchor: Bool {
            switch self {
            case .startAnchor, .endAnchor: return true
            case .empty, .characters: return false
            case .sequence(let items), .alternation(let items): return items.contains(where: \.containsAnchor)
            case .repetition(let item, _, _): return item.containsAnchor
            }
        }

        /// The same language without the empty string, or nil if nothing is left. Used so that no repeated
        /// sub-expression can match the empty string (a nullable body under `*` is left recursion to a GBNF matcher).
        var withoutEmpty: RegexNode? {
            switch self {
            case .empty, .startAnchor, .endAnchor: return nil
            case .characters: return self
            case .sequence(let items):
                if !isNullable { return self }
                var branches: [RegexNode] = []
                for index in items.indices {
                    guard let head = items[index].withoutEmpty else { continue }
                    branches.append(.sequence([head] + items[(index + 1)...]))
                }
                return branches.isEmpty ? nil : .alternation(branches)
            case .alternation(let items):
                let branches = items.compactMap(\.withoutEmpty)
                return branches.isEmpty ? nil : .alternation(branches)
            case .repetition(let item, let min, let max):
                if max == 0 { return nil }
                if item.isNullable {
                    guard let body = item.withoutEmpty else { return nil }
                    return .repetition(body, min: 1, max: max)
                }
                return .repetition(item, min: Swift.max(min, 1), max: max)
            }
        }
    }

    // MARK: - Parser

    struct RegexParser {
        private let pattern: String
        private let scalars: [Unicode.Scalar]
        private var position = 0

        init(_ pattern: String) {
            self.pattern = pattern
            self.scalars = Array(pattern.unicodeScalars)
        }

        mutating func parse() throws(GrammarError) -> RegexNode {
            let node = try parseAlternation()
            if position < scalars.count {
                throw error("unmatched ')'", at: position)
            }
            return node
        }

        private func error(_ what: String, at offset: Int) -> GrammarError {
            GrammarError(.invalidRegex, "\(what) at offset \(offset) in regular expression '\(pattern)'")
        }

        private var current: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

        private func peek(_ offset: Int) -> Unicode.Scalar? {
            position + offset < scalars.count ? scalars[position + offset] : nil
        }

        private mutating func parseAlternation() throws(GrammarError) -> RegexNode {
            var branches = [try parseSequence()]
            while current == "|" {
                position += 1
                branches.append(try parseSequence())
            }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }

        private mutating func parseSequence() throws(GrammarError) -> RegexNode {
            var items: [RegexNode] = []
            while let scalar = current, scalar != "|", scalar != ")" {
                let start = position
                let atom = try parseAtom()
                items.append(try parseQuantifiers(atom, atomStart: start))
            }
            return items.count == 1 ? items[0] : .sequence(items)
        }

        private mutating func parseQuantifiers(_ atom: RegexNode, atomStart: Int) throws(GrammarError) -> RegexNode {
            var node = atom
            var quantified = false
            while let scalar = current {
                let bounds: (Int, Int?)
                let quantifierStart = position
                switch scalar {
                case "*": bounds = (0, nil); position += 1
                case "+": bounds = (1, nil); position += 1
                case "?": bounds = (0, 1); position += 1
                case "{":
                    guard let counted = try parseCountedQuantifier() else { return node }
                    bounds = counted
                default: return node
                }
                if quantified {
                    throw error("quantifier after a quantifier (possessive quantifiers are not supported)", at: quantifierStart)
                }
                switch atom {
                case .startAnchor, .endAnchor: throw error("quantifier on an anchor", at: quantifierStart)
                default: break
                }
                if current == "?" { position += 1 }  // Lazy: matches the same strings.
                node = .repetition(node, min: bounds.0, max: bounds.1)
                quantified = true
            }
            return node
        }

        /// Parses `{m}`, `{m,}` or `{m,n}` at the current `{`; returns nil (consuming nothing) if it is a literal brace.
        private mutating func parseCountedQuantifier() throws(GrammarError) -> (Int, Int?)? {
            let start = position
            var cursor = position + 1
            func number(_ cursor: inout Int) -> Int?? {
                var digits = ""
                while cursor < scalars.count, ("0"..."9").contains(scalars[cursor]) {
                    digits.unicodeScalars.append(scalars[cursor])
                    cursor += 1
                }
                if digits.isEmpty { return .some(nil) }
                guard let value = Int(digits), value <= RegexGrammar.maximumRepetitionCount else { return nil }
                return .some(value)
            }
            guard let lowerResult = number(&cursor) else {
                throw error("repetition count above \(RegexGrammar.maximumRepetitionCount)", at: start)
            }
            guard let lower = lowerResult else { return nil }
            var upper: Int? = lower
            if cursor < scalars.count, scalars[cursor] == "," {
                cursor += 1
                guard let upperResult = number(&cursor) else {
                    throw error("repetition count above \(RegexGrammar.maximumRepetitionCount)", at: start)
                }
                upper = upperResult
            }
            guard cursor < scalars.count, scalars[cursor] == "}" else { return nil }
            if let upper, upper < lower {
                throw error("repetition {\(lower),\(upper)} with maximum below minimum", at: start)
            }
            position = cursor + 1
            return (lower, upper)
        }

        private mutating func parseAtom() throws(GrammarError) -> RegexNode {
            let start = position
            let scalar = scalars[position]
            position += 1
            switch scalar {
            case ".": return .characters(.dot)
            case "^": return .startAnchor
            case "$": return .endAnchor
            case "*", "+", "?": throw error("nothing to repeat before '\(scalar)'", at: start)
            case "{":
                position = start
                if (try parseCountedQuantifier()) != nil { throw error("nothing to repeat before '{'", at: start) }
                position = start + 1
                return .characters(.single(scalar.value))
            case "[": return .characters(try parseClass(start: start))
            case "(":
                if current == "?" {
                    switch peek(1) {
                    case ":": position += 2
                    case "=": throw error("lookahead '(?=' is not supported", at: start)
                    case "!": throw error("negative lookahead '(?!' is not supported", at: start)
                    case "<" where peek(2) == "=": throw error("lookbehind '(?<=' is not supported", at: start)
                    case "<" where peek(2) == "!": throw error("negative lookbehind '(?<!' is not supported", at: start)
                    case "<", "P":
                        // Named group: grouping only.
                        if peek(1) == "P" {
                            guard peek(2) == "<" else { throw error("unsupported group '(?P'", at: start) }
                            position += 1
                        }
                        position += 2
                        while let c = current, c != ">" {
                            guard c == "_" || ScalarSet.word.ranges.contains(where: { $0.contains(c.value) }) else {
                                throw error("invalid group name", at: position)
                            }
                            position += 1
                        }
                        guard current == ">" else { throw error("unterminated group name", at: start) }
                        position += 1
                    default:
                        throw error("inline flags or unknown group '(?' are not supported", at: start)
                    }
                }
                let inner = try parseAlternation()
                guard current == ")" else { throw error("unterminated group '('", at: start) }
                position += 1
                return inner
            case ")": throw error("unmatched ')'", at: start)
            case "\\": return try parseEscape(start: start, inClass: false)
            default: return .characters(.single(scalar.value))
            }
        }

        /// Parses the escape whose backslash is at `start` (already consumed).
        private mutating func parseEscape(start: Int, inClass: Bool) throws(GrammarError) -> RegexNode {
            guard let scalar = current else { throw error("trailing backslash", at: start) }
            position += 1
            switch scalar {
            case "d": return .characters(.digits)
            case "D": return .characters(ScalarSet.digits.complement())
            case "w": return .characters(.word)
            case "W": return .characters(ScalarSet.word.complement())
            case "s": return .characters(.whitespace)
            case "S": return .characters(ScalarSet.whitespace.complement())
            case "n": return .characters(.single(0x0A))
            case "t": return .characters(.single(0x09))
            case "r": return .characters(.single(0x0D))
            case "f": return .characters(.single(0x0C))
            case "v": return .characters(.single(0x0B))
            case "b":
                if inClass { return .characters(.single(0x08)) }
                throw error("word boundary '\\b' is not supported", at: start)
            case "B": throw error("word boundary '\\B' is not supported", at: start)
            case "0":
                if let next = current, ("0"..."9").contains(next) {
                    throw error("octal escape or backreference '\\0\(next)' is not supported", at: start)
                }
                return .characters(.single(0))
            case "1"..."9": throw error("backreference '\\\(scalar)' is not supported", at: start)
            case "k": throw error("named backreference '\\k' is not supported", at: start)
            case "p", "P": throw error("Unicode property escape '\\\(scalar)' is not supported", at: start)
            case "c": throw error("control escape '\\c' is not supported", at: start)
            case "x":
                guard let value = hexDigits(count: 2) else { throw error("malformed escape '\\x'", at: start) }
                return .characters(.single(value))
            case "u":
                if current == "{" {
                    position += 1
                    var digits = ""
                    while let c = current, c != "}" {
                        digits.unicodeScalars.append(c)
                        position += 1
                    }
                    guard current == "}", let value = UInt32(digits, radix: 16), Unicode.Scalar(value) != nil else {
                        throw error("malformed escape '\\u{'", at: start)
                    }
                    position += 1
                    return .characters(.single(value))
                }
                guard let value = hexDigits(count: 4), Unicode.Scalar(value) != nil else {
                    throw error("malformed or surrogate escape '\\u'", at: start)
                }
                return .characters(.single(value))
            default:
                if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                    throw error("unknown escape '\\\(scalar)'", at: start)
                }
                return .characters(.single(scalar.value))
            }
        }

        private mutating func hexDigits(count: Int) -> UInt32? {
            guard position + count <= scalars.count else { return nil }
            var text = ""
            for offset in 0..<count { text.unicodeScalars.append(scalars[position + offset]) }
            guard text.allSatisfy(\.isHexDigit), let value = UInt32(text, radix: 16) else { return nil }
            position += count
            return value
        }

        /// Parses a class whose `[` is at `start` (already consumed).
        private mutating func parseClass(start: Int) throws(GrammarError) -> ScalarSet {
            var negated = false
            if current == "^" {
                negated = true
                position += 1
            }
            var set = ScalarSet()
            while true {
                guard let scalar = current else { throw error("unterminated character class '['", at: start) }
                if scalar == "]" {
                    position += 1
                    break
                }
                let itemStart = position
                let low = try parseClassAtom()
                if current == "-", let next = peek(1), next != "]" {
                    position += 1
                    let rangeEndStart = position
                    let high = try parseClassAtom()
                    guard let lowValue = low.singleValue, let highValue = high.singleValue else {
                        throw error("range with a class escape in a character class", at: itemStart)
                    }
                    guard lowValue <= highValue else {
                        throw error("range out of order in character class", at: rangeEndStart)
                    }
                    set.insert(lowValue...highValue)
                } else {
                    set = set.union(low)
                }
            }
            let result = negated ? set.complement() : set
            if result.isEmpty { throw error("character class that matches nothing", at: start) }
            return result
        }

        private mutating func parseClassAtom() throws(GrammarError) -> ScalarSet {
            let start = position
            let scalar = scalars[position]
            position += 1
            if scalar == "\\" {
                guard case .characters(let set) = try parseEscape(start: start, inClass: true) else {
                    throw error("unsupported escape in character class", at: start)
                }
                return set
            }
            return .single(scalar.value)
        }
    }

    // MARK: - Rendering

    /// Renders a syntax tree as a GBNF expression.
    struct RegexRenderer {
        enum Mode {
            /// Characters as themselves.
            case raw
            /// Characters as a JSON string spells them (the inside of a JSON string literal).
            case jsonString
        }

        struct Expression {
            var text: String
            /// Whether a postfix operator can be applied without parentheses.
            var isAtomic: Bool
            /// A single character spelled as one literal character (mergeable into a literal string).
            var literalScalars: [UInt32]?
            /// Ends in a postfix operator (`*`, `+`, `?`, `{m,n}`).
            var hasPostfix = false

            var atomicText: String { isAtomic ? text : "(\(text))" }
        }

        let mode: Mode

        mutating func render(_ node: RegexNode) -> Expression {
            switch node {
            case .empty, .startAnchor, .endAnchor:
                return Expression(text: "", isAtomic: true)
            case .characters(let set):
                return renderSet(set)
            case .sequence(let items):
                var parts: [String] = []
                var pendingLiteral: [UInt32] = []
                var count = 0
                func flush() {
                    if !pendingLiteral.isEmpty {
                        parts.append(GBNFSpelling.literal(scalars: pendingLiteral))
                        pendingLiteral = []
                    }
                }
                for item in items {
                    let expression = render(item)
                    if expression.text.isEmpty { continue }
                    count += 1
                    if let scalars = expression.literalScalars {
                        pendingLiteral += scalars
                    } else {
                        flush()
                        parts.append(expression.isAtomic ? expression.text : "(\(expression.text))")
                    }
                }
                flush()
                if parts.isEmpty { return Expression(text: "", isAtomic: true) }
                if parts.count == 1 {
                    return Expression(text: parts[0], isAtomic: true, literalScalars: nil)
                }
                return Expression(text: parts.joined(separator: " "), isAtomic: false)
            case .alternation(let items):
                var expressions: [Expression] = []
                var hasEmpty = false
                for item in items {
                    let expression = render(item)
                    if expression.text.isEmpty { hasEmpty = true } else { expressions.append(expression) }
                }
                if expressions.isEmpty { return Expression(text: "", isAtomic: true) }
                let texts = expressions.map(\.text)
                if hasEmpty {
                    return Expression(text: "(\(texts.joined(separator: " | ")))?", isAtomic: true, hasPostfix: true)
                }
                if expressions.count == 1 { return expressions[0] }
                return Expression(text: texts.joined(separator: " | "), isAtomic: false)
            case .repetition(let item, let minimum, let maximum):
                var body = item
                var lower = minimum
                if item.isNullable {
                    guard let nonEmpty = item.withoutEmpty else { return Expression(text: "", isAtomic: true) }
                    body = nonEmpty
                    lower = 0
                }
                if maximum == 0 { return Expression(text: "", isAtomic: true) }
                let inner = render(body)
                // A postfix operator never follows another one: `(x+)*`, not `x+*`.
                let operand = inner.isAtomic && !inner.hasPostfix ? inner.text : "(\(inner.text))"
                let suffix: String
                switch (lower, maximum) {
                case (0, 1): suffix = "?"
                case (0, nil): suffix = "*"
                case (1, nil): suffix = "+"
                case (1, 1): return inner
                case (let low, nil): suffix = "{\(low),}"
                case (let low, let high?) where low == high: suffix = "{\(low)}"
                case (let low, let high?): suffix = "{\(low),\(high)}"
                }
                return Expression(text: operand + suffix, isAtomic: true, hasPostfix: true)
            }
        }

        private func renderSet(_ set: ScalarSet) -> Expression {
            switch mode {
            case .raw:
                if let value = set.singleValue {
                    return Expression(text: GBNFSpelling.literal(scalars: [value]), isAtomic: true, literalScalars: [value])
                }
                return Expression(text: GBNFSpelling.characterClass(set), isAtomic: true)
            case .jsonString:
                var alternatives: [String] = []
                let plain = set.intersection(.jsonUnescaped)
                if let value = plain.singleValue, plain.scalarCount == set.scalarCount {
                    return Expression(text: GBNFSpelling.literal(scalars: [value]), isAtomic: true, literalScalars: [value])
                }
                if !plain.isEmpty {
                    alternatives.append(plain.scalarCount == 1
                        ? GBNFSpelling.literal(scalars: [plain.singleValue!])
                        : GBNFSpelling.characterClass(plain))
                }
                let escaped = set.subtracting(.jsonUnescaped)
                for value in escaped.scalars {
                    alternatives.append(Self.jsonEscape(value))
                }
                if alternatives.count == 1 {
                    let isSingleEscape = plain.isEmpty && escaped.scalarCount == 1
                    let escapeScalars = isSingleEscape ? Self.jsonEscapeScalars(escaped.singleValue!) : nil
                    return Expression(text: alternatives[0], isAtomic: escapeScalars != nil || !plain.isEmpty, literalScalars: escapeScalars)
                }
                return Expression(text: "(" + alternatives.joined(separator: " | ") + ")", isAtomic: true)
            }
        }

        /// The fixed spelling of a short JSON escape, or nil for controls written as `\u00XX`.
        private static func jsonEscapeScalars(_ value: UInt32) -> [UInt32]? {
            let letter: Character
            switch value {
            case 0x22: letter = "\""
            case 0x5C: letter = "\\"
            case 0x08: letter = "b"
            case 0x0C: letter = "f"
            case 0x0A: letter = "n"
            case 0x0D: letter = "r"
            case 0x09: letter = "t"
            default: return nil
            }
            return [0x5C, letter.unicodeScalars.first!.value]
        }

        /// A GBNF expression for the JSON spelling of an escaped character `value` (a control, `"` or `\`).
        static func jsonEscape(_ value: UInt32) -> String {
            if let scalars = jsonEscapeScalars(value) { return GBNFSpelling.literal(scalars: scalars) }
            // \u00XX, hex letters in either case.
            var parts = [GBNFSpelling.literal("\\u00")]
            for digit in GBNFSpelling.hex(value, width: 2) {
                if digit.isLetter {
                    parts.append("[\(digit.lowercased())\(digit)]")
                } else {
                    parts.append(GBNFSpelling.literal(String(digit)))
                }
            }
            return parts.joined(separator: " ")
        }
    }
}

extension RegexGrammar {
    /// A grammar whose root matches exactly one of `choices` (vLLM's `guided_choice`).
    public static func gbnf(choices: [String]) -> String {
        "root ::= " + choices.map { GBNFSpelling.literal($0) }.joined(separator: " | ") + "\n"
    }
}
