/// An error from parsing or rendering a chat template.
public struct ChatTemplateError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The template is not valid Jinja (or a JSON value is not valid JSON).
        public static let syntax = Code(name: "syntax")
        /// Valid Jinja that this interpreter does not implement (`include`, an unknown filter, ...).
        public static let unsupported = Code(name: "unsupported")
        /// An undefined value was used where Jinja raises (arithmetic, calls).
        public static let undefined = Code(name: "undefined")
        /// A type error or bad argument while rendering.
        public static let runtime = Code(name: "runtime")
        /// The template called `raise_exception(message)`; `message` is the template's message.
        public static let raisedException = Code(name: "raisedException")
        public var description: String { name }
    }

    public let code: Code
    /// Human-readable reason ending in "at line N" when the line is known; for `.raisedException`
    /// exactly the template's message.
    public let message: String
    /// Template line the error refers to (1-based), when known.
    public let line: Int?

    /// - Parameter line: appended to the message as "at line N" (except for `.raisedException`).
    public init(_ code: Code, _ message: String, line: Int? = nil) {
        self.code = code
        self.line = line
        if let line, code != .raisedException {
            self.message = "\(message) at line \(line)"
        } else {
            self.message = message
        }
    }

    public var description: String { message }
}
