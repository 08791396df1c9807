/// Executes a parsed template. One interpreter per render call.
final class JinjaInterpreter {
    /// Seconds since 1970 that `strftime_now` formats; nil means the current time.
    let fixedTime: Double?
    private var loopDepth = 0
    private var callDepth = 0
    private static let maxCallDepth = 200

    init(fixedTime: Double?) { self.fixedTime = fixedTime }

    enum Flow {
        case normal, breakLoop, continueLoop
    }

    // MARK: Statements

    func render(_ nodes: [JinjaNode], scope: JinjaScope, into out: inout String) throws -> Flow {
        for node in nodes {
            let flow = try render(node, scope: scope, into: &out)
            if case .normal = flow { continue }
            return flow
        }
        return .normal
    }

    private func render(_ node: JinjaNode, scope: JinjaScope, into out: inout String) throws -> Flow {
        switch node {
        case .text(let text):
            out += text
        case .output(let expression):
            out += try evaluate(expression, scope).pyStr
        case .ifChain(let branches, let otherwise):
            for branch in branches {
                if try evaluate(branch.condition, scope).isTruthy {
                    return try render(branch.body, scope: scope, into: &out)
                }
            }
            return try render(otherwise, scope: scope, into: &out)
        case .forLoop(let target, let iterable, let condition, let body, let otherwise, let line):
            try renderFor(target: target, iterable: iterable, condition: condition, body: body, otherwise: otherwise,
                          line: line, scope: scope, into: &out)
        case .set(let target, let expression, let line):
            try assign(target, try evaluate(expression, scope), scope: scope, line: line)
        case .setBlock(let target, let filters, let body, let line):
            var captured = ""
            _ = try render(body, scope: scope, into: &captured)
            try assign(target, try applyFilters(filters, to: .string(captured), scope: scope), scope: scope, line: line)
        case .macro(let definition):
            scope.set(definition.name, .callable(.macro(JinjaMacro(definition: definition, scope: scope))))
        case .filterBlock(let filters, let body):
            var captured = ""
            let flow = try render(body, scope: scope, into: &captured)
            out += try applyFilters(filters, to: .string(captured), scope: scope).pyStr
            return flow
        case .with(let assignments, let body):
            let inner = JinjaScope(parent: scope)
            for (target, expression) in assignments {
                try assign(target, try evaluate(expression, scope), scope: inner, line: nil)
            }
            return try render(body, scope: inner, into: &out)
        case .breakLoop(let line):
            guard loopDepth > 0 else { throw ChatTemplateError(.syntax, "'break' outside of a loop", line: line) }
            return .breakLoop
        case .continueLoop(let line):
            guard loopDepth > 0 else { throw ChatTemplateError(.syntax, "'continue' outside of a loop", line: line) }
            return .continueLoop
        }
        return .normal
    }

    private func renderFor(
        target: JinjaTarget, iterable: JinjaExpression, condition: JinjaExpression?, body: [JinjaNode],
        otherwise: [JinjaNode], line: Int, scope: JinjaScope, into out: inout String
    ) throws {
        var items = try iterate(try evaluate(iterable, scope), line: line)
        if let condition {
            var kept: [JinjaValue] = []
            for item in items {
                let filterScope = JinjaScope(parent: scope)
                try assign(target, item, scope: filterScope, line: line)
                if try evaluate(condition, filterScope).isTruthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            _ = try render(otherwise, scope: scope, into: &out)
            return
        }
        loopDepth += 1
        defer { loopDepth -= 1 }
        for index in items.indices {
            // Each iteration gets a fresh frame: `set` inside the body does not outlive it (Jinja's scoping).
            let iterationScope = JinjaScope(parent: scope)
            try assign(target, items[index], scope: iterationScope, line: line)
            iterationScope.set("loop", .loop(JinjaLoop(items: items, index0: index, depth0: 0)))
            if case .breakLoop = try render(body, scope: iterationScope, into: &out) { break }
        }
    }

    private func assign(_ target: JinjaTarget, _ value: JinjaValue, scope: JinjaScope, line: Int?) throws {
        switch target {
        case .name(let name):
            scope.set(name, value)
        case .tuple(let targets):
            let items = try iterate(value, line: line)
            guard items.count == targets.count else {
                throw ChatTemplateError(.runtime, "cannot unpack \(items.count) values into \(targets.count) names", line: line)
            }
            for (t, item) in zip(targets, items) { try assign(t, item, scope: scope, line: line) }
        case .attribute(let name, let attribute):
            guard case .namespace(let namespace)? = scope.lookup(name) else {
                throw ChatTemplateError(.runtime, "cannot assign attribute on non-namespace object '\(name)'", line: line)
            }
            namespace.attributes[attribute] = value
        }
    }

    private func applyFilters(_ filters: [JinjaFilterCall], to value: JinjaValue, scope: JinjaScope) throws -> JinjaValue {
        var result = value
        for filter in filters {
            let arguments = try evaluateArguments(filter.arguments, scope)
            result = try JinjaBuiltins.filter(filter.name, result, arguments, interpreter: self, line: filter.line)
        }
        return result
    }

    // MARK: Expressions

    struct Arguments {
        var positional: [JinjaValue] = []
        var keyword: [(name: String, value: JinjaValue)] = []
    }

    private func evaluateArguments(_ arguments: JinjaArguments, _ scope: JinjaScope) throws -> Arguments {
        var result = Arguments()
        for p in arguments.positional { result.positional.append(try evaluate(p, scope)) }
        for k in arguments.keyword { result.keyword.append((k.name, try evaluate(k.value, scope))) }
        return result
    }

    func evaluate(_ expression: JinjaExpression, _ scope: JinjaScope) throws -> JinjaValue {
        switch expression {
        case .literal(let literal):
            switch literal {
            case .none: return .none
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .double(let d): return .double(d)
            case .string(let s): return .string(s)
            }
        case .name(let name, _):
            if let value = scope.lookup(name) { return value }
            if JinjaBuiltins.globalNames.contains(name) { return .callable(.global(name)) }
            return .undefined("'\(name)' is undefined")
        case .list(let items):
            var values: [JinjaValue] = []
            values.reserveCapacity(items.count)
            for item in items { values.append(try evaluate(item, scope)) }
            return .array(values)
        case .tuple(let items):
            var values: [JinjaValue] = []
            values.reserveCapacity(items.count)
            for item in items { values.append(try evaluate(item, scope)) }
            return .tuple(values)
        case .dict(let pairs):
            var object = JinjaObject()
            for pair in pairs {
                let key = try evaluate(pair.key, scope)
                guard let k = JinjaKey(key) else {
                    throw ChatTemplateError(.unsupported, "unsupported dict key of type '\(key.typeName)'")
                }
                object[k] = try evaluate(pair.value, scope)
            }
            return .object(object)
        case .attribute(let base, let name, _):
            return JinjaBuiltins.attribute(of: try evaluate(base, scope), name)
        case .item(let base, let index, _):
            return JinjaBuiltins.item(of: try evaluate(base, scope), try evaluate(index, scope))
        case .slice(let base, let start, let stop, let step, let line):
            let value = try evaluate(base, scope)
            let startValue = try start.map { try evaluate($0, scope) }
            let stopValue = try stop.map { try evaluate($0, scope) }
            let stepValue = try step.map { try evaluate($0, scope) }
            return try JinjaBuiltins.slice(value, startValue, stopValue, stepValue, line: line)
        case .call(let callee, let arguments, let line):
            let function = try evaluate(callee, scope)
            let values = try evaluateArguments(arguments, scope)
            return try call(function, values, line: line)
        case .filter(let base, let name, let arguments, let line):
            let value = try evaluate(base, scope)
            return try JinjaBuiltins.filter(name, value, try evaluateArguments(arguments, scope), interpreter: self, line: line)
        case .test(let base, let name, let arguments, let negated, let line):
            let value = try evaluate(base, scope)
            let result = try JinjaBuiltins.test(name, value, try evaluateArguments(arguments, scope), interpreter: self, line: line)
            return .bool(result != negated)
        case .unary(let op, let operand, let line):
            let value = try evaluate(operand, scope)
            switch value {
            case .int(let i):
                if op == "+" { return .int(i) }
                guard i != Int.min else { throw ChatTemplateError(.runtime, "integer overflow", line: line) }
                return .int(-i)
            case .bool(let b): return .int(op == "-" ? (b ? -1 : 0) : (b ? 1 : 0))
            case .double(let d): return .double(op == "-" ? -d : d)
            case .undefined(let what): throw ChatTemplateError(.undefined, what, line: line)
            default:
                throw ChatTemplateError(.runtime, "bad operand type for unary \(op): '\(value.typeName)'", line: line)
            }
        case .binary(let op, let left, let right, let line):
            return try JinjaBuiltins.binary(op, try evaluate(left, scope), try evaluate(right, scope), line: line)
        case .compare(let first, let operands, let line):
            var left = try evaluate(first, scope)
            for (op, operandExpression) in operands {
                let right = try evaluate(operandExpression, scope)
                guard try JinjaBuiltins.compare(op, left, right, line: line) else { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .and(let left, let right):
            let l = try evaluate(left, scope)
            return l.isTruthy ? try evaluate(right, scope) : l
        case .or(let left, let right):
            let l = try evaluate(left, scope)
            return l.isTruthy ? l : try evaluate(right, scope)
        case .not(let operand):
            return .bool(!(try evaluate(operand, scope).isTruthy))
        case .conditional(let condition, let then, let otherwise):
            if try evaluate(condition, scope).isTruthy { return try evaluate(then, scope) }
            if let otherwise { return try evaluate(otherwise, scope) }
            return .undefined("the inline if-expression evaluated to false and no else section was defined")
        }
    }

    /// Iterates a value as Python's `for` would.
    func iterate(_ value: JinjaValue, line: Int?) throws -> [JinjaValue] {
        switch value.plain {
        case .array(let items): return items
        case .object(let object): return object.keys.map(\.value)
        case .string(let s): return s.unicodeScalars.map { .string(String(Character($0))) }
        case .undefined: return []
        default:
            throw ChatTemplateError(.runtime, "'\(value.typeName)' object is not iterable", line: line)
        }
    }

    func call(_ function: JinjaValue, _ arguments: Arguments, line: Int) throws -> JinjaValue {
        switch function {
        case .callable(.global(let name)):
            return try JinjaBuiltins.callGlobal(name, arguments, interpreter: self, line: line)
        case .callable(.method(let receiver, let name)):
            return try JinjaBuiltins.callMethod(receiver, name, arguments, interpreter: self, line: line)
        case .callable(.macro(let macro)):
            return try callMacro(macro, arguments, line: line)
        case .undefined(let what):
            throw ChatTemplateError(.undefined, what, line: line)
        default:
            throw ChatTemplateError(.runtime, "'\(function.typeName)' object is not callable", line: line)
        }
    }

    private func callMacro(_ macro: JinjaMacro, _ arguments: Arguments, line: Int) throws -> JinjaValue {
        let definition = macro.definition
        guard arguments.positional.count <= definition.parameters.count else {
            throw ChatTemplateError(.runtime, "macro '\(definition.name)' takes not more than \(definition.parameters.count) argument(s)", line: line)
        }
        guard callDepth < Self.maxCallDepth else {
            throw ChatTemplateError(.runtime, "macro '\(definition.name)' recursed too deeply", line: line)
        }
        let scope = JinjaScope(parent: macro.scope)
        var keyword: [String: JinjaValue] = [:]
        for (name, value) in arguments.keyword {
            guard definition.parameters.contains(where: { $0.name == name }) else {
                throw ChatTemplateError(.runtime, "macro '\(definition.name)' takes no keyword argument '\(name)'", line: line)
            }
            keyword[name] = value
        }
        for (i, parameter) in definition.parameters.enumerated() {
            if i < arguments.positional.count {
                scope.set(parameter.name, arguments.positional[i])
            } else if let value = keyword[parameter.name] {
                scope.set(parameter.name, value)
            } else if let defaultValue = parameter.defaultValue {
                scope.set(parameter.name, try evaluate(defaultValue, scope))
            } else {
                scope.set(parameter.name, .undefined("'\(parameter.name)' is undefined"))
            }
        }
        callDepth += 1
        let savedLoopDepth = loopDepth
        loopDepth = 0
        defer {
            callDepth -= 1
            loopDepth = savedLoopDepth
        }
        var out = ""
        _ = try render(definition.body, scope: scope, into: &out)
        return .string(out)
    }
}
