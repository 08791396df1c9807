/// One lexical token of a template.
struct JinjaToken: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// Literal template text, with whitespace control already applied.
        case text(String)
        case variableBegin, variableEnd, blockBegin, blockEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        /// Operators and punctuation: `+ - * / // % ** ~ == != < <= > >= = ( ) [ ] { } , . : |`.
        case op(String)
        case end
    }

    var kind: Kind
    var line: Int
}

/// Splits template source into tokens with Hugging Face's settings: `trim_blocks`, `lstrip_blocks`,
/// no trailing newline kept, newlines normalized to "\n".
struct JinjaLexer {
    private let bytes: [UInt8]
    private var pos = 0
    private var line = 1
    private var tokens: [JinjaToken] = []

    init(_ source: String) {
        // Normalize \r\n and \r to \n, then drop one trailing newline (keep_trailing_newline=False).
        var normalized: [UInt8] = []
        normalized.reserveCapacity(source.utf8.count)
        var previousCR = false
        for b in source.utf8 {
            if b == 0x0D {
                normalized.append(0x0A)
                previousCR = true
                continue
            }
            if b == 0x0A, previousCR {
                previousCR = false
                continue
            }
            previousCR = false
            normalized.append(b)
        }
        if normalized.last == 0x0A { normalized.removeLast() }
        bytes = normalized
    }

    private enum Strip {
        case none, all, newline
    }

    private static func isWhitespace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C
    }

    mutating func tokenize() throws(ChatTemplateError) -> [JinjaToken] {
        var stripNext = Strip.none
        var lineStarting = true
        while pos < bytes.count {
            // Find the next tag opening.
            var tagStart = pos
            var tagKind: UInt8 = 0
            while tagStart + 1 < bytes.count {
                if bytes[tagStart] == UInt8(ascii: "{") {
                    let next = bytes[tagStart + 1]
                    if next == UInt8(ascii: "{") || next == UInt8(ascii: "%") || next == UInt8(ascii: "#") {
                        tagKind = next
                        break
                    }
                }
                tagStart += 1
            }
            if tagKind == 0 { tagStart = bytes.count }
            var control: UInt8 = 0
            if tagKind != 0, tagStart + 2 < bytes.count,
               bytes[tagStart + 2] == UInt8(ascii: "-") || bytes[tagStart + 2] == UInt8(ascii: "+")
            {
                control = bytes[tagStart + 2]
            }

            // The text before the tag, with whitespace control from both sides.
            var textStart = pos
            var textEnd = tagStart
            switch stripNext {
            case .all:
                while textStart < textEnd, Self.isWhitespace(bytes[textStart]) { textStart += 1 }
            case .newline:
                if textStart < textEnd, bytes[textStart] == 0x0A { textStart += 1 }
            case .none:
                break
            }
            if tagKind != 0 {
                if control == UInt8(ascii: "-") {
                    while textEnd > textStart, Self.isWhitespace(bytes[textEnd - 1]) { textEnd -= 1 }
                } else if control != UInt8(ascii: "+"), tagKind != UInt8(ascii: "{") {
                    // lstrip_blocks: drop spaces and tabs between the line start and a block or comment tag.
                    var lineStart = textEnd
                    while lineStart > textStart, bytes[lineStart - 1] == 0x20 || bytes[lineStart - 1] == 0x09
                        || bytes[lineStart - 1] == 0x0B || bytes[lineStart - 1] == 0x0C
                    {
                        lineStart -= 1
                    }
                    let atLineStart = lineStart > textStart ? bytes[lineStart - 1] == 0x0A : lineStarting
                    if atLineStart { textEnd = lineStart }
                }
            }
            if textEnd > textStart {
                tokens.append(JinjaToken(kind: .text(String(decoding: bytes[textStart..<textEnd], as: UTF8.self)), line: line))
            }
            countLines(from: pos, to: tagStart)
            pos = tagStart
            guard tagKind != 0 else { break }

            let tagLine = line
            pos += control == 0 ? 2 : 3
            switch tagKind {
            case UInt8(ascii: "#"):
                (stripNext, lineStarting) = try lexComment(line: tagLine)
            case UInt8(ascii: "%"):
                if let raw = try lexRaw(line: tagLine) {
                    (stripNext, lineStarting) = raw
                } else {
                    tokens.append(JinjaToken(kind: .blockBegin, line: tagLine))
                    (stripNext, lineStarting) = try lexTag(block: true, line: tagLine)
                }
            default:
                tokens.append(JinjaToken(kind: .variableBegin, line: tagLine))
                (stripNext, lineStarting) = try lexTag(block: false, line: tagLine)
            }
        }
        tokens.append(JinjaToken(kind: .end, line: line))
        return tokens
    }

    private mutating func countLines(from start: Int, to end: Int) {
        var i = start
        while i < end {
            if bytes[i] == 0x0A { line += 1 }
            i += 1
        }
    }

    /// After a block or comment end: what to strip from the following text, and whether a line starts there.
    private func afterBlockEnd(control: UInt8, endIndex: Int) -> (Strip, Bool) {
        if control == UInt8(ascii: "-") {
            // `\s*` is consumed; a line starts next if that whitespace ended with a newline.
            var i = endIndex
            while i < bytes.count, Self.isWhitespace(bytes[i]) { i += 1 }
            return (.all, i > endIndex && bytes[i - 1] == 0x0A)
        }
        if control == UInt8(ascii: "+") { return (.none, false) }
        return (.newline, endIndex < bytes.count && bytes[endIndex] == 0x0A)
    }

    private mutating func lexComment(line tagLine: Int) throws(ChatTemplateError) -> (Strip, Bool) {
        var i = pos
        while i + 1 < bytes.count, !(bytes[i] == UInt8(ascii: "#") && bytes[i + 1] == UInt8(ascii: "}")) { i += 1 }
        guard i + 1 < bytes.count else { throw ChatTemplateError(.syntax, "missing end of comment tag", line: tagLine) }
        let control = i > pos && (bytes[i - 1] == UInt8(ascii: "-") || bytes[i - 1] == UInt8(ascii: "+")) ? bytes[i - 1] : 0
        countLines(from: pos, to: i + 2)
        pos = i + 2
        return afterBlockEnd(control: control, endIndex: pos)
    }

    /// `{% raw %}...{% endraw %}`: the text in between is literal.
    private mutating func lexRaw(line tagLine: Int) throws(ChatTemplateError) -> (Strip, Bool)? {
        var i = pos
        while i < bytes.count, Self.isWhitespace(bytes[i]) { i += 1 }
        let word = Array("raw".utf8)
        guard i + 3 <= bytes.count, Array(bytes[i..<i + 3]) == word else { return nil }
        i += 3
        while i < bytes.count, Self.isWhitespace(bytes[i]) { i += 1 }
        var control: UInt8 = 0
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
            control = bytes[i]
            i += 1
        }
        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "%"), bytes[i + 1] == UInt8(ascii: "}") else { return nil }
        var bodyStart = i + 2
        if control == UInt8(ascii: "-") {
            while bodyStart < bytes.count, Self.isWhitespace(bytes[bodyStart]) { bodyStart += 1 }
        } else if control != UInt8(ascii: "+"), bodyStart < bytes.count, bytes[bodyStart] == 0x0A {
            bodyStart += 1
        }
        // Find {%[-+]? endraw [-+]?%}
        var j = bodyStart
        while j + 1 < bytes.count {
            if bytes[j] == UInt8(ascii: "{"), bytes[j + 1] == UInt8(ascii: "%") {
                var k = j + 2
                var openControl: UInt8 = 0
                if k < bytes.count, bytes[k] == UInt8(ascii: "-") || bytes[k] == UInt8(ascii: "+") {
                    openControl = bytes[k]
                    k += 1
                }
                while k < bytes.count, Self.isWhitespace(bytes[k]) { k += 1 }
                let endWord = Array("endraw".utf8)
                if k + 6 <= bytes.count, Array(bytes[k..<k + 6]) == endWord {
                    k += 6
                    while k < bytes.count, Self.isWhitespace(bytes[k]) { k += 1 }
                    var closeControl: UInt8 = 0
                    if k < bytes.count, bytes[k] == UInt8(ascii: "-") || bytes[k] == UInt8(ascii: "+") {
                        closeControl = bytes[k]
                        k += 1
                    }
                    if k + 1 < bytes.count, bytes[k] == UInt8(ascii: "%"), bytes[k + 1] == UInt8(ascii: "}") {
                        var bodyEnd = j
                        if openControl == UInt8(ascii: "-") {
                            while bodyEnd > bodyStart, Self.isWhitespace(bytes[bodyEnd - 1]) { bodyEnd -= 1 }
                        } else if openControl != UInt8(ascii: "+") {
                            var lineStart = bodyEnd
                            while lineStart > bodyStart, bytes[lineStart - 1] == 0x20 || bytes[lineStart - 1] == 0x09 {
                                lineStart -= 1
                            }
                            if lineStart > bodyStart, bytes[lineStart - 1] == 0x0A { bodyEnd = lineStart }
                        }
                        if bodyEnd > bodyStart {
                            tokens.append(JinjaToken(kind: .text(String(decoding: bytes[bodyStart..<bodyEnd], as: UTF8.self)), line: tagLine))
                        }
                        countLines(from: pos, to: k + 2)
                        pos = k + 2
                        return afterBlockEnd(control: closeControl, endIndex: pos)
                    }
                }
            }
            j += 1
        }
        throw ChatTemplateError(.syntax, "missing {% endraw %} for {% raw %}", line: tagLine)
    }

    private static let twoCharOps: Set<String> = ["//", "**", "==", "!=", "<=", ">="]
    private static let oneCharOps: Set<UInt8> = Set("+-*/%~<>=()[]{},.:|".utf8)

    /// Tokens inside `{{ }}` or `{% %}` up to the closing delimiter.
    private mutating func lexTag(block: Bool, line tagLine: Int) throws(ChatTemplateError) -> (Strip, Bool) {
        var balance: [UInt8] = []
        let closer = block ? UInt8(ascii: "%") : UInt8(ascii: "}")
        while true {
            while pos < bytes.count, Self.isWhitespace(bytes[pos]) {
                if bytes[pos] == 0x0A { line += 1 }
                pos += 1
            }
            guard pos < bytes.count else {
                throw ChatTemplateError(.syntax, "missing end of \(block ? "block" : "variable") tag", line: tagLine)
            }
            let c = bytes[pos]
            if balance.isEmpty {
                // Closing delimiter, optionally with whitespace control.
                var control: UInt8 = 0
                var i = pos
                if c == UInt8(ascii: "-") || (block && c == UInt8(ascii: "+")) {
                    control = c
                    i += 1
                }
                if i + 1 < bytes.count, bytes[i] == closer, bytes[i + 1] == UInt8(ascii: "}") {
                    pos = i + 2
                    if block {
                        tokens.append(JinjaToken(kind: .blockEnd, line: line))
                        return afterBlockEnd(control: control, endIndex: pos)
                    }
                    tokens.append(JinjaToken(kind: .variableEnd, line: line))
                    if control == UInt8(ascii: "-") {
                        var j = pos
                        while j < bytes.count, Self.isWhitespace(bytes[j]) { j += 1 }
                        return (.all, j > pos && bytes[j - 1] == 0x0A)
                    }
                    return (.none, false)
                }
            }
            let startLine = line
            if c == UInt8(ascii: "_") || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) {
                let start = pos
                while pos < bytes.count, bytes[pos] == UInt8(ascii: "_") || (bytes[pos] >= 0x30 && bytes[pos] <= 0x39)
                    || (bytes[pos] >= 0x41 && bytes[pos] <= 0x5A) || (bytes[pos] >= 0x61 && bytes[pos] <= 0x7A)
                {
                    pos += 1
                }
                tokens.append(JinjaToken(kind: .name(String(decoding: bytes[start..<pos], as: UTF8.self)), line: startLine))
            } else if c >= 0x30 && c <= 0x39 {
                tokens.append(JinjaToken(kind: try lexNumber(), line: startLine))
            } else if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
                tokens.append(JinjaToken(kind: .string(try lexString(quote: c)), line: startLine))
            } else {
                var op = ""
                if pos + 1 < bytes.count {
                    let two = String(decoding: bytes[pos..<pos + 2], as: UTF8.self)
                    if Self.twoCharOps.contains(two) { op = two }
                }
                if op.isEmpty {
                    guard Self.oneCharOps.contains(c) else {
                        throw ChatTemplateError(.syntax, "unexpected character '\(Character(Unicode.Scalar(c)))'", line: line)
                    }
                    op = String(Character(Unicode.Scalar(c)))
                }
                pos += op.utf8.count
                switch op {
                case "(", "[", "{": balance.append(op.utf8.first!)
                case ")", "]", "}":
                    let expected: UInt8 = op == ")" ? UInt8(ascii: "(") : op == "]" ? UInt8(ascii: "[") : UInt8(ascii: "{")
                    guard balance.last == expected else {
                        throw ChatTemplateError(.syntax, "unexpected '\(op)'", line: line)
                    }
                    balance.removeLast()
                default: break
                }
                tokens.append(JinjaToken(kind: .op(op), line: startLine))
            }
        }
    }

    private mutating func lexNumber() throws(ChatTemplateError) -> JinjaToken.Kind {
        let start = pos
        func digits() {
            while pos < bytes.count, (bytes[pos] >= 0x30 && bytes[pos] <= 0x39) || bytes[pos] == UInt8(ascii: "_") { pos += 1 }
        }
        digits()
        var isFloat = false
        if pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "."), bytes[pos + 1] >= 0x30, bytes[pos + 1] <= 0x39 {
            isFloat = true
            pos += 1
            digits()
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            var i = pos + 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            if i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                isFloat = true
                pos = i
                digits()
            }
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self).replacingUnderscores()
        if !isFloat, let i = Int(text) { return .integer(i) }
        guard let d = Double(text) else { throw ChatTemplateError(.syntax, "bad number '\(text)'", line: line) }
        return .float(d)
    }

    /// A string literal with Python's `unicode-escape` rules (unknown escapes stay as written).
    private mutating func lexString(quote: UInt8) throws(ChatTemplateError) -> String {
        let startLine = line
        pos += 1
        var out: [UInt8] = []
        func appendScalar(_ value: UInt32) {
            let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
        }
        func hexValue(_ count: Int) -> UInt32? {
            guard pos + count <= bytes.count else { return nil }
            var v: UInt32 = 0
            for k in 0..<count {
                let ch = bytes[pos + k]
                let d: UInt32
                switch ch {
                case 0x30...0x39: d = UInt32(ch - 0x30)
                case 0x41...0x46: d = UInt32(ch - 0x41 + 10)
                case 0x61...0x66: d = UInt32(ch - 0x61 + 10)
                default: return nil
                }
                v = v << 4 | d
            }
            return v
        }
        while true {
            guard pos < bytes.count else { throw ChatTemplateError(.syntax, "unterminated string", line: startLine) }
            let c = bytes[pos]
            if c == quote {
                pos += 1
                break
            }
            if c == 0x0A { line += 1 }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                pos += 1
                continue
            }
            pos += 1
            guard pos < bytes.count else { throw ChatTemplateError(.syntax, "unterminated string", line: startLine) }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "'"): out.append(0x27)
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "v"): out.append(0x0B)
            case 0x0A: line += 1  // backslash-newline continues the line
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var v = UInt32(e - 0x30)
                var n = 1
                while n < 3, pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x37 {
                    v = v * 8 + UInt32(bytes[pos] - 0x30)
                    pos += 1
                    n += 1
                }
                appendScalar(v)
            case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                let count = e == UInt8(ascii: "x") ? 2 : e == UInt8(ascii: "u") ? 4 : 8
                guard let v = hexValue(count) else {
                    throw ChatTemplateError(.syntax, "truncated \\\(Character(Unicode.Scalar(e))) escape in a string", line: line)
                }
                pos += count
                appendScalar(v)
            default:
                out.append(0x5C)
                out.append(e)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { filter { $0 != "_" } }
}
