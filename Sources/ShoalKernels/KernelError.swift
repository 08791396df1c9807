/// An error from the kernels: a weight type they cannot compute with, or a shape they cannot handle.
public struct KernelError: Error, CustomStringConvertible, Sendable {
    /// What kind of problem it was.
    public enum Code: Sendable, Hashable {
        /// The tensor's element type has no kernel (see `Kernels.supports`).
        case unsupportedType
        /// The shape does not fit the type (for example a row that is not a whole number of blocks).
        case badShape
    }

    /// What kind of problem it was.
    public let code: Code
    /// A sentence naming what was wrong.
    public let message: String

    /// Makes an error with a code and a message naming what was wrong.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "KernelError(\(code)): \(message)" }
}
