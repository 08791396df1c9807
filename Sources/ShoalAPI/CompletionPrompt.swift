/// `/v1/completions`' `prompt`: a string, an array of strings, an array of token ids or an array of such arrays.
public enum CompletionPrompt: Codable, Sendable, Equatable {
    case text(String)
    case texts([String])
    case tokens([Int32])
    case tokenBatches([[Int32]])

    /// One entry per prompt: text or token ids.
    public enum Item: Sendable, Equatable {
        case text(String)
        case tokens([Int32])
    }

    /// The prompts in order; each gets its own `n` choices.
    public var items: [Item] {
        switch self {
        case .text(let text): [.text(text)]
        case .texts(let texts): texts.map { .text($0) }
        case .tokens(let ids): [.tokens(ids)]
        case .tokenBatches(let batches): batches.map { .tokens($0) }
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .text(text)
        } else if let texts = try? container.decode([String].self) {
            self = .texts(texts)
        } else if let ids = try? container.decode([Int32].self) {
            self = .tokens(ids)
        } else if let batches = try? container.decode([[Int32]].self) {
            self = .tokenBatches(batches)
        } else {
            throw DecodingError.typeMismatch(CompletionPrompt.self, .init(
                codingPath: decoder.codingPath,
                debugDescription: "expected a string, an array of strings, an array of token ids or an array of token id arrays"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .texts(let texts): try container.encode(texts)
        case .tokens(let ids): try container.encode(ids)
        case .tokenBatches(let batches): try container.encode(batches)
        }
    }
}
