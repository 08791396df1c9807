internal import Foundation

extension JinjaBuiltins {
    /// Applies the filter `name` (already checked against `filterNames` by the parser).
    static func filter(_ name: String, _ original: JinjaValue, _ arguments: Arguments, interpreter: JinjaInterpreter, line: Int) throws -> JinjaValue {
        switch name {
        case "safe": return .markup(original.pyStr)
        case "escape", "e":
            if case .markup = original { return original }
            return .markup(JinjaText.escapeHTML(original.pyStr))
        case "forceescape": return .markup(JinjaText.escapeHTML(original.pyStr))
        case "string":
            if case .markup = original { return original }
            return .string(original.pyStr)
        default: break
        }
        let value = original.plain
        func args(_ names: [String]) throws -> [JinjaValue?] { try bind(arguments, names, name, line: line) }
        func string(_ v: JinjaValue?) -> String? {
            if case .string(let s)? = v { return s }
            return nil
        }
        func flag(_ v: JinjaValue?) -> Bool { v?.isTruthy ?? false }

        switch name {
        case "upper":
            return .string(value.pyStr.uppercased())
        case "lower":
            return .string(value.pyStr.lowercased())
        case "capitalize":
            return .string(JinjaText.capitalize(value.pyStr))
        case "title":
            return .string(JinjaText.jinjaTitle(value.pyStr))
        case "trim":
            let a = try args(["chars"])
            return .string(JinjaText.strip(value.pyStr, string(a[0])))
        case "replace":
            let a = try args(["old", "new", "count"])
            guard let old = a[0], let new = a[1] else { throw runtime("replace() needs old and new strings", line) }
            let count = a[2].flatMap { $0.isNone ? nil : $0.intValue } ?? -1
            return .string(JinjaText.replace(value.pyStr, old.pyStr, new.pyStr, count: count))
        case "indent":
            let a = try args(["width", "first", "blank"])
            let indentation: String
            if case .string(let s)? = a[0] {
                indentation = s
            } else {
                indentation = String(repeating: " ", count: max(0, a[0]?.intValue ?? 4))
            }
            var lines = (value.pyStr + "\n").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            lines.removeLast()
            var result: String
            if flag(a[2]) {
                result = lines.joined(separator: "\n" + indentation)
            } else {
                result = lines.first ?? ""
                if lines.count > 1 {
                    result += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
                }
            }
            return .string(flag(a[1]) ? indentation + result : result)
        case "wordcount":
            var count = 0
            var inWord = false
            for c in value.pyStr.unicodeScalars {
                let isWordCharacter = c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil
                if isWordCharacter, !inWord { count += 1 }
                inWord = isWordCharacter
            }
            return .int(count)
        case "length", "count":
            switch value {
            case .string(let s): return .int(s.unicodeScalars.count)
            case .array(let a): return .int(a.count)
            case .object(let o): return .int(o.count)
            case .undefined: return .int(0)
            default: throw runtime("object of type '\(value.typeName)' has no len()", line)
            }
        case "default", "d":
            let a = try args(["default_value", "boolean"])
            if value.isUndefined || (flag(a[1]) && !value.isTruthy) { return a[0] ?? .string("") }
            return value
        case "first":
            let items = try interpreter.iterate(value, line: line)
            return items.first ?? .undefined("no first item, sequence was empty")
        case "last":
            let items = try interpreter.iterate(value, line: line)
            return items.last ?? .undefined("no last item, sequence was empty")
        case "list":
            return .array(try interpreter.iterate(value, line: line))
        case "reverse":
            if case .string(let s) = value { return .string(JinjaText.string(s.unicodeScalars.reversed())) }
            return .array(try interpreter.iterate(value, line: line).reversed())
        case "join":
            let a = try args(["d", "attribute"])
            var items = try interpreter.iterate(value, line: line)
            if let attribute = a[1], !attribute.isNone { items = items.map { attributePath($0, attribute) } }
            return .string(items.map(\.pyStr).joined(separator: a[0]?.pyStr ?? ""))
        case "items":
            switch value {
            case .object(let o): return .array(o.pairs.map { .tuple([$0.key.value, $0.value]) })
            case .undefined: return .array([])
            default: throw runtime("can only get item pairs from a mapping, not '\(value.typeName)'", line)
            }
        case "dictsort":
            let a = try args(["case_sensitive", "by", "reverse"])
            guard case .object(let o) = value else { throw runtime("dictsort needs a mapping, got '\(value.typeName)'", line) }
            let byValue = string(a[1]) == "value"
            if let by = string(a[1]), by != "key", by != "value" {
                throw runtime("dictsort: you can only sort by either 'key' or 'value'", line)
            }
            let caseSensitive = flag(a[0])
            var pairs = o.pairs.map { JinjaValue.tuple([$0.key.value, $0.value]) }
            try sortValues(&pairs, reverse: flag(a[2]), line: line) { pair in
                guard case .tuple(let kv) = pair else { return pair }
                return sortKey(byValue ? kv[1] : kv[0], caseSensitive: caseSensitive)
            }
            return .array(pairs)
        case "sort":
            let a = try args(["reverse", "case_sensitive", "attribute"])
            var items = try interpreter.iterate(value, line: line)
            let caseSensitive = flag(a[1])
            let attribute = a[2].flatMap { $0.isNone ? nil : $0 }
            try sortValues(&items, reverse: flag(a[0]), line: line) { item in
                sortKey(attribute.map { attributePath(item, $0) } ?? item, caseSensitive: caseSensitive)
            }
            return .array(items)
        case "unique":
            let a = try args(["case_sensitive", "attribute"])
            let caseSensitive = flag(a[0])
            let attribute = a[1].flatMap { $0.isNone ? nil : $0 }
            var seen: [JinjaValue] = []
            var result: [JinjaValue] = []
            for item in try interpreter.iterate(value, line: line) {
                let key = sortKey(attribute.map { attributePath(item, $0) } ?? item, caseSensitive: caseSensitive)
                if !seen.contains(where: { $0.pyEquals(key) }) {
                    seen.append(key)
                    result.append(item)
                }
            }
            return .array(result)
        case "min", "max":
            let a = try args(["case_sensitive", "attribute"])
            let caseSensitive = flag(a[0])
            let attribute = a[1].flatMap { $0.isNone ? nil : $0 }
            var best: JinjaValue?
            var bestKey: JinjaValue?
            for item in try interpreter.iterate(value, line: line) {
                let key = sortKey(attribute.map { attributePath(item, $0) } ?? item, caseSensitive: caseSensitive)
                if let current = bestKey {
                    let better = name == "min" ? try lessThan(key, current, line: line) : try lessThan(current, key, line: line)
                    if !better { continue }
                }
                best = item
                bestKey = key
            }
            return best ?? .undefined("no \(name) item, sequence was empty")
        case "sum":
            let a = try args(["attribute", "start"])
            var total = a[1] ?? .int(0)
            for item in try interpreter.iterate(value, line: line) {
                let term = a[0].flatMap { $0.isNone ? nil : $0 }.map { attributePath(item, $0) } ?? item
                total = try binary("+", total, term, line: line)
            }
            return total
        case "abs":
            switch value {
            case .int(let i):
                guard i != Int.min else { throw runtime("integer overflow in abs", line) }
                return .int(abs(i))
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return .double(abs(d))
            default: throw runtime("bad operand type for abs(): '\(value.typeName)'", line)
            }
        case "round":
            let a = try args(["precision", "method"])
            let precision = a[0]?.intValue ?? 0
            let method = string(a[1]) ?? "common"
            guard ["common", "ceil", "floor"].contains(method) else {
                throw runtime("round method must be 'common', 'ceil' or 'floor'", line)
            }
            guard let x = value.numberValue else { throw runtime("round() needs a number, got '\(value.typeName)'", line) }
            if method == "common", let i = value.intValue {
                if precision >= 0 { return .int(i) }
                let m = Int(pow(10, Double(-precision)))
                return .int(Int((Double(i) / Double(m)).rounded(.toNearestOrEven)) * m)
            }
            if method == "common", precision >= 0, precision <= 300, x.isFinite {
                // Python rounds the exact binary value (round(2.675, 2) == 2.67), as C's printf does.
                return .double(Double(String(format: "%.\(precision)f", x)) ?? x)
            }
            let scale = pow(10, Double(precision))
            let rule: FloatingPointRoundingRule = method == "ceil" ? .up : method == "floor" ? .down : .toNearestOrEven
            let scaled = x * scale
            guard scaled.isFinite else { return .double(x) }
            return .double(scaled.rounded(rule) / scale)
        case "int":
            let a = try args(["default", "base"])
            let fallback = a[0] ?? .int(0)
            switch value {
            case .int, .bool: return .int(value.intValue!)
            case .double(let d):
                guard d.isFinite, abs(d) < 9.2e18 else { return fallback }
                return .int(Int(d))
            case .string(let s):
                if let base = a[1]?.intValue, base != 10 {
                    let t = JinjaText.strip(s, nil).lowercased()
                    var digits = Substring(t)
                    let negative = digits.hasPrefix("-")
                    if negative || digits.hasPrefix("+") { digits = digits.dropFirst() }
                    for prefix in ["0x", "0o", "0b"] where digits.hasPrefix(prefix) { digits = digits.dropFirst(2) }
                    guard let v = Int(digits.filter { $0 != "_" }, radix: base) else { return fallback }
                    return .int(negative ? -v : v)
                }
                if let i = JinjaText.parseInt(s) { return .int(i) }
                if let d = JinjaText.parseDouble(s), d.isFinite, abs(d) < 9.2e18 { return .int(Int(d)) }
                return fallback
            default:
                return fallback
            }
        case "float":
            let a = try args(["default"])
            let fallback = a[0] ?? .double(0)
            switch value {
            case .int, .bool, .double: return .double(value.numberValue!)
            case .string(let s): return JinjaText.parseDouble(s).map { .double($0) } ?? fallback
            default: return fallback
            }
        case "tojson":
            // Hugging Face's override: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
            let a = try args(["ensure_ascii", "indent", "separators", "sort_keys"])
            var indent: String?
            switch a[1] {
            case .int(let n)?: indent = String(repeating: " ", count: max(0, n))
            case .string(let s)?: indent = s
            case nil, .none?: indent = nil
            case let other?: throw runtime("tojson indent must be an integer or a string, not '\(other.typeName)'", line)
            }
            var separators: (String, String)?
            if let s = a[2], !s.isNone {
                guard case .array(let pair) = s.plain, pair.count == 2, case .string(let item) = pair[0], case .string(let key) = pair[1] else {
                    throw runtime("tojson separators must be a pair of strings", line)
                }
                separators = (item, key)
            }
            let options = JinjaJSON.Options(indent: indent, separators: separators, sortKeys: flag(a[3]), ensureASCII: flag(a[0]))
            var out = ""
            do {
                try JinjaJSON.write(value, to: &out, options: options, level: 0)
            } catch {
                if case .undefined(let what) = value { throw ChatTemplateError(.undefined, what, line: line) }
                throw runtime("object of type \(error.typeName) is not JSON serializable", line)
            }
            return .string(out)
        case "attr":
            let a = try args(["name"])
            guard let attributeName = string(a[0]) else { throw runtime("attr() needs an attribute name", line) }
            if case .object = value {
                return dictMethods.contains(attributeName) ? .callable(.method(value, attributeName))
                    : .undefined("'dict object' has no attribute '\(attributeName)'")
            }
            return attribute(of: value, attributeName)
        case "map":
            let items = value.isTruthy ? try interpreter.iterate(value, line: line) : []
            if let attributeArgument = arguments.keyword.first(where: { $0.name == "attribute" })?.value {
                let fallback = arguments.keyword.first(where: { $0.name == "default" })?.value
                return .array(items.map { item in
                    let v = attributePath(item, attributeArgument)
                    if v.isUndefined, let fallback { return fallback }
                    return v
                })
            }
            guard case .string(let filterName)? = arguments.positional.first else {
                throw runtime("map() needs a filter name or attribute=", line)
            }
            guard filterNames.contains(filterName) else {
                throw ChatTemplateError(.unsupported, "unsupported filter '\(filterName)'", line: line)
            }
            let rest = Arguments(positional: Array(arguments.positional.dropFirst()), keyword: arguments.keyword)
            var result: [JinjaValue] = []
            for item in items { result.append(try filter(filterName, item, rest, interpreter: interpreter, line: line)) }
            return .array(result)
        case "select", "reject", "selectattr", "rejectattr":
            let items = value.isTruthy ? try interpreter.iterate(value, line: line) : []
            let usesAttribute = name.hasSuffix("attr")
            var positional = arguments.positional
            var attributeArgument: JinjaValue?
            if usesAttribute {
                guard !positional.isEmpty else { throw runtime("\(name)() needs an attribute name", line) }
                attributeArgument = positional.removeFirst()
            }
            var testName: String?
            if !positional.isEmpty {
                guard case .string(let t) = positional.removeFirst() else { throw runtime("\(name)() test name must be a string", line) }
                guard testNames.contains(t) || t == "==" || t == "!=" else {
                    throw ChatTemplateError(.unsupported, "unsupported test '\(t)'", line: line)
                }
                testName = t == "==" ? "eq" : t == "!=" ? "ne" : t
            }
            let testArguments = Arguments(positional: positional, keyword: arguments.keyword)
            let keep = name.hasPrefix("select")
            var result: [JinjaValue] = []
            for item in items {
                let subject = attributeArgument.map { attributePath(item, $0) } ?? item
                let passed = try testName.map { try test($0, subject, testArguments, interpreter: interpreter, line: line) } ?? subject.isTruthy
                if passed == keep { result.append(item) }
            }
            return .array(result)
        default:
            throw ChatTemplateError(.unsupported, "unsupported filter '\(name)'", line: line)
        }
    }

    /// Jinja's attribute getter for `map(attribute=)`, `selectattr`, `sort(attribute=)`: dotted paths,
    /// integer parts index lists.
    static func attributePath(_ value: JinjaValue, _ path: JinjaValue) -> JinjaValue {
        if let i = path.intValue { return item(of: value, .int(i)) }
        var current = value
        for part in path.pyStr.split(separator: ".", omittingEmptySubsequences: false) {
            if let i = Int(part) {
                current = item(of: current, .int(i))
            } else {
                current = item(of: current, .string(String(part)))
            }
        }
        return current
    }

    /// Lowercases strings for case-insensitive sorting and comparison.
    static func sortKey(_ value: JinjaValue, caseSensitive: Bool) -> JinjaValue {
        if !caseSensitive, case .string(let s) = value { return .string(s.lowercased()) }
        return value
    }

    /// Stable sort by a key with Python's ordering.
    static func sortValues(_ values: inout [JinjaValue], reverse: Bool, line: Int, key: (JinjaValue) -> JinjaValue) throws {
        let keyed = values.map { (key: key($0), value: $0) }
        var indices = Array(keyed.indices)
        var failure: (any Error)?
        indices.sort { i, j in
            if failure != nil { return false }
            do {
                let less = reverse ? try lessThan(keyed[j].key, keyed[i].key, line: line) : try lessThan(keyed[i].key, keyed[j].key, line: line)
                if less { return true }
                let greater = reverse ? try lessThan(keyed[i].key, keyed[j].key, line: line) : try lessThan(keyed[j].key, keyed[i].key, line: line)
                return !greater && i < j
            } catch {
                failure = error
                return false
            }
        }
        if let failure { throw failure }
        values = indices.map { keyed[$0].value }
    }
}
