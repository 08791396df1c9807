internal import Foundation

/// Jinja's operators, attribute access, tests and global functions, with Python's semantics.
enum JinjaBuiltins {
    static let filterNames: Set<String> = [
        "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
        "forceescape", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min",
        "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string",
        "sum", "title", "tojson", "trim", "unique", "upper", "wordcount",
    ]

    static let testNames: Set<String> = [
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even", "false", "float",
        "ge", "greaterthan", "gt", "in", "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping", "ne",
        "none", "number", "odd", "sameas", "sequence", "string", "true", "undefined", "upper",
    ]

    static let globalNames: Set<String> = ["range", "namespace", "dict", "raise_exception", "strftime_now"]

    typealias Arguments = JinjaInterpreter.Arguments

    static func runtime(_ message: String, _ line: Int?) -> ChatTemplateError {
        ChatTemplateError(.runtime, message, line: line)
    }

    /// Binds positional and keyword arguments to parameter names (Python call rules).
    static func bind(_ arguments: Arguments, _ names: [String], _ function: String, line: Int?) throws -> [JinjaValue?] {
        guard arguments.positional.count <= names.count else {
            throw runtime("\(function)() takes at most \(names.count) argument(s) (\(arguments.positional.count) given)", line)
        }
        var result = [JinjaValue?](repeating: nil, count: names.count)
        for (i, value) in arguments.positional.enumerated() { result[i] = value }
        for (name, value) in arguments.keyword {
            guard let i = names.firstIndex(of: name) else {
                throw runtime("\(function)() got an unexpected keyword argument '\(name)'", line)
            }
            result[i] = value
        }
        return result
    }

    // MARK: Attribute and item access

    static let dictMethods: Set<String> = [
        "clear", "copy", "fromkeys", "get", "items", "keys", "pop", "popitem", "setdefault", "update", "values",
    ]
    static let listMethods: Set<String> = [
        "append", "clear", "copy", "count", "extend", "index", "insert", "pop", "remove", "reverse", "sort",
    ]
    static let stringMethods: Set<String> = [
        "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format",
        "format_map", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower",
        "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip",
        "maketrans", "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust",
        "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title",
        "translate", "upper", "zfill",
    ]

    /// `value.name`: Python attribute first (methods), then the item (dict key), as Jinja's `getattr`.
    static func attribute(of original: JinjaValue, _ name: String) -> JinjaValue {
        let value = original.plain
        switch value {
        case .object(let object):
            if dictMethods.contains(name) { return .callable(.method(value, name)) }
            return object[name] ?? .undefined("'dict object' has no attribute '\(name)'")
        case .string:
            if stringMethods.contains(name) { return .callable(.method(value, name)) }
        case .array:
            if listMethods.contains(name) { return .callable(.method(value, name)) }
        case .namespace(let namespace):
            return namespace.attributes[name] ?? .undefined("'Namespace' has no attribute '\(name)'")
        case .loop(let loop):
            return loop.attribute(name) ?? .undefined("'LoopContext' has no attribute '\(name)'")
        case .undefined(let what):
            return .undefined(what)
        default:
            break
        }
        return .undefined("'\(value.typeName) object' has no attribute '\(name)'")
    }

    /// `value[key]`: the item first, then the attribute, as Jinja's `getitem`.
    static func item(of original: JinjaValue, _ originalKey: JinjaValue) -> JinjaValue {
        let value = original.plain
        let key = originalKey.plain
        switch (value, key) {
        case (.array(let items), _) where key.intValue != nil && !isFloat(key):
            let i = key.intValue!
            let index = i < 0 ? items.count + i : i
            return items.indices.contains(index) ? items[index] : .undefined("list index \(i) out of range")
        case (.string(let s), _) where key.intValue != nil && !isFloat(key):
            let scalars = Array(s.unicodeScalars)
            let i = key.intValue!
            let index = i < 0 ? scalars.count + i : i
            return scalars.indices.contains(index)
                ? .string(String(Character(scalars[index]))) : .undefined("string index \(i) out of range")
        case (.object(let object), _):
            if let k = JinjaKey(key), let v = object[k] { return v }
            if case .string(let k) = key, dictMethods.contains(k) { return .callable(.method(value, k)) }
            return .undefined("'dict object' has no element \(key.pyRepr)")
        case (.undefined(let what), _):
            return .undefined(what)
        case (_, .string(let k)):
            return attribute(of: value, k)
        default:
            return .undefined("'\(value.typeName) object' has no element \(key.pyRepr)")
        }
    }

    private static func isFloat(_ v: JinjaValue) -> Bool {
        if case .double = v { return true }
        return false
    }

    /// Python's `slice(start, stop, step).indices(count)` as the list of selected indices.
    static func sliceIndices(count: Int, start: Int?, stop: Int?, step: Int) -> [Int] {
        var result: [Int] = []
        if step > 0 {
            var lo = start ?? 0
            var hi = stop ?? count
            if lo < 0 { lo = max(0, lo + count) }
            if hi < 0 { hi = max(0, hi + count) }
            lo = min(lo, count)
            hi = min(hi, count)
            var i = lo
            while i < hi {
                result.append(i)
                i += step
            }
        } else {
            var lo = start ?? count - 1
            var hi = stop ?? -1  // exclusive, -1 means "before index 0"
            if let s = start, s < 0 { lo = s + count }
            if let s = stop, s < 0 { hi = max(-1, s + count) }
            lo = min(lo, count - 1)
            var i = lo
            while i > hi, i >= 0 {
                result.append(i)
                i += step
            }
        }
        return result
    }

    static func slice(_ original: JinjaValue, _ start: JinjaValue?, _ stop: JinjaValue?, _ step: JinjaValue?, line: Int) throws -> JinjaValue {
        func bound(_ v: JinjaValue?) throws -> Int? {
            guard let v, !v.isNone else { return nil }
            guard let i = v.intValue, !isFloat(v) else {
                throw runtime("slice indices must be integers or None", line)
            }
            return i
        }
        let value = original.plain
        let stepValue = try bound(step) ?? 1
        guard stepValue != 0 else { throw runtime("slice step cannot be zero", line) }
        switch value {
        case .array(let items):
            let indices = sliceIndices(count: items.count, start: try bound(start), stop: try bound(stop), step: stepValue)
            return .array(indices.map { items[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            let indices = sliceIndices(count: scalars.count, start: try bound(start), stop: try bound(stop), step: stepValue)
            var out = String.UnicodeScalarView()
            for i in indices { out.append(scalars[i]) }
            return .string(String(out))
        case .undefined:
            return value
        default:
            return .undefined("'\(value.typeName) object' is not subscriptable")
        }
    }

    // MARK: Operators

    static func binary(_ op: String, _ originalLeft: JinjaValue, _ originalRight: JinjaValue, line: Int) throws -> JinjaValue {
        if op == "~" { return .string(originalLeft.pyStr + originalRight.pyStr) }
        if op == "+" {
            // Markup + str escapes the str (MarkupSafe), which real templates hit through `|safe`.
            switch (originalLeft, originalRight) {
            case let (.markup(a), .markup(b)): return .markup(a + b)
            case let (.markup(a), .string(b)): return .markup(a + JinjaText.escapeHTML(b))
            case let (.string(a), .markup(b)): return .markup(JinjaText.escapeHTML(a) + b)
            default: break
            }
        }
        let left = originalLeft.plain
        let right = originalRight.plain
        if case .undefined(let what) = left { throw ChatTemplateError(.undefined, what, line: line) }
        if case .undefined(let what) = right { throw ChatTemplateError(.undefined, what, line: line) }
        func unsupported() -> ChatTemplateError {
            runtime("unsupported operand type(s) for \(op): '\(left.typeName)' and '\(right.typeName)'", line)
        }
        func overflow() -> ChatTemplateError { runtime("integer overflow in \(op)", line) }
        // Integer arithmetic (bools are ints, as in Python).
        if let a = left.intValue, let b = right.intValue {
            switch op {
            case "+":
                let (r, o) = a.addingReportingOverflow(b)
                if o { throw overflow() }
                return .int(r)
            case "-":
                let (r, o) = a.subtractingReportingOverflow(b)
                if o { throw overflow() }
                return .int(r)
            case "*":
                let (r, o) = a.multipliedReportingOverflow(by: b)
                if o { throw overflow() }
                return .int(r)
            case "/":
                guard b != 0 else { throw runtime("division by zero", line) }
                return .double(Double(a) / Double(b))
            case "//", "%":
                guard b != 0 else { throw runtime("integer division or modulo by zero", line) }
                if a == Int.min && b == -1 { throw overflow() }
                var q = a / b
                var r = a % b
                if r != 0, (r < 0) != (b < 0) {
                    q -= 1
                    r += b
                }
                return .int(op == "//" ? q : r)
            case "**":
                if b < 0 { return .double(pow(Double(a), Double(b))) }
                var result = 1
                var base = a
                var exponent = b
                while exponent > 0 {
                    if exponent & 1 == 1 {
                        let (r, o) = result.multipliedReportingOverflow(by: base)
                        if o { throw overflow() }
                        result = r
                    }
                    exponent >>= 1
                    if exponent > 0 {
                        let (sq, o) = base.multipliedReportingOverflow(by: base)
                        if o { throw overflow() }
                        base = sq
                    }
                }
                return .int(result)
            default: throw unsupported()
            }
        }
        if let a = left.numberValue, let b = right.numberValue {
            switch op {
            case "+": return .double(a + b)
            case "-": return .double(a - b)
            case "*": return .double(a * b)
            case "/":
                guard b != 0 else { throw runtime("float division by zero", line) }
                return .double(a / b)
            case "//":
                guard b != 0 else { throw runtime("float floor division by zero", line) }
                return .double((a / b).rounded(.down))
            case "%":
                guard b != 0 else { throw runtime("float modulo", line) }
                var r = fmod(a, b)
                if r != 0, (r < 0) != (b < 0) { r += b }
                return .double(r)
            case "**": return .double(pow(a, b))
            default: throw unsupported()
            }
        }
        switch (op, left, right) {
        case let ("+", .string(a), .string(b)): return .string(a + b)
        case let ("+", .array(a), .array(b)): return .array(a + b)
        case ("*", .string, _), ("*", .array, _), ("*", _, .string), ("*", _, .array):
            let (sequence, countValue) = left.intValue != nil ? (right, left) : (left, right)
            guard let count = countValue.intValue else { throw unsupported() }
            let n = max(0, count)
            guard n <= 1_000_000 else { throw runtime("repetition count \(n) is too large", line) }
            if case .string(let s) = sequence { return .string(String(repeating: s, count: n)) }
            if case .array(let a) = sequence { return .array(Array([[JinjaValue]](repeating: a, count: n).joined())) }
            throw unsupported()
        case ("%", .string, _):
            throw ChatTemplateError(.unsupported, "unsupported string formatting with '%'", line: line)
        default:
            throw unsupported()
        }
    }

    /// Python `<`.
    static func lessThan(_ a: JinjaValue, _ b: JinjaValue, line: Int?) throws -> Bool {
        switch (a.plain, b.plain) {
        case let (.undefined(what), _), let (_, .undefined(what)):
            throw ChatTemplateError(.undefined, what, line: line)
        case let (.string(x), .string(y)):
            return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars)
        case let (.array(x), .array(y)):
            for (p, q) in zip(x, y) where !p.pyEquals(q) {
                return try lessThan(p, q, line: line)
            }
            return x.count < y.count
        default:
            if let x = a.intValue, let y = b.intValue { return x < y }
            if let x = a.numberValue, let y = b.numberValue { return x < y }
            throw runtime("'<' not supported between instances of '\(a.typeName)' and '\(b.typeName)'", line)
        }
    }

    static func compare(_ op: String, _ a: JinjaValue, _ b: JinjaValue, line: Int?) throws -> Bool {
        switch op {
        case "==": return a.pyEquals(b)
        case "!=": return !a.pyEquals(b)
        case "<": return try lessThan(a, b, line: line)
        case ">": return try lessThan(b, a, line: line)
        case "<=": return try !lessThan(b, a, line: line)
        case ">=": return try !lessThan(a, b, line: line)
        case "in": return try contains(b, a, line: line)
        case "notin": return try !contains(b, a, line: line)
        default: throw runtime("unknown comparison '\(op)'", line)
        }
    }

    /// Python `item in container`.
    static func contains(_ originalContainer: JinjaValue, _ originalItem: JinjaValue, line: Int?) throws -> Bool {
        let container = originalContainer.plain
        let item = originalItem.plain
        switch container {
        case .string(let s):
            guard case .string(let sub) = item else {
                throw runtime("'in <string>' requires string as left operand, not \(item.typeName)", line)
            }
            return JinjaText.find(Array(s.unicodeScalars), Array(sub.unicodeScalars), from: 0) != nil
        case .array(let items):
            return items.contains { $0.pyEquals(item) }
        case .object(let object):
            guard let key = JinjaKey(item) else { return false }
            return object[key] != nil
        case .namespace(let namespace):
            guard case .string(let key) = item else { return false }
            return namespace.attributes[key] != nil
        case .undefined:
            return false
        default:
            throw runtime("argument of type '\(container.typeName)' is not iterable", line)
        }
    }

    // MARK: Tests

    static func test(_ name: String, _ original: JinjaValue, _ arguments: Arguments, interpreter: JinjaInterpreter, line: Int) throws -> Bool {
        let value = original.plain
        func argument() throws -> JinjaValue {
            guard let first = arguments.positional.first ?? arguments.keyword.first?.value else {
                throw runtime("test '\(name)' needs an argument", line)
            }
            return first
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": return value.isNone
        case "boolean":
            if case .bool = value { return true }
            return false
        case "true":
            if case .bool(true) = value { return true }
            return false
        case "false":
            if case .bool(false) = value { return true }
            return false
        case "integer":
            if case .int = value { return true }
            return false
        case "float":
            if case .double = value { return true }
            return false
        case "number": return value.numberValue != nil
        case "string":
            if case .string = value { return true }
            return false
        case "mapping":
            if case .object = value { return true }
            return false
        case "iterable", "sequence":
            switch value {
            case .array, .object, .string, .undefined: return true
            default: return false
            }
        case "callable":
            switch value {
            case .callable: return true
            default: return false
            }
        case "odd", "even", "divisibleby":
            guard let i = value.intValue else { throw runtime("test '\(name)' needs an integer, got '\(value.typeName)'", line) }
            if name == "odd" { return i % 2 != 0 }
            if name == "even" { return i % 2 == 0 }
            guard let n = try argument().intValue, n != 0 else { throw runtime("divisibleby needs a non-zero integer", line) }
            return i % n == 0
        case "eq", "equalto": return value.pyEquals(try argument())
        case "ne": return !value.pyEquals(try argument())
        case "lt", "lessthan": return try lessThan(value, try argument(), line: line)
        case "gt", "greaterthan": return try lessThan(try argument(), value, line: line)
        case "le": return try !lessThan(try argument(), value, line: line)
        case "ge": return try !lessThan(value, try argument(), line: line)
        case "in": return try contains(try argument(), value, line: line)
        case "lower", "upper":
            guard case .string(let s) = value else { return false }
            return name == "lower" ? JinjaText.isLower(s) : JinjaText.isUpper(s)
        case "sameas":
            let other = try argument()
            switch (value, other) {
            case (.none, .none): return true
            case let (.bool(a), .bool(b)): return a == b
            case let (.namespace(a), .namespace(b)): return a === b
            case let (.int(a), .int(b)): return a == b
            case let (.string(a), .string(b)): return a == b
            default: return false
            }
        case "escaped": return false
        default:
            throw ChatTemplateError(.unsupported, "unsupported test '\(name)'", line: line)
        }
    }

    // MARK: Global functions

    static func callGlobal(_ name: String, _ arguments: Arguments, interpreter: JinjaInterpreter, line: Int) throws -> JinjaValue {
        switch name {
        case "range":
            guard arguments.keyword.isEmpty, (1...3).contains(arguments.positional.count) else {
                throw runtime("range() takes 1 to 3 integer arguments", line)
            }
            var ints: [Int] = []
            for value in arguments.positional {
                guard let i = value.intValue, !isFloat(value) else {
                    throw runtime("'\(value.typeName)' object cannot be interpreted as an integer", line)
                }
                ints.append(i)
            }
            let (start, stop, step) = ints.count == 1 ? (0, ints[0], 1) : (ints[0], ints[1], ints.count == 3 ? ints[2] : 1)
            guard step != 0 else { throw runtime("range() arg 3 must not be zero", line) }
            let count = step > 0 ? max(0, (stop - start + step - 1) / step) : max(0, (start - stop - step - 1) / -step)
            guard count <= 100_000 else { throw runtime("range too big (\(count) items, at most 100000)", line) }
            return .array((0..<count).map { .int(start + $0 * step) })
        case "namespace", "dict":
            var object = JinjaObject()
            for value in arguments.positional {
                guard case .object(let initial) = value else {
                    throw runtime("\(name)() positional argument must be a mapping", line)
                }
                for (k, v) in initial.pairs { object[k] = v }
            }
            for (k, v) in arguments.keyword { object[JinjaKey.string(k)] = v }
            return name == "dict" ? .object(object) : .namespace(JinjaNamespace(object))
        case "raise_exception":
            let message = arguments.positional.first ?? arguments.keyword.first?.value ?? .string("")
            throw ChatTemplateError(.raisedException, message.pyStr, line: line)
        case "strftime_now":
            guard case .string(let format)? = arguments.positional.first ?? arguments.keyword.first?.value else {
                throw runtime("strftime_now() needs a format string", line)
            }
            return .string(strftime(format, secondsSince1970: interpreter.fixedTime ?? Date().timeIntervalSince1970))
        default:
            throw ChatTemplateError(.undefined, "'\(name)' is undefined", line: line)
        }
    }

    /// C `strftime` in the local time zone, as Python's `datetime.now().strftime(format)`.
    static func strftime(_ format: String, secondsSince1970: Double) -> String {
        if format.isEmpty { return "" }
        var seconds = time_t(secondsSince1970.rounded(.down))
        var parts = tm()
        localtime_r(&seconds, &parts)
        var capacity = 256
        while capacity <= 65536 {
            var buffer = [CChar](repeating: 0, count: capacity)
            let written = Foundation.strftime(&buffer, capacity, format, &parts)
            if written > 0 {
                let bytes = buffer[0..<written].map { UInt8(bitPattern: $0) }
                return String(decoding: bytes, as: UTF8.self)
            }
            capacity *= 4
        }
        return ""
    }
}
