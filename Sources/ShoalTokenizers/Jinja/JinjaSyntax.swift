/// A literal constant in a template.
enum JinjaLiteral: Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
}

/// Arguments of a call, filter or test.
struct JinjaArguments: Sendable {
    var positional: [JinjaExpression] = []
    var keyword: [(name: String, value: JinjaExpression)] = []
}

/// An expression node.
indirect enum JinjaExpression: Sendable {
    case literal(JinjaLiteral)
    case name(String, line: Int)
    case list([JinjaExpression])
    case tuple([JinjaExpression])
    case dict([(key: JinjaExpression, value: JinjaExpression)])
    case attribute(JinjaExpression, String, line: Int)
    case item(JinjaExpression, JinjaExpression, line: Int)
    case slice(JinjaExpression, start: JinjaExpression?, stop: JinjaExpression?, step: JinjaExpression?, line: Int)
    case call(JinjaExpression, JinjaArguments, line: Int)
    case filter(JinjaExpression, name: String, JinjaArguments, line: Int)
    case test(JinjaExpression, name: String, JinjaArguments, negated: Bool, line: Int)
    /// `-x`, `+x`.
    case unary(String, JinjaExpression, line: Int)
    /// `+ - * / // % ** ~`.
    case binary(String, JinjaExpression, JinjaExpression, line: Int)
    /// A comparison chain `a < b <= c`, operators `== != < <= > >= in notin`.
    case compare(JinjaExpression, [(op: String, operand: JinjaExpression)], line: Int)
    case and(JinjaExpression, JinjaExpression)
    case or(JinjaExpression, JinjaExpression)
    case not(JinjaExpression)
    /// `a if condition else b`; without `else` the result is undefined when the condition is false.
    case conditional(condition: JinjaExpression, then: JinjaExpression, otherwise: JinjaExpression?)
}

/// The left-hand side of `set` and `for`.
enum JinjaTarget: Sendable {
    case name(String)
    case tuple([JinjaTarget])
    /// `ns.attribute` (only namespaces can be assigned to).
    case attribute(String, String)
}

/// A filter in a `{% filter %}` block or a block `set`.
struct JinjaFilterCall: Sendable {
    var name: String
    var arguments: JinjaArguments
    var line: Int
}

/// `{% macro name(a, b=default) %}`.
struct JinjaMacroDefinition: Sendable {
    var name: String
    var parameters: [(name: String, defaultValue: JinjaExpression?)]
    var body: [JinjaNode]
}

/// A statement or output node.
indirect enum JinjaNode: Sendable {
    case text(String)
    case output(JinjaExpression)
    case ifChain([(condition: JinjaExpression, body: [JinjaNode])], otherwise: [JinjaNode])
    case forLoop(target: JinjaTarget, iterable: JinjaExpression, condition: JinjaExpression?, body: [JinjaNode], otherwise: [JinjaNode], line: Int)
    case set(JinjaTarget, JinjaExpression, line: Int)
    case setBlock(JinjaTarget, filters: [JinjaFilterCall], body: [JinjaNode], line: Int)
    case macro(JinjaMacroDefinition)
    case filterBlock([JinjaFilterCall], body: [JinjaNode])
    case with([(target: JinjaTarget, value: JinjaExpression)], body: [JinjaNode])
    case breakLoop(line: Int)
    case continueLoop(line: Int)
}
