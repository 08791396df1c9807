/// An error reading or writing a GGUF file, with a message naming the file, key or tensor that was wrong.
public struct GGUFError: Error, CustomStringConvertible, Sendable {
    /// What kind of problem the file has.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The bytes do not start with the `GGUF` magic.
        public static let notGGUF = Code("notGGUF")
        /// A GGUF version other than 2 or 3, or a big-endian file.
        public static let unsupportedVersion = Code("unsupportedVersion")
        /// The file ends before a value it announces.
        public static let truncated = Code("truncated")
        /// A value is out of its allowed range (alignment, dimension count, bool byte, size overflow …).
        public static let invalidValue = Code("invalidValue")
        /// A string is not valid UTF-8.
        public static let invalidString = Code("invalidString")
        /// A tensor's data lies outside the file or is misaligned.
        public static let outOfBounds = Code("outOfBounds")
        /// An unknown metadata value type or tensor type id.
        public static let unknownType = Code("unknownType")
        /// A metadata key or tensor name appears twice.
        public static let duplicate = Code("duplicate")
        /// A metadata key that was asked for is absent.
        public static let missingKey = Code("missingKey")
        /// A metadata value has another type than the one asked for.
        public static let wrongType = Code("wrongType")
        /// Opening, mapping or writing the file failed.
        public static let io = Code("io")
    }

    /// What kind of problem this is.
    public let code: Code
    /// One line naming what was wrong.
    public let message: String

    /// Creates an error with a code and a message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
