/// Python's text forms of values: `repr` of floats and strings, and `json.dumps`.
enum JinjaFormat {
    /// Python `repr(float)`: shortest round-trip digits, scientific below 1e-4 and from 1e16.
    static func float(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        var text = Substring(d.description)  // Swift also prints the shortest round-trip digits
        let negative = text.hasPrefix("-")
        if negative { text = text.dropFirst() }
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = text[..<e]
        }
        let integerPart: Substring
        let fractionPart: Substring
        if let dot = text.firstIndex(of: ".") {
            integerPart = text[..<dot]
            fractionPart = text[text.index(after: dot)...]
        } else {
            integerPart = text
            fractionPart = ""
        }
        var digits = Array(integerPart + fractionPart)
        var decimalPoint = integerPart.count + exponent
        while digits.count > 1, digits.first == "0" {
            digits.removeFirst()
            decimalPoint -= 1
        }
        while digits.count > 1, digits.last == "0" { digits.removeLast() }
        let x = decimalPoint - 1
        var out = negative ? "-" : ""
        if x < -4 || x >= 16 {
            out.append(digits[0])
            if digits.count > 1 {
                out += "."
                out += String(digits[1...])
            }
            out += x < 0 ? "e-" : "e+"
            if abs(x) < 10 { out += "0" }
            out += String(abs(x))
        } else if decimalPoint <= 0 {
            out += "0." + String(repeating: "0", count: -decimalPoint) + String(digits)
        } else if decimalPoint >= digits.count {
            out += String(digits) + String(repeating: "0", count: decimalPoint - digits.count) + ".0"
        } else {
            out += String(digits[..<decimalPoint]) + "." + String(digits[decimalPoint...])
        }
        return out
    }

    /// Python `str.isprintable()` for one character.
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
             .spaceSeparator:
            return false
        default:
            return true
        }
    }

    /// Python `repr(str)`.
    static func repr(_ s: String) -> String {
        let quote: Unicode.Scalar = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(Character(quote))
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case quote: out += "\\" + String(Character(quote))
            default:
                if scalar.value >= 0x20, scalar.value < 0x7F || (scalar.value > 0x7F && isPrintable(scalar)) {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value <= 0xFF {
                    out += "\\x" + hex(scalar.value, width: 2)
                } else if scalar.value <= 0xFFFF {
                    out += "\\u" + hex(scalar.value, width: 4)
                } else {
                    out += "\\U" + hex(scalar.value, width: 8)
                }
            }
        }
        out.unicodeScalars.append(quote)
        return out
    }

    static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Python `str.isspace()` for one character.
    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20: return true
        case 0..<0x80: return false
        default: return scalar.properties.isWhitespace
        }
    }
}

/// Python's `json.dumps`, as Hugging Face's `tojson` filter calls it (`ensure_ascii=False`, keys unsorted).
enum JinjaJSON {
    struct Options {
        /// The indent per level; nil prints everything on one line.
        var indent: String?
        var itemSeparator: String
        var keySeparator: String
        var sortKeys: Bool
        var ensureASCII: Bool

        init(indent: String? = nil, separators: (String, String)? = nil, sortKeys: Bool = false, ensureASCII: Bool = false) {
            self.indent = indent
            itemSeparator = separators?.0 ?? (indent == nil ? ", " : ",")
            keySeparator = separators?.1 ?? ": "
            self.sortKeys = sortKeys
            self.ensureASCII = ensureASCII
        }
    }

    struct Unserializable: Error {
        let typeName: String
    }

    static func write(_ value: JinjaValue, to out: inout String, options: Options) {
        try? write(value, to: &out, options: options, level: 0)
    }

    static func write(_ value: JinjaValue, to out: inout String, options: Options, level: Int) throws(Unserializable) {
        switch value {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isNaN {
                out += "NaN"
            } else if d.isInfinite {
                out += d < 0 ? "-Infinity" : "Infinity"
            } else {
                out += JinjaFormat.float(d)
            }
        case .string(let s), .markup(let s): writeString(s, to: &out, ensureASCII: options.ensureASCII)
        case .array(let items), .tuple(let items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += options.itemSeparator }
                newline(&out, options, level + 1)
                try write(item, to: &out, options: options, level: level + 1)
            }
            newline(&out, options, level)
            out += "]"
        case .object(let object):
            if object.count == 0 {
                out += "{}"
                return
            }
            out += "{"
            var pairs = object.pairs
            if options.sortKeys {
                pairs.sort { $0.key.jsonKey.unicodeScalars.lexicographicallyPrecedes($1.key.jsonKey.unicodeScalars) }
            }
            for (i, pair) in pairs.enumerated() {
                if i > 0 { out += options.itemSeparator }
                newline(&out, options, level + 1)
                writeString(pair.key.jsonKey, to: &out, ensureASCII: options.ensureASCII)
                out += options.keySeparator
                try write(pair.value, to: &out, options: options, level: level + 1)
            }
            newline(&out, options, level)
            out += "}"
        case .undefined, .namespace, .loop, .callable:
            throw Unserializable(typeName: value.typeName)
        }
    }

    private static func newline(_ out: inout String, _ options: Options, _ level: Int) {
        guard let indent = options.indent else { return }
        out += "\n"
        for _ in 0..<level { out += indent }
    }

    static func writeString(_ s: String, to out: inout String, ensureASCII: Bool) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || (ensureASCII && scalar.value >= 0x7F) {
                    if scalar.value > 0xFFFF {
                        let v = scalar.value - 0x10000
                        out += "\\u" + JinjaFormat.hex(0xD800 + (v >> 10), width: 4)
                        out += "\\u" + JinjaFormat.hex(0xDC00 + (v & 0x3FF), width: 4)
                    } else {
                        out += "\\u" + JinjaFormat.hex(scalar.value, width: 4)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
