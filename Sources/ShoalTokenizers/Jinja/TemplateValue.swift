public import Foundation

/// A JSON-like value for template contexts (messages, tools, extra variables).
///
/// Objects keep their key order, as Python dicts do, so `tojson` and `items()` render keys in the order
/// the request gave them.
public enum TemplateValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([TemplateValue])
    /// Key-value pairs in insertion order; if a key repeats, the last pair wins.
    case object([(key: String, value: TemplateValue)])

    public static func == (lhs: TemplateValue, rhs: TemplateValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case let (.bool(a), .bool(b)): a == b
        case let (.int(a), .int(b)): a == b
        case let (.double(a), .double(b)): a == b
        case let (.string(a), .string(b)): a == b
        case let (.array(a), .array(b)): a == b
        case let (.object(a), .object(b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    /// The value stored under `key` when this is an object (the last pair with that key), else nil.
    public subscript(key: String) -> TemplateValue? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.last { $0.key == key }?.value
    }

    /// The element at `index` when this is an array and the index is in range, else nil.
    public subscript(index: Int) -> TemplateValue? {
        guard case .array(let items) = self, items.indices.contains(index) else { return nil }
        return items[index]
    }

    /// The string payload, if this is a string.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// Parses JSON text, keeping object key order.
    /// - Throws: `ChatTemplateError` with code `.syntax` naming the byte offset of the first error.
    public init(jsonData: Data) throws {
        var parser = TemplateJSONParser(bytes: [UInt8](jsonData))
        self = try parser.parseDocument()
    }

    /// Parses JSON text, keeping object key order.
    /// - Throws: `ChatTemplateError` with code `.syntax` naming the byte offset of the first error.
    public init(jsonString: String) throws {
        var parser = TemplateJSONParser(bytes: Array(jsonString.utf8))
        self = try parser.parseDocument()
    }

    /// Converts a Foundation JSON object (`JSONSerialization` output or Swift literals).
    ///
    /// `[String: Any]` has no key order; its keys are sorted. Use `init(jsonData:)` to keep the order.
    /// - Throws: `ChatTemplateError` with code `.runtime` for a value of another type.
    public init(json: Any) throws {
        if type(of: json) is NSNumber.Type, let n = json as? NSNumber {
            let kind = String(cString: n.objCType)
            if kind == "c" || kind == "B" {
                self = .bool(n.boolValue)
            } else if kind == "d" || kind == "f" {
                self = .double(n.doubleValue)
            } else {
                self = .int(n.intValue)
            }
            return
        }
        switch json {
        case let v as TemplateValue: self = v
        case is NSNull: self = .null
        case let v as String: self = .string(v)
        case let v as Bool: self = .bool(v)
        case let v as Int: self = .int(v)
        case let v as Double: self = .double(v)
        case let v as Float: self = .double(Double(v))
        case let v as [Any]: self = .array(try v.map { try TemplateValue(json: $0) })
        case let v as [String: Any]:
            self = .object(try v.keys.sorted().map { (key: $0, value: try TemplateValue(json: v[$0]!)) })
        case Optional<Any>.none: self = .null
        default:
            throw ChatTemplateError(.runtime, "cannot convert a value of type \(type(of: json)) to a template value")
        }
    }

    /// The value as JSON text, formatted like Python's `json.dumps(value, ensure_ascii=False, indent=indent)`
    /// (what Hugging Face's `tojson` filter prints).
    public func jsonString(indent: Int? = nil) -> String {
        var out = ""
        JinjaJSON.write(JinjaValue(self), to: &out, options: JinjaJSON.Options(indent: indent.map { String(repeating: " ", count: max(0, $0)) }))
        return out
    }
}

extension TemplateValue: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) { self = .null }
}

extension TemplateValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension TemplateValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self = .int(value) }
}

extension TemplateValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension TemplateValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension TemplateValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: TemplateValue...) { self = .array(elements) }
}

extension TemplateValue: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self = .object(elements.map { (key: $0.0, value: $0.1) })
    }
}

/// A strict JSON (RFC 8259) parser that keeps object key order.
struct TemplateJSONParser {
    let bytes: [UInt8]
    var pos = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseDocument() throws -> TemplateValue {
        skipWhitespace()
        let value = try parseValue(depth: 0)
        skipWhitespace()
        if pos != bytes.count { throw fail("unexpected data after the JSON value") }
        return value
    }

    private func fail(_ what: String) -> ChatTemplateError {
        ChatTemplateError(.syntax, "invalid JSON at byte \(pos): \(what)")
    }

    private mutating func skipWhitespace() {
        while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 {
            pos += 1
        }
    }

    private mutating func parseValue(depth: Int) throws -> TemplateValue {
        guard depth < 512 else { throw fail("nesting deeper than 512") }
        guard pos < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            pos += 1
            var pairs: [(key: String, value: TemplateValue)] = []
            skipWhitespace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") {
                pos += 1
                return .object(pairs)
            }
            while true {
                skipWhitespace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let key = try parseString()
                skipWhitespace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                pos += 1
                skipWhitespace()
                let value = try parseValue(depth: depth + 1)
                if let existing = pairs.firstIndex(where: { $0.key == key }) {
                    pairs[existing].value = value
                } else {
                    pairs.append((key: key, value: value))
                }
                skipWhitespace()
                guard pos < bytes.count else { throw fail("unexpected end of input in an object") }
                if bytes[pos] == UInt8(ascii: ",") {
                    pos += 1
                } else if bytes[pos] == UInt8(ascii: "}") {
                    pos += 1
                    return .object(pairs)
                } else {
                    throw fail("expected ',' or '}'")
                }
            }
        case UInt8(ascii: "["):
            pos += 1
            var items: [TemplateValue] = []
            skipWhitespace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") {
                pos += 1
                return .array(items)
            }
            while true {
                skipWhitespace()
                items.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard pos < bytes.count else { throw fail("unexpected end of input in an array") }
                if bytes[pos] == UInt8(ascii: ",") {
                    pos += 1
                } else if bytes[pos] == UInt8(ascii: "]") {
                    pos += 1
                    return .array(items)
                } else {
                    throw fail("expected ',' or ']'")
                }
            }
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectWord("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectWord("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectWord("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        default:
            throw fail("unexpected character")
        }
    }

    private mutating func expectWord(_ word: String) throws {
        let w = Array(word.utf8)
        guard pos + w.count <= bytes.count, Array(bytes[pos..<pos + w.count]) == w else {
            throw fail("expected '\(word)'")
        }
        pos += w.count
    }

    private mutating func parseNumber() throws -> TemplateValue {
        let start = pos
        var isFloat = false
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        func digits() -> Int {
            let s = pos
            while pos < bytes.count, bytes[pos] >= 0x30, bytes[pos] <= 0x39 { pos += 1 }
            return pos - s
        }
        guard pos < bytes.count else { throw fail("incomplete number") }
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
        } else if digits() == 0 {
            throw fail("expected a digit")
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            isFloat = true
            guard digits() > 0 else { throw fail("expected a digit after '.'") }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            pos += 1
            isFloat = true
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard digits() > 0 else { throw fail("expected a digit in the exponent") }
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if !isFloat, let i = Int(text) { return .int(i) }
        guard let d = Double(text) else { throw fail("number out of range") }
        return .double(d)
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw fail("incomplete \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail("bad hex digit in \\u escape")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    private mutating func parseString() throws -> String {
        pos += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard pos < bytes.count else { throw fail("unterminated string") }
            let c = bytes[pos]
            if c == UInt8(ascii: "\"") {
                pos += 1
                break
            }
            if c < 0x20 { throw fail("control character in a string") }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                pos += 1
                continue
            }
            pos += 1
            guard pos < bytes.count else { throw fail("unterminated escape") }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if code >= 0xD800, code < 0xDC00 {
                    // A high surrogate must be followed by a low one; a lone one becomes U+FFFD.
                    if pos + 6 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                        let save = pos
                        pos += 2
                        let low = try parseHex4()
                        if low >= 0xDC00, low < 0xE000 {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            pos = save
                            code = 0xFFFD
                        }
                    } else {
                        code = 0xFFFD
                    }
                } else if code >= 0xDC00, code < 0xE000 {
                    code = 0xFFFD
                }
                out.append(contentsOf: Array(String(Character(Unicode.Scalar(code)!)).utf8))
            default:
                throw fail("unknown escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
