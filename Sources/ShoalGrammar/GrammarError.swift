/// Why a grammar, JSON schema or regular expression cannot be used to constrain generation.
public struct GrammarError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// GBNF text that does not parse, or names a rule that does not exist.
        case invalidGrammar
        /// A JSON schema that is not valid JSON Schema.
        case invalidSchema
        /// A JSON Schema construct Shoal does not enforce (the message names it).
        case unsupportedSchema
        /// A regular expression that does not parse, or uses a construct Shoal does not enforce.
        case invalidRegex
        /// A grammar Shoal cannot run (left recursion, too many states).
        case unsupportedGrammar
    }

    public var code: Code
    /// One line that names the construct and, where known, where it is.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
