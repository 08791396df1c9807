/// Recursive-descent parser following Jinja2's grammar and operator precedence.
struct JinjaParser {
    private let tokens: [JinjaToken]
    private var index = 0

    init(tokens: [JinjaToken]) { self.tokens = tokens }

    mutating func parseTemplate() throws(ChatTemplateError) -> [JinjaNode] {
        let (nodes, _) = try parseBody(until: [])
        return nodes
    }

    // MARK: Token helpers

    private var current: JinjaToken { tokens[index] }
    private var next: JinjaToken { tokens[min(index + 1, tokens.count - 1)] }
    private var line: Int { current.line }

    private mutating func advance() { if index < tokens.count - 1 { index += 1 } }

    private func isName(_ name: String) -> Bool {
        if case .name(name) = current.kind { return true }
        return false
    }

    private func isOp(_ op: String) -> Bool {
        if case .op(op) = current.kind { return true }
        return false
    }

    private static func describe(_ kind: JinjaToken.Kind) -> String {
        switch kind {
        case .text: "template text"
        case .variableBegin: "'{{'"
        case .variableEnd: "'}}'"
        case .blockBegin: "'{%'"
        case .blockEnd: "'%}'"
        case .name(let n): "'\(n)'"
        case .string(let s): JinjaFormat.repr(s)
        case .integer(let i): "\(i)"
        case .float(let d): JinjaFormat.float(d)
        case .op(let o): "'\(o)'"
        case .end: "end of template"
        }
    }

    private func syntaxError(_ message: String) -> ChatTemplateError {
        ChatTemplateError(.syntax, message, line: line)
    }

    private func unexpected(_ expected: String) -> ChatTemplateError {
        syntaxError("expected \(expected), got \(Self.describe(current.kind))")
    }

    private mutating func expectOp(_ op: String) throws(ChatTemplateError) {
        guard isOp(op) else { throw unexpected("'\(op)'") }
        advance()
    }

    private mutating func expectName() throws(ChatTemplateError) -> String {
        guard case .name(let n) = current.kind else { throw unexpected("a name") }
        advance()
        return n
    }

    private mutating func expectKeyword(_ word: String) throws(ChatTemplateError) {
        guard isName(word) else { throw unexpected("'\(word)'") }
        advance()
    }

    private mutating func expectBlockEnd() throws(ChatTemplateError) {
        guard case .blockEnd = current.kind else { throw unexpected("end of block tag '%}'") }
        advance()
    }

    // MARK: Template structure

    /// Parses nodes up to a block tag named in `terminators`; consumes `{%` and the tag name, not the rest.
    private mutating func parseBody(until terminators: Set<String>) throws(ChatTemplateError) -> ([JinjaNode], String?) {
        var nodes: [JinjaNode] = []
        while true {
            let token = current
            switch token.kind {
            case .text(let s):
                advance()
                nodes.append(.text(s))
            case .variableBegin:
                advance()
                let expression = try parseTuple()
                guard case .variableEnd = current.kind else { throw unexpected("end of print statement '}}'") }
                advance()
                nodes.append(.output(expression))
            case .blockBegin:
                advance()
                let tagLine = line
                let name = try expectName()
                if terminators.contains(name) { return (nodes, name) }
                nodes.append(contentsOf: try parseStatement(name, line: tagLine))
            case .end:
                if !terminators.isEmpty {
                    let expected = terminators.sorted().map { "'\($0)'" }.joined(separator: " or ")
                    throw ChatTemplateError(.syntax, "unexpected end of template, expected \(expected)", line: token.line)
                }
                return (nodes, nil)
            default:
                throw unexpected("template text or a tag")
            }
        }
    }

    private static let unsupportedTags: Set<String> = [
        "include", "extends", "block", "import", "from", "call", "autoescape", "do", "trans", "pluralize",
        "endblock", "endcall", "endautoescape", "endtrans",
    ]

    private mutating func parseStatement(_ name: String, line tagLine: Int) throws(ChatTemplateError) -> [JinjaNode] {
        switch name {
        case "for": return [try parseFor(line: tagLine)]
        case "if": return [try parseIf()]
        case "set": return [try parseSet(line: tagLine)]
        case "macro": return [try parseMacro()]
        case "filter":
            let filters = try parseFilterChain()
            try expectBlockEnd()
            let (body, _) = try parseBody(until: ["endfilter"])
            try expectBlockEnd()
            return [.filterBlock(filters, body: body)]
        case "with":
            var assignments: [(target: JinjaTarget, value: JinjaExpression)] = []
            while !(isBlockEnd) {
                if !assignments.isEmpty { try expectOp(",") }
                let target = try parseAssignTarget(allowNamespace: false)
                try expectOp("=")
                assignments.append((target, try parseExpression()))
            }
            try expectBlockEnd()
            let (body, _) = try parseBody(until: ["endwith"])
            try expectBlockEnd()
            return [.with(assignments, body: body)]
        case "break":
            try expectBlockEnd()
            return [.breakLoop(line: tagLine)]
        case "continue":
            try expectBlockEnd()
            return [.continueLoop(line: tagLine)]
        case "generation":
            // Hugging Face's assistant-mask marker: renders its body unchanged.
            try expectBlockEnd()
            let (body, _) = try parseBody(until: ["endgeneration"])
            try expectBlockEnd()
            return body
        default:
            if Self.unsupportedTags.contains(name) {
                throw ChatTemplateError(.unsupported, "unsupported tag '\(name)'", line: tagLine)
            }
            if name.hasPrefix("end") || name == "else" || name == "elif" {
                throw ChatTemplateError(.syntax, "unexpected tag '\(name)'", line: tagLine)
            }
            throw ChatTemplateError(.unsupported, "unsupported tag '\(name)'", line: tagLine)
        }
    }

    private var isBlockEnd: Bool {
        if case .blockEnd = current.kind { return true }
        return false
    }

    private mutating func parseFor(line tagLine: Int) throws(ChatTemplateError) -> JinjaNode {
        let target = try parseAssignTarget(allowNamespace: false)
        try expectKeyword("in")
        let iterable = try parseTuple(withCondexpr: false, extraEnd: ["recursive"])
        var condition: JinjaExpression?
        if isName("if") {
            advance()
            condition = try parseExpression()
        }
        if isName("recursive") {
            throw ChatTemplateError(.unsupported, "unsupported recursive for loop", line: line)
        }
        try expectBlockEnd()
        let (body, terminator) = try parseBody(until: ["endfor", "else"])
        var otherwise: [JinjaNode] = []
        if terminator == "else" {
            try expectBlockEnd()
            (otherwise, _) = try parseBody(until: ["endfor"])
        }
        try expectBlockEnd()
        return .forLoop(target: target, iterable: iterable, condition: condition, body: body, otherwise: otherwise, line: tagLine)
    }

    private mutating func parseIf() throws(ChatTemplateError) -> JinjaNode {
        var branches: [(condition: JinjaExpression, body: [JinjaNode])] = []
        var condition = try parseTuple(withCondexpr: false)
        while true {
            try expectBlockEnd()
            let (body, terminator) = try parseBody(until: ["elif", "else", "endif"])
            branches.append((condition, body))
            switch terminator {
            case "elif":
                condition = try parseTuple(withCondexpr: false)
            case "else":
                try expectBlockEnd()
                let (otherwise, _) = try parseBody(until: ["endif"])
                try expectBlockEnd()
                return .ifChain(branches, otherwise: otherwise)
            default:
                try expectBlockEnd()
                return .ifChain(branches, otherwise: [])
            }
        }
    }

    private mutating func parseSet(line tagLine: Int) throws(ChatTemplateError) -> JinjaNode {
        let target = try parseAssignTarget(allowNamespace: true)
        if isOp("=") {
            advance()
            let value = try parseTuple()
            try expectBlockEnd()
            return .set(target, value, line: tagLine)
        }
        var filters: [JinjaFilterCall] = []
        if isOp("|") {
            advance()
            filters = try parseFilterChain()
        }
        try expectBlockEnd()
        let (body, _) = try parseBody(until: ["endset"])
        try expectBlockEnd()
        return .setBlock(target, filters: filters, body: body, line: tagLine)
    }

    private mutating func parseMacro() throws(ChatTemplateError) -> JinjaNode {
        let name = try expectName()
        try expectOp("(")
        var parameters: [(name: String, defaultValue: JinjaExpression?)] = []
        while !isOp(")") {
            if !parameters.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            let parameter = try expectName()
            var defaultValue: JinjaExpression?
            if isOp("=") {
                advance()
                defaultValue = try parseExpression()
            } else if parameters.contains(where: { $0.defaultValue != nil }) {
                throw syntaxError("non-default argument follows default argument")
            }
            parameters.append((parameter, defaultValue))
        }
        advance()
        try expectBlockEnd()
        let (body, _) = try parseBody(until: ["endmacro"])
        if case .name = current.kind { advance() }  // `{% endmacro name %}`
        try expectBlockEnd()
        return .macro(JinjaMacroDefinition(name: name, parameters: parameters, body: body))
    }

    /// `name(args) | name2 ...` as in `{% filter %}` and block `set`.
    private mutating func parseFilterChain() throws(ChatTemplateError) -> [JinjaFilterCall] {
        var filters: [JinjaFilterCall] = []
        repeat {
            if !filters.isEmpty { advance() }  // the pipe
            let filterLine = line
            let name = try parseDottedName()
            try Self.checkFilter(name, line: filterLine)
            var arguments = JinjaArguments()
            if isOp("(") { arguments = try parseCallArguments() }
            filters.append(JinjaFilterCall(name: name, arguments: arguments, line: filterLine))
        } while isOp("|")
        return filters
    }

    private mutating func parseAssignTarget(allowNamespace: Bool) throws(ChatTemplateError) -> JinjaTarget {
        if allowNamespace, case .name(let n) = current.kind, case .op(".") = next.kind {
            advance()
            advance()
            return .attribute(n, try expectName())
        }
        var items: [JinjaTarget] = []
        var sawComma = false
        while true {
            if isOp("(") {
                advance()
                items.append(try parseAssignTarget(allowNamespace: false))
                try expectOp(")")
            } else {
                let n = try expectName()
                items.append(.name(n))
            }
            guard isOp(",") else { break }
            advance()
            sawComma = true
            if isName("in") || isOp("=") || isOp(")") { break }
        }
        return items.count == 1 && !sawComma ? items[0] : .tuple(items)
    }

    // MARK: Expressions

    private func isTupleEnd(_ extraEnd: Set<String>) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .end: return true
        case .op(")"): return true
        case .name(let n): return extraEnd.contains(n)
        default: return false
        }
    }

    /// An expression, or a tuple if commas follow (`a, b`).
    mutating func parseTuple(withCondexpr: Bool = true, explicitParentheses: Bool = false, extraEnd: Set<String> = []) throws(ChatTemplateError) -> JinjaExpression {
        var items: [JinjaExpression] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            if isTupleEnd(extraEnd) { break }
            items.append(withCondexpr ? try parseExpression() : try parseOr())
            if isOp(",") {
                isTuple = true
            } else {
                break
            }
        }
        if !isTuple {
            if let first = items.first { return first }
            if !explicitParentheses { throw unexpected("an expression") }
        }
        return .tuple(items)
    }

    mutating func parseExpression() throws(ChatTemplateError) -> JinjaExpression {
        var expression = try parseOr()
        while isName("if") {
            advance()
            let condition = try parseOr()
            var otherwise: JinjaExpression?
            if isName("else") {
                advance()
                otherwise = try parseExpression()
            }
            expression = .conditional(condition: condition, then: expression, otherwise: otherwise)
        }
        return expression
    }

    private mutating func parseOr() throws(ChatTemplateError) -> JinjaExpression {
        var left = try parseAnd()
        while isName("or") {
            advance()
            left = .or(left, try parseAnd())
        }
        return left
    }

    private mutating func parseAnd() throws(ChatTemplateError) -> JinjaExpression {
        var left = try parseNot()
        while isName("and") {
            advance()
            left = .and(left, try parseNot())
        }
        return left
    }

    private mutating func parseNot() throws(ChatTemplateError) -> JinjaExpression {
        if isName("not") {
            advance()
            return .not(try parseNot())
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws(ChatTemplateError) -> JinjaExpression {
        let compareLine = line
        let first = try parseMath1()
        var operands: [(op: String, operand: JinjaExpression)] = []
        while true {
            if case .op(let op) = current.kind, ["==", "!=", "<", "<=", ">", ">="].contains(op) {
                advance()
                operands.append((op, try parseMath1()))
            } else if isName("in") {
                advance()
                operands.append(("in", try parseMath1()))
            } else if isName("not"), case .name("in") = next.kind {
                advance()
                advance()
                operands.append(("notin", try parseMath1()))
            } else {
                break
            }
        }
        return operands.isEmpty ? first : .compare(first, operands, line: compareLine)
    }

    private mutating func parseMath1() throws(ChatTemplateError) -> JinjaExpression {
        var left = try parseConcat()
        while case .op(let op) = current.kind, op == "+" || op == "-" {
            let opLine = line
            advance()
            left = .binary(op, left, try parseConcat(), line: opLine)
        }
        return left
    }

    private mutating func parseConcat() throws(ChatTemplateError) -> JinjaExpression {
        var left = try parseMath2()
        while isOp("~") {
            let opLine = line
            advance()
            left = .binary("~", left, try parseMath2(), line: opLine)
        }
        return left
    }

    private mutating func parseMath2() throws(ChatTemplateError) -> JinjaExpression {
        var left = try parsePow()
        while case .op(let op) = current.kind, op == "*" || op == "/" || op == "//" || op == "%" {
            let opLine = line
            advance()
            left = .binary(op, left, try parsePow(), line: opLine)
        }
        return left
    }

    private mutating func parsePow() throws(ChatTemplateError) -> JinjaExpression {
        var left = try parseUnary()
        while isOp("**") {
            let opLine = line
            advance()
            left = .binary("**", left, try parseUnary(), line: opLine)
        }
        return left
    }

    private mutating func parseUnary(withFilter: Bool = true) throws(ChatTemplateError) -> JinjaExpression {
        var node: JinjaExpression
        if case .op(let op) = current.kind, op == "-" || op == "+" {
            let opLine = line
            advance()
            node = .unary(op, try parseUnary(withFilter: false), line: opLine)
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpression(node) }
        return node
    }

    private mutating func parsePrimary() throws(ChatTemplateError) -> JinjaExpression {
        let token = current
        switch token.kind {
        case .name(let n):
            advance()
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n, line: token.line)
            }
        case .string(var s):
            advance()
            while case .string(let more) = current.kind {
                s += more
                advance()
            }
            return .literal(.string(s))
        case .integer(let i):
            advance()
            return .literal(.int(i))
        case .float(let d):
            advance()
            return .literal(.double(d))
        case .op("("):
            advance()
            let expression = try parseTuple(explicitParentheses: true)
            try expectOp(")")
            return expression
        case .op("["):
            advance()
            var items: [JinjaExpression] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            advance()
            return .list(items)
        case .op("{"):
            advance()
            var pairs: [(key: JinjaExpression, value: JinjaExpression)] = []
            while !isOp("}") {
                if !pairs.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let key = try parseExpression()
                try expectOp(":")
                pairs.append((key, try parseExpression()))
            }
            advance()
            return .dict(pairs)
        default:
            throw unexpected("an expression")
        }
    }

    private mutating func parsePostfix(_ start: JinjaExpression) throws(ChatTemplateError) -> JinjaExpression {
        var node = start
        while true {
            let postfixLine = line
            if isOp(".") {
                advance()
                switch current.kind {
                case .name(let n):
                    advance()
                    node = .attribute(node, n, line: postfixLine)
                case .integer(let i):
                    advance()
                    node = .item(node, .literal(.int(i)), line: postfixLine)
                default:
                    throw unexpected("an attribute name")
                }
            } else if isOp("[") {
                advance()
                node = try parseSubscript(node, line: postfixLine)
            } else if isOp("(") {
                node = .call(node, try parseCallArguments(), line: postfixLine)
            } else {
                return node
            }
        }
    }

    private mutating func parseSubscript(_ node: JinjaExpression, line subscriptLine: Int) throws(ChatTemplateError) -> JinjaExpression {
        var start: JinjaExpression?
        if !isOp(":") {
            start = try parseExpression()
            if isOp("]") {
                advance()
                return .item(node, start!, line: subscriptLine)
            }
            if isOp(",") {
                throw ChatTemplateError(.unsupported, "unsupported tuple subscript", line: subscriptLine)
            }
        }
        try expectOp(":")
        var stop: JinjaExpression?
        var step: JinjaExpression?
        if !isOp("]") && !isOp(":") { stop = try parseExpression() }
        if isOp(":") {
            advance()
            if !isOp("]") { step = try parseExpression() }
        }
        try expectOp("]")
        return .slice(node, start: start, stop: stop, step: step, line: subscriptLine)
    }

    private mutating func parseCallArguments() throws(ChatTemplateError) -> JinjaArguments {
        try expectOp("(")
        var arguments = JinjaArguments()
        var first = true
        while !isOp(")") {
            if !first {
                try expectOp(",")
                if isOp(")") { break }
            }
            first = false
            if isOp("*") || isOp("**") {
                throw ChatTemplateError(.unsupported, "unsupported *args/**kwargs in a call", line: line)
            }
            if case .name(let n) = current.kind, case .op("=") = next.kind {
                advance()
                advance()
                arguments.keyword.append((n, try parseExpression()))
            } else {
                if !arguments.keyword.isEmpty { throw syntaxError("positional argument follows keyword argument") }
                arguments.positional.append(try parseExpression())
            }
        }
        advance()
        return arguments
    }

    private mutating func parseDottedName() throws(ChatTemplateError) -> String {
        var name = try expectName()
        while isOp("."), case .name(let more) = next.kind {
            advance()
            advance()
            name += "." + more
        }
        return name
    }

    private mutating func parseFilterExpression(_ start: JinjaExpression) throws(ChatTemplateError) -> JinjaExpression {
        var node = start
        while true {
            let filterLine = line
            if isOp("|") {
                advance()
                let name = try parseDottedName()
                try Self.checkFilter(name, line: filterLine)
                var arguments = JinjaArguments()
                if isOp("(") { arguments = try parseCallArguments() }
                node = .filter(node, name: name, arguments, line: filterLine)
            } else if isName("is") {
                advance()
                var negated = false
                if isName("not") {
                    advance()
                    negated = true
                }
                let name = try parseDottedName()
                guard JinjaBuiltins.testNames.contains(name) else {
                    throw ChatTemplateError(.unsupported, "unsupported test '\(name)'", line: filterLine)
                }
                var arguments = JinjaArguments()
                if isOp("(") {
                    arguments = try parseCallArguments()
                } else {
                    var startsArgument = false
                    switch current.kind {
                    case .name(let n): startsArgument = !["else", "or", "and"].contains(n)
                    case .string, .integer, .float, .op("["), .op("{"): startsArgument = true
                    default: break
                    }
                    if startsArgument {
                        if isName("is") { throw syntaxError("you cannot chain multiple tests with is") }
                        arguments.positional = [try parsePostfix(try parsePrimary())]
                    }
                }
                node = .test(node, name: name, arguments, negated: negated, line: filterLine)
            } else if isOp("(") {
                node = .call(node, try parseCallArguments(), line: filterLine)
            } else {
                return node
            }
        }
    }

    private static func checkFilter(_ name: String, line: Int) throws(ChatTemplateError) {
        guard JinjaBuiltins.filterNames.contains(name) else {
            throw ChatTemplateError(.unsupported, "unsupported filter '\(name)'", line: line)
        }
    }
}
