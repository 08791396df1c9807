/// `GET /v1/models`.
public struct ModelList: Codable, Sendable, Equatable {
    /// Always "list".
    public var object: String
    public var data: [ModelCard]

    public init(data: [ModelCard]) {
        object = "list"
        self.data = data
    }
}

/// One served model.
public struct ModelCard: Codable, Sendable, Equatable {
    public var id: String
    /// Always "model".
    public var object: String
    public var created: Int
    public var ownedBy: String
    /// The context length (vLLM extension).
    public var maxModelLen: Int?

    public init(id: String, created: Int, ownedBy: String = "shoal", maxModelLen: Int? = nil) {
        self.id = id
        object = "model"
        self.created = created
        self.ownedBy = ownedBy
        self.maxModelLen = maxModelLen
    }

    enum CodingKeys: String, CodingKey {
        case id, object, created
        case ownedBy = "owned_by"
        case maxModelLen = "max_model_len"
    }
}
