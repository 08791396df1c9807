/// A sampling parameter outside its allowed range.
public struct SamplingError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// A parameter is out of range; `parameter` names it.
        public static let invalidParameter = Code(name: "invalidParameter")
        public var description: String { name }
    }

    public let code: Code
    /// The parameter's OpenAI name, e.g. `top_p` (for the API error's `param` field).
    public let parameter: String
    /// What was wrong, starting with the parameter's name.
    public let message: String

    public init(_ code: Code = .invalidParameter, parameter: String, message: String) {
        self.code = code
        self.parameter = parameter
        self.message = message
    }

    public var description: String { message }
}
