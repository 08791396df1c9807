/// An error raised while building or loading a tokenizer.
///
/// The message names what was wrong: the metadata key, the token index, the merge rule.
public struct TokenizerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unsupportedModel
            case missingMetadata
            case invalidMetadata
            case invalidVocabulary
            case invalidMerge
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The file's tokenizer model (`tokenizer.ggml.model`) is not implemented.
        public static let unsupportedModel = Code(.unsupportedModel)
        /// A required metadata key is absent.
        public static let missingMetadata = Code(.missingMetadata)
        /// A metadata value has the wrong type or an impossible value.
        public static let invalidMetadata = Code(.invalidMetadata)
        /// The vocabulary (tokens, token types, special ids) is inconsistent.
        public static let invalidVocabulary = Code(.invalidVocabulary)
        /// A merge rule is malformed.
        public static let invalidMerge = Code(.invalidMerge)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// What was wrong, naming the key, index or value.
    public let message: String

    /// Creates an error with a code and a message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "TokenizerError.\(code): \(message)" }
}
