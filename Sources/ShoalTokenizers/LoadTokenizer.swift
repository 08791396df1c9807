public import ShoalGGUF

/// Builds the tokenizer a GGUF file describes (`tokenizer.ggml.*` metadata).
///
/// - Parameter file: An opened GGUF file.
/// - Returns: A `BPETokenizer` for `tokenizer.ggml.model = "gpt2"` (byte-level BPE; check its
///   `isPreTokenizerRecognized` and log `preTokenizerName` when false), or a `SentencePieceTokenizer` for
///   `"llama"` (SentencePiece BPE with scores).
/// - Throws: `TokenizerError` with `.unsupportedModel` for other models, `.missingMetadata` /
///   `.invalidMetadata` naming the key, or the errors of `BPETokenizer.init` / `SentencePieceTokenizer.init`.
public func loadTokenizer(from file: GGUFFile) throws -> any Tokenizer {
    let metadata = TokenizerMetadata(file: file)
    let model = try metadata.required("tokenizer.ggml.model", "a string", \.stringValue)
    switch model {
    case "gpt2":
        return try loadBPETokenizer(metadata)
    case "llama":
        return try loadSentencePieceTokenizer(metadata)
    default:
        throw TokenizerError(
            .unsupportedModel,
            "tokenizer.ggml.model \"\(model)\" is not supported; supported models: \"gpt2\", \"llama\"")
    }
}

private func loadBPETokenizer(_ metadata: TokenizerMetadata) throws -> BPETokenizer {
    let tokens = try metadata.required("tokenizer.ggml.tokens", "an array of strings", \.stringArray)
    let merges = try metadata.required("tokenizer.ggml.merges", "an array of strings", \.stringArray)
    let tokenTypes = try metadata.optional("tokenizer.ggml.token_type", "an array of integers", \.intArray)
    let preName = try metadata.optional("tokenizer.ggml.pre", "a string", \.stringValue)
    let pre = BPEPreTokenizer(ggufName: preName) ?? .gpt2
    // llama.cpp: Llama 3 vocabularies add BOS unless the file says otherwise; others do not.
    let addBOS = try metadata.optional("tokenizer.ggml.add_bos_token", "a bool", \.boolValue) ?? (pre == .llama3 || pre == .tekken)
    let addEOS = try metadata.optional("tokenizer.ggml.add_eos_token", "a bool", \.boolValue) ?? false
    var endOfTurn: [Int32] = []
    for key in ["tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
        if let id = try metadata.tokenID(key) { endOfTurn.append(id) }
    }
    return try BPETokenizer(
        tokens: tokens, merges: merges, tokenTypes: tokenTypes, preTokenizer: preName,
        bosID: try metadata.tokenID("tokenizer.ggml.bos_token_id"),
        eosID: try metadata.tokenID("tokenizer.ggml.eos_token_id"), addBOS: addBOS, addEOS: addEOS,
        unknownID: try metadata.tokenID("tokenizer.ggml.unknown_token_id"), endOfTurnIDs: endOfTurn)
}

private func loadSentencePieceTokenizer(_ metadata: TokenizerMetadata) throws -> SentencePieceTokenizer {
    let tokens = try metadata.required("tokenizer.ggml.tokens", "an array of strings", \.stringArray)
    let scores = try metadata.optional("tokenizer.ggml.scores", "an array of numbers", \.floatArray)
    let tokenTypes = try metadata.optional("tokenizer.ggml.token_type", "an array of integers", \.intArray)
    // llama.cpp's defaults for SentencePiece vocabularies when a key is absent.
    func specialID(_ key: String, default fallback: Int32?) throws -> Int32? {
        if metadata.file.metadata[key] != nil { return try metadata.tokenID(key) }
        return fallback.flatMap { $0 < tokens.count ? $0 : nil }
    }
    var endOfTurn: [Int32] = []
    for key in ["tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
        if let id = try metadata.tokenID(key) { endOfTurn.append(id) }
    }
    return try SentencePieceTokenizer(
        tokens: tokens, scores: scores, tokenTypes: tokenTypes,
        bosID: try specialID("tokenizer.ggml.bos_token_id", default: 1),
        eosID: try specialID("tokenizer.ggml.eos_token_id", default: 2),
        unknownID: try specialID("tokenizer.ggml.unknown_token_id", default: 0),
        paddingID: try specialID("tokenizer.ggml.padding_token_id", default: nil),
        addBOS: try metadata.optional("tokenizer.ggml.add_bos_token", "a bool", \.boolValue) ?? true,
        addEOS: try metadata.optional("tokenizer.ggml.add_eos_token", "a bool", \.boolValue) ?? false,
        addSpacePrefix: try metadata.optional("tokenizer.ggml.add_space_prefix", "a bool", \.boolValue) ?? true,
        endOfTurnIDs: endOfTurn)
}

/// Typed metadata lookups that fail with `TokenizerError`s naming the key.
private struct TokenizerMetadata {
    let file: GGUFFile

    func optional<T>(_ key: String, _ expected: String, _ convert: (GGUFValue) -> T?) throws -> T? {
        guard let value = file.metadata[key] else { return nil }
        guard let converted = convert(value) else {
            throw TokenizerError(.invalidMetadata, "metadata \(key) is \(value.typeName), expected \(expected)")
        }
        return converted
    }

    func required<T>(_ key: String, _ expected: String, _ convert: (GGUFValue) -> T?) throws -> T {
        guard let value = try optional(key, expected, convert) else {
            throw TokenizerError(.missingMetadata, "metadata \(key) (\(expected)) is missing")
        }
        return value
    }

    /// A token id; a negative value (some converters write -1) means none.
    func tokenID(_ key: String) throws -> Int32? {
        guard let value = try optional(key, "an integer", \.intValue), value >= 0 else { return nil }
        guard let id = Int32(exactly: value) else {
            throw TokenizerError(.invalidMetadata, "metadata \(key) = \(value) is not a valid token id")
        }
        return id
    }
}
