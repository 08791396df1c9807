/// Python `str` operations over Unicode scalars (Python strings index by code point).
enum JinjaText {
    typealias Scalars = [Unicode.Scalar]

    static func string(_ scalars: some Sequence<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    /// The first index at or after `from` where `needle` occurs.
    static func find(_ haystack: Scalars, _ needle: Scalars, from: Int) -> Int? {
        if needle.isEmpty { return from <= haystack.count ? from : nil }
        guard haystack.count >= needle.count else { return nil }
        var i = max(0, from)
        while i + needle.count <= haystack.count {
            if haystack[i] == needle[0] {
                var k = 1
                while k < needle.count, haystack[i + k] == needle[k] { k += 1 }
                if k == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    /// The last index where `needle` occurs.
    static func findLast(_ haystack: Scalars, _ needle: Scalars) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var i = haystack.count - needle.count
        while i >= 0 {
            if Array(haystack[i..<i + needle.count]) == needle { return i }
            i -= 1
        }
        return nil
    }

    /// `str.strip(chars)` / `lstrip` / `rstrip`; nil chars strips whitespace.
    static func strip(_ s: String, _ chars: String?, leading: Bool = true, trailing: Bool = true) -> String {
        let a = Array(s.unicodeScalars)
        let set = chars.map { Set($0.unicodeScalars) }
        func strippable(_ c: Unicode.Scalar) -> Bool { set?.contains(c) ?? JinjaFormat.isSpace(c) }
        var lo = 0
        var hi = a.count
        if leading { while lo < hi, strippable(a[lo]) { lo += 1 } }
        if trailing { while hi > lo, strippable(a[hi - 1]) { hi -= 1 } }
        return string(a[lo..<hi])
    }

    /// `str.split(sep, maxsplit)`.
    static func split(_ s: String, _ separator: String?, maxSplit: Int) -> [String] {
        let a = Array(s.unicodeScalars)
        var result: [String] = []
        if let separator {
            let sep = Array(separator.unicodeScalars)
            var start = 0
            while maxSplit < 0 || result.count < maxSplit, let i = find(a, sep, from: start) {
                result.append(string(a[start..<i]))
                start = i + sep.count
            }
            result.append(string(a[start...]))
            return result
        }
        var i = 0
        while i < a.count {
            while i < a.count, JinjaFormat.isSpace(a[i]) { i += 1 }
            if i == a.count { break }
            if maxSplit >= 0, result.count == maxSplit {
                result.append(string(a[i...]))  // the rest keeps its trailing whitespace, as in Python
                break
            }
            var j = i
            while j < a.count, !JinjaFormat.isSpace(a[j]) { j += 1 }
            result.append(string(a[i..<j]))
            i = j
        }
        return result
    }

    /// `str.rsplit(sep, maxsplit)`.
    static func rsplit(_ s: String, _ separator: String?, maxSplit: Int) -> [String] {
        let reversedParts = split(string(s.unicodeScalars.reversed()), separator.map { string($0.unicodeScalars.reversed()) }, maxSplit: maxSplit)
        return reversedParts.reversed().map { string($0.unicodeScalars.reversed()) }
    }

    /// `str.replace(old, new, count)`.
    static func replace(_ s: String, _ old: String, _ new: String, count: Int) -> String {
        let a = Array(s.unicodeScalars)
        let o = Array(old.unicodeScalars)
        let n = Array(new.unicodeScalars)
        var out: Scalars = []
        var done = 0
        if o.isEmpty {
            for (i, c) in a.enumerated() {
                if count < 0 || done < count {
                    out += n
                    done += 1
                }
                _ = i
                out.append(c)
            }
            if count < 0 || done < count { out += n }
            return string(out)
        }
        var i = 0
        while i < a.count {
            if count < 0 || done < count, i + o.count <= a.count, Array(a[i..<i + o.count]) == o {
                out += n
                i += o.count
                done += 1
            } else {
                out.append(a[i])
                i += 1
            }
        }
        return string(out)
    }

    /// `str.count(sub)`: non-overlapping occurrences.
    static func count(_ s: String, _ sub: String) -> Int {
        let a = Array(s.unicodeScalars)
        let b = Array(sub.unicodeScalars)
        if b.isEmpty { return a.count + 1 }
        var n = 0
        var i = 0
        while let j = find(a, b, from: i) {
            n += 1
            i = j + b.count
        }
        return n
    }

    static func upper(_ s: String) -> String { s.uppercased() }
    static func lower(_ s: String) -> String { s.lowercased() }

    private static func isCased(_ c: Unicode.Scalar) -> Bool { c.properties.isCased }

    /// Python `str.islower()`: has a cased character and no uppercase ones.
    static func isLower(_ s: String) -> Bool {
        var cased = false
        for c in s.unicodeScalars {
            if c.properties.isUppercase || c.properties.generalCategory == .titlecaseLetter { return false }
            if c.properties.isLowercase { cased = true }
        }
        return cased
    }

    /// Python `str.isupper()`.
    static func isUpper(_ s: String) -> Bool {
        var cased = false
        for c in s.unicodeScalars {
            if c.properties.isLowercase || c.properties.generalCategory == .titlecaseLetter { return false }
            if c.properties.isUppercase { cased = true }
        }
        return cased
    }

    /// Python `str.capitalize()`: first character title-cased, the rest lowercased.
    static func capitalize(_ s: String) -> String {
        guard let first = s.unicodeScalars.first else { return s }
        return first.properties.titlecaseMapping + string(s.unicodeScalars.dropFirst()).lowercased()
    }

    /// Python `str.title()`.
    static func pythonTitle(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for c in s.unicodeScalars {
            if isCased(c) {
                out += previousCased ? c.properties.lowercaseMapping : c.properties.titlecaseMapping
                previousCased = true
            } else {
                out.unicodeScalars.append(c)
                previousCased = false
            }
        }
        return out
    }

    /// Jinja's `title` filter: words start after `-`, whitespace, `(`, `{`, `[` or `<`.
    static func jinjaTitle(_ s: String) -> String {
        var out = ""
        var atWordStart = true
        for c in s.unicodeScalars {
            let isBoundary = c == "-" || c == "(" || c == "{" || c == "[" || c == "<" || JinjaFormat.isSpace(c)
            if isBoundary {
                out.unicodeScalars.append(c)
                atWordStart = true
            } else {
                out += atWordStart ? c.properties.uppercaseMapping : c.properties.lowercaseMapping
                atWordStart = false
            }
        }
        return out
    }

    /// `str.splitlines()`.
    static func splitLines(_ s: String) -> [String] {
        var result: [String] = []
        var current: Scalars = []
        let a = Array(s.unicodeScalars)
        var i = 0
        while i < a.count {
            let c = a[i]
            switch c.value {
            case 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029:
                result.append(string(current))
                current = []
                if c.value == 0x0D, i + 1 < a.count, a[i + 1].value == 0x0A { i += 1 }
            default:
                current.append(c)
            }
            i += 1
        }
        if !current.isEmpty { result.append(string(current)) }
        return result
    }

    /// HTML escaping as MarkupSafe does it.
    static func escapeHTML(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Python `int(text)` for base 10 (whitespace, sign and underscores between digits allowed).
    static func parseInt(_ text: String) -> Int? {
        let t = strip(text, nil)
        var digits = Substring(t)
        var negative = false
        if let f = digits.first, f == "+" || f == "-" {
            negative = f == "-"
            digits = digits.dropFirst()
        }
        guard let first = digits.first, first.isASCII, first.isNumber, digits.last != "_", !digits.contains("__") else { return nil }
        guard digits.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "_" }) else { return nil }
        guard let v = Int(digits.filter { $0 != "_" }) else { return nil }
        return negative ? -v : v
    }

    /// Python `float(text)`.
    static func parseDouble(_ text: String) -> Double? {
        let t = strip(text, nil)
        guard !t.isEmpty, !t.lowercased().contains("x") else { return nil }
        let lowered = t.lowercased()
        switch lowered {
        case "inf", "+inf", "infinity", "+infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        case "nan", "+nan", "-nan": return .nan
        default: break
        }
        guard t.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE_".contains($0)) }) else { return nil }
        return Double(t.filter { $0 != "_" })
    }
}
