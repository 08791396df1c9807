/// A model file that cannot be run: missing or inconsistent metadata, missing tensors, unsupported types.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    /// What kind of problem it is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        public static let missingMetadata = Code(name: "missingMetadata")
        public static let invalidMetadata = Code(name: "invalidMetadata")
        public static let missingTensor = Code(name: "missingTensor")
        public static let badTensor = Code(name: "badTensor")
        public static let unsupportedArchitecture = Code(name: "unsupportedArchitecture")
        public static let invalidBatch = Code(name: "invalidBatch")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
