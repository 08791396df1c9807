/// A value while rendering: Python's data model as far as chat templates need it.
enum JinjaValue {
    /// Jinja's default `Undefined`: renders as "", is falsy and iterates as empty; arithmetic on it raises.
    /// The payload describes what was undefined, for error messages.
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    /// MarkupSafe's `Markup` (from `safe` and `escape`): a string that escapes plain strings added to it.
    case markup(String)
    /// Python lists.
    case array([JinjaValue])
    /// Python tuples: like lists except for `repr`.
    case tuple([JinjaValue])
    case object(JinjaObject)
    case namespace(JinjaNamespace)
    case loop(JinjaLoop)
    case callable(JinjaCallable)

    init(_ value: TemplateValue) {
        switch value {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let items): self = .array(items.map(JinjaValue.init))
        case .object(let pairs):
            var object = JinjaObject()
            for (key, value) in pairs { object[key] = JinjaValue(value) }
            self = .object(object)
        }
    }

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// Markup as a plain string, tuples as lists; other values unchanged. Everything but `+`, `safe`,
    /// `escape` and `repr` works on this.
    var plain: JinjaValue {
        switch self {
        case .markup(let s): .string(s)
        case .tuple(let items): .array(items)
        default: self
        }
    }

    var isNone: Bool {
        if case .none = self { return true }
        return false
    }

    /// Python truthiness.
    var isTruthy: Bool {
        switch self {
        case .undefined, .none: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .double(let d): d != 0
        case .string(let s), .markup(let s): !s.isEmpty
        case .array(let a), .tuple(let a): !a.isEmpty
        case .object(let o): o.count > 0
        case .namespace, .loop, .callable: true
        }
    }

    /// The Python type name, as error messages show it.
    var typeName: String {
        switch self {
        case .undefined: "Undefined"
        case .none: "NoneType"
        case .bool: "bool"
        case .int: "int"
        case .double: "float"
        case .string: "str"
        case .markup: "Markup"
        case .array: "list"
        case .tuple: "tuple"
        case .object: "dict"
        case .namespace: "Namespace"
        case .loop: "LoopContext"
        case .callable: "function"
        }
    }

    /// A number as Double (bools count as 0/1, as in Python), or nil.
    var numberValue: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }

    /// An integer (bools count as 0/1), or nil.
    var intValue: Int? {
        switch self {
        case .int(let i): i
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }

    /// Python `==`.
    func pyEquals(_ other: JinjaValue) -> Bool {
        switch (self.plain, other.plain) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.string(a), .string(b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case let (.array(a), .array(b)): return a.count == b.count && zip(a, b).allSatisfy { $0.pyEquals($1) }
        case let (.object(a), .object(b)):
            guard a.count == b.count else { return false }
            for (key, value) in a.pairs {
                guard let v = b[key], v.pyEquals(value) else { return false }
            }
            return true
        case let (.namespace(a), .namespace(b)): return a === b
        case let (.int(a), .int(b)): return a == b
        default:
            if let a = intValue, let b = other.intValue { return a == b }
            if let a = numberValue, let b = other.numberValue { return a == b }
            return false
        }
    }

    /// Python `str(value)`; Undefined renders as "".
    var pyStr: String {
        switch self {
        case .undefined: ""
        case .string(let s), .markup(let s): s
        default: pyRepr
        }
    }

    /// Python `repr(value)`.
    var pyRepr: String {
        switch self {
        case .undefined: "Undefined"
        case .none: "None"
        case .bool(let b): b ? "True" : "False"
        case .int(let i): String(i)
        case .double(let d): JinjaFormat.float(d)
        case .string(let s): JinjaFormat.repr(s)
        case .markup(let s): "Markup(" + JinjaFormat.repr(s) + ")"
        case .array(let a): "[" + a.map(\.pyRepr).joined(separator: ", ") + "]"
        case .tuple(let a): "(" + a.map(\.pyRepr).joined(separator: ", ") + (a.count == 1 ? ",)" : ")")
        case .object(let o): "{" + o.pairs.map { $0.key.value.pyRepr + ": " + $0.value.pyRepr }.joined(separator: ", ") + "}"
        case .namespace(let n): "<Namespace " + JinjaValue.object(n.attributes).pyRepr + ">"
        case .loop: "<LoopContext>"
        case .callable(let c): c.description
        }
    }
}

/// A Python dict key: a string or an integer (bools and integral floats hash as integers, as in Python).
enum JinjaKey: Hashable {
    case string(String)
    case int(Int)

    init?(_ value: JinjaValue) {
        switch value {
        case .string(let s), .markup(let s): self = .string(s)
        case .int(let i): self = .int(i)
        case .bool(let b): self = .int(b ? 1 : 0)
        case .double(let d):
            guard d.rounded() == d, abs(d) < 9.2e18 else { return nil }
            self = .int(Int(d))
        default: return nil
        }
    }

    var value: JinjaValue {
        switch self {
        case .string(let s): .string(s)
        case .int(let i): .int(i)
        }
    }

    /// The key as `json.dumps` writes it.
    var jsonKey: String {
        switch self {
        case .string(let s): s
        case .int(let i): String(i)
        }
    }
}

/// A Python dict, in insertion order.
struct JinjaObject {
    private(set) var keys: [JinjaKey] = []
    private var storage: [JinjaKey: JinjaValue] = [:]

    init() {}

    var count: Int { keys.count }

    subscript(key: JinjaKey) -> JinjaValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    subscript(key: String) -> JinjaValue? {
        get { self[JinjaKey.string(key)] }
        set { self[JinjaKey.string(key)] = newValue }
    }

    var pairs: [(key: JinjaKey, value: JinjaValue)] { keys.map { (key: $0, value: storage[$0]!) } }
    var values: [JinjaValue] { keys.map { storage[$0]! } }
}

/// `namespace(...)`: the one mutable object templates can assign attributes on.
final class JinjaNamespace {
    var attributes: JinjaObject
    init(_ attributes: JinjaObject) { self.attributes = attributes }
}

/// The `loop` variable inside a `for` body.
struct JinjaLoop {
    let items: [JinjaValue]
    let index0: Int
    let depth0: Int

    func attribute(_ name: String) -> JinjaValue? {
        let length = items.count
        switch name {
        case "index": return .int(index0 + 1)
        case "index0": return .int(index0)
        case "revindex": return .int(length - index0)
        case "revindex0": return .int(length - index0 - 1)
        case "first": return .bool(index0 == 0)
        case "last": return .bool(index0 == length - 1)
        case "length": return .int(length)
        case "depth": return .int(depth0 + 1)
        case "depth0": return .int(depth0)
        case "previtem": return index0 > 0 ? items[index0 - 1] : .undefined("there is no previous item")
        case "nextitem": return index0 + 1 < length ? items[index0 + 1] : .undefined("there is no next item")
        case "cycle": return .callable(.method(.loop(self), "cycle"))
        default: return nil
        }
    }
}

/// A user-defined macro and the scope it was defined in.
final class JinjaMacro {
    let definition: JinjaMacroDefinition
    let scope: JinjaScope
    init(definition: JinjaMacroDefinition, scope: JinjaScope) {
        self.definition = definition
        self.scope = scope
    }
}

/// Something a template can call.
indirect enum JinjaCallable: CustomStringConvertible {
    /// A global function (`range`, `namespace`, `raise_exception`, `strftime_now`, `dict`).
    case global(String)
    /// A method bound to its receiver (`message.content.strip`, `d.items`).
    case method(JinjaValue, String)
    case macro(JinjaMacro)

    var description: String {
        switch self {
        case .global(let name): "<built-in function \(name)>"
        case .method(let receiver, let name): "<built-in method \(name) of \(receiver.typeName) object>"
        case .macro(let m): "<Macro '\(m.definition.name)'>"
        }
    }
}

/// Variables visible at one point: a chain of frames (template, for-loop iteration, macro call).
final class JinjaScope {
    private var variables: [String: JinjaValue] = [:]
    let parent: JinjaScope?

    init(parent: JinjaScope?) { self.parent = parent }

    func lookup(_ name: String) -> JinjaValue? {
        var scope: JinjaScope? = self
        while let s = scope {
            if let v = s.variables[name] { return v }
            scope = s.parent
        }
        return nil
    }

    func set(_ name: String, _ value: JinjaValue) { variables[name] = value }
}
