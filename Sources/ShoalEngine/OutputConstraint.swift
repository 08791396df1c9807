public import ShoalGrammar

/// A grammar the output must follow (JSON mode, a JSON schema, a regular expression, a GBNF grammar, a tool
/// call's arguments), and where in it the output starts: the compiled constraint's initial state, or the state
/// after tokens already produced under it (a migrated stream resumes there).
public struct OutputConstraint: Sendable, Equatable {
    public let compiled: CompiledConstraint
    public var state: Int32

    public init(_ compiled: CompiledConstraint, state: Int32? = nil) {
        self.compiled = compiled
        self.state = state ?? compiled.initialState
    }

    public static func == (a: OutputConstraint, b: OutputConstraint) -> Bool {
        a.compiled === b.compiled && a.state == b.state
    }
}
