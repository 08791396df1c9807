extension JinjaBuiltins {
    /// Calls a Python method bound to `receiver` (`str`, `dict`, `list` and `loop.cycle`).
    static func callMethod(_ original: JinjaValue, _ name: String, _ arguments: Arguments, interpreter: JinjaInterpreter, line: Int) throws -> JinjaValue {
        func args(_ names: [String]) throws -> [JinjaValue?] { try bind(arguments, names, name, line: line) }
        func unsupported() -> ChatTemplateError {
            ChatTemplateError(.unsupported, "unsupported method '\(name)' on \(receiver.typeName)", line: line)
        }
        let receiver = original.plain
        switch receiver {
        case .loop(let loop):
            guard name == "cycle", !arguments.positional.isEmpty else { throw runtime("loop.cycle() needs arguments", line) }
            return arguments.positional[loop.index0 % arguments.positional.count]
        case .string(let s):
            if let result = try callStringMethod(s, name, args: args, arguments: arguments, interpreter: interpreter, line: line) {
                return result
            }
            throw unsupported()
        case .object(let object):
            switch name {
            case "items":
                _ = try args([])
                return .array(object.pairs.map { .tuple([$0.key.value, $0.value]) })
            case "keys":
                _ = try args([])
                return .array(object.keys.map(\.value))
            case "values":
                _ = try args([])
                return .array(object.values)
            case "get":
                let a = try args(["key", "default"])
                guard let key = a[0].flatMap(JinjaKey.init) else { return a[1] ?? .none }
                return object[key] ?? a[1] ?? .none
            case "copy":
                return receiver
            default:
                throw unsupported()
            }
        case .array(let items):
            switch name {
            case "count":
                let a = try args(["value"])
                return .int(items.filter { $0.pyEquals(a[0] ?? .none) }.count)
            case "index":
                let a = try args(["value"])
                guard let i = items.firstIndex(where: { $0.pyEquals(a[0] ?? .none) }) else {
                    throw runtime("\((a[0] ?? .none).pyRepr) is not in list", line)
                }
                return .int(i)
            case "copy":
                return receiver
            default:
                throw unsupported()
            }
        default:
            throw unsupported()
        }
    }

    private static func callStringMethod(
        _ s: String, _ name: String, args: ([String]) throws -> [JinjaValue?], arguments: Arguments,
        interpreter: JinjaInterpreter, line: Int
    ) throws -> JinjaValue? {
        func optionalString(_ v: JinjaValue?, _ what: String) throws -> String? {
            switch v {
            case nil, .none?: return nil
            case .string(let t)?: return t
            case let other?: throw runtime("\(name)() \(what) must be str or None, not \(other.typeName)", line)
            }
        }
        func requiredString(_ v: JinjaValue?, _ what: String) throws -> String {
            guard case .string(let t)? = v else { throw runtime("\(name)() \(what) must be str, not \((v ?? .none).typeName)", line) }
            return t
        }
        switch name {
        case "strip", "lstrip", "rstrip":
            let chars = try optionalString(try args(["chars"])[0], "argument")
            return .string(JinjaText.strip(s, chars, leading: name != "rstrip", trailing: name != "lstrip"))
        case "upper": return .string(s.uppercased())
        case "lower", "casefold": return .string(s.lowercased())
        case "title": return .string(JinjaText.pythonTitle(s))
        case "capitalize": return .string(JinjaText.capitalize(s))
        case "startswith", "endswith":
            let a = try args(["prefix", "start", "end"])
            let scalars = Array(s.unicodeScalars)
            let indices = sliceIndices(count: scalars.count, start: a[1]?.intValue, stop: a[2]?.intValue, step: 1)
            let window = Array(indices.map { scalars[$0] })
            var candidates: [String] = []
            switch a[0]?.plain {
            case .string(let p)?: candidates = [p]
            case .array(let items)?:
                for item in items { candidates.append(try requiredString(item, "tuple item")) }
            default: throw runtime("\(name) first arg must be str or a tuple of str", line)
            }
            return .bool(candidates.contains { candidate in
                let c = Array(candidate.unicodeScalars)
                return name == "startswith" ? window.starts(with: c) : window.reversed().starts(with: c.reversed())
            })
        case "split", "rsplit":
            let a = try args(["sep", "maxsplit"])
            let separator = try optionalString(a[0], "separator")
            if separator == "" { throw runtime("empty separator", line) }
            let maxSplit = a[1]?.intValue ?? -1
            let parts = name == "split" ? JinjaText.split(s, separator, maxSplit: maxSplit) : JinjaText.rsplit(s, separator, maxSplit: maxSplit)
            return .array(parts.map { .string($0) })
        case "splitlines":
            return .array(JinjaText.splitLines(s).map { .string($0) })
        case "replace":
            let a = try args(["old", "new", "count"])
            return .string(JinjaText.replace(s, try requiredString(a[0], "old"), try requiredString(a[1], "new"), count: a[2]?.intValue ?? -1))
        case "find", "rfind", "index", "rindex":
            let a = try args(["sub"])
            let needle = Array(try requiredString(a[0], "argument").unicodeScalars)
            let haystack = Array(s.unicodeScalars)
            let found = name.hasPrefix("r") ? JinjaText.findLast(haystack, needle) : JinjaText.find(haystack, needle, from: 0)
            if found == nil, name.hasSuffix("index") { throw runtime("substring not found", line) }
            return .int(found ?? -1)
        case "count":
            let a = try args(["sub"])
            return .int(JinjaText.count(s, try requiredString(a[0], "argument")))
        case "join":
            let a = try args(["iterable"])
            var parts: [String] = []
            for item in try interpreter.iterate(a[0] ?? .none, line: line) {
                parts.append(try requiredString(item, "sequence item"))
            }
            return .string(parts.joined(separator: s))
        case "removeprefix", "removesuffix":
            let a = try args(["affix"])
            let affix = try requiredString(a[0], "argument")
            let scalars = Array(s.unicodeScalars)
            let c = Array(affix.unicodeScalars)
            if name == "removeprefix", scalars.starts(with: c) { return .string(JinjaText.string(scalars.dropFirst(c.count))) }
            if name == "removesuffix", !c.isEmpty, scalars.reversed().starts(with: c.reversed()) {
                return .string(JinjaText.string(scalars.dropLast(c.count)))
            }
            return .string(s)
        case "isdigit", "isdecimal", "isnumeric":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil })
        case "isalpha":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic })
        case "isalnum":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        case "isspace":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(JinjaFormat.isSpace))
        case "islower": return .bool(JinjaText.isLower(s))
        case "isupper": return .bool(JinjaText.isUpper(s))
        case "format":
            return .string(try format(s, arguments, line: line))
        default:
            return nil
        }
    }

    /// `str.format` with `{}`, `{0}`, `{name}`, `{name.attr}` and `{{`/`}}`; no format specs.
    private static func format(_ template: String, _ arguments: Arguments, line: Int) throws -> String {
        var out = ""
        var automatic = 0
        let scalars = Array(template.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            if c == "{" {
                if i + 1 < scalars.count, scalars[i + 1] == "{" {
                    out += "{"
                    i += 2
                    continue
                }
                guard let close = scalars[(i + 1)...].firstIndex(of: "}") else {
                    throw runtime("single '{' encountered in format string", line)
                }
                let field = JinjaText.string(scalars[(i + 1)..<close])
                if field.contains(":") || field.contains("!") {
                    throw ChatTemplateError(.unsupported, "unsupported format spec in '{\(field)}'", line: line)
                }
                var parts = field.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                let head = parts.removeFirst()
                var value: JinjaValue
                if head.isEmpty {
                    guard automatic < arguments.positional.count else { throw runtime("format index \(automatic) out of range", line) }
                    value = arguments.positional[automatic]
                    automatic += 1
                } else if let index = Int(head) {
                    guard index < arguments.positional.count else { throw runtime("format index \(index) out of range", line) }
                    value = arguments.positional[index]
                } else {
                    guard let v = arguments.keyword.first(where: { $0.name == head })?.value else {
                        throw runtime("format key '\(head)' is missing", line)
                    }
                    value = v
                }
                for part in parts { value = attribute(of: value, part) }
                out += value.pyStr
                i = close + 1
            } else if c == "}" {
                guard i + 1 < scalars.count, scalars[i + 1] == "}" else {
                    throw runtime("single '}' encountered in format string", line)
                }
                out += "}"
                i += 2
            } else {
                out.unicodeScalars.append(c)
                i += 1
            }
        }
        return out
    }
}
