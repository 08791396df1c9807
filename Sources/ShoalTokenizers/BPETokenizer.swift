/// A byte-level BPE tokenizer (GPT-2 style, `tokenizer.ggml.model = "gpt2"`): SmolLM, Llama 3, Qwen2 ...
///
/// Encoding splits out special tokens, pre-tokenizes the rest with the vocabulary's scanner
/// (`BPEPreTokenizer`), maps each piece's bytes to symbols and applies the merge rules by rank.
/// Decoding maps every token back to the exact bytes it stands for.
public final class BPETokenizer: Tokenizer {
    public let vocabularySize: Int
    public let bosID: Int32?
    public let eosID: Int32?
    /// The unknown-token id, used when a byte has no token of its own (never, for a complete vocabulary).
    public let unknownID: Int32?
    public let endOfTurnIDs: Set<Int32>
    public let addsBOS: Bool
    /// Whether `encode(_:addSpecial: true, parseSpecial:)` appends the EOS id.
    public let addsEOS: Bool
    /// The pre-tokenizer in use (GPT-2's when the name was not recognized).
    public let preTokenizer: BPEPreTokenizer
    /// The pre-tokenizer name this tokenizer was built with (`tokenizer.ggml.pre`), recognized or not.
    public let preTokenizerName: String?
    /// False when `preTokenizerName` was not recognized and GPT-2's pre-tokenizer is used instead:
    /// the caller should log it, since ids may then differ from the model's own tokenizer.
    public var isPreTokenizerRecognized: Bool { BPEPreTokenizer(ggufName: preTokenizerName) != nil }

    private let tokens: [String]
    private let types: [TokenType]
    private let tokenIDs: [String: Int32]
    /// The bytes of token `i` are `tokenBytes[tokenByteOffsets[i]..<tokenByteOffsets[i + 1]]`.
    private let tokenBytes: [UInt8]
    private let tokenByteOffsets: [Int]
    /// Whether token `i` is left out when decoding with `skipSpecial`.
    private let skippedAsSpecial: [Bool]
    private let mergeTable: BPEMergeTable
    private let specialTokens: SpecialTokenMatcher

    /// Token texts that end a turn, as llama.cpp recognizes them; such tokens are treated as control tokens.
    static let endOfTurnTexts: [String] = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
    ]

    /// Builds a tokenizer from a vocabulary and merge rules in GPT-2's byte-level encoding.
    ///
    /// - Parameters:
    ///   - tokens: The vocabulary; the id of a token is its index. A repeated string maps to its last id.
    ///   - merges: Merge rules `"left right"`; a rule's rank is its index.
    ///   - tokenTypes: GGUF token types (`TokenType` raw values), one per token; nil means all normal.
    ///   - preTokenizer: The `tokenizer.ggml.pre` name; nil is GPT-2. An unknown name falls back to GPT-2
    ///     (see `isPreTokenizerRecognized`).
    ///   - bosID: Beginning-of-sequence id.
    ///   - eosID: End-of-sequence id.
    ///   - addBOS: Whether encoding with `addSpecial` prepends `bosID`.
    ///   - addEOS: Whether encoding with `addSpecial` appends `eosID`.
    ///   - unknownID: Unknown-token id, for a byte without a token of its own.
    ///   - endOfTurnIDs: Further ids that end a turn (e.g. `tokenizer.ggml.eot_token_id`), besides `eosID`
    ///     and tokens whose text llama.cpp knows as end-of-turn (`<|im_end|>`, `<|eot_id|>` ...).
    /// - Throws: `TokenizerError` with `.invalidVocabulary` (empty vocabulary, wrong number of token types,
    ///   an unknown token type, an id out of range) or `.invalidMerge` (a rule without two parts).
    /// - Complexity: O(tokens + merges).
    public init(
        tokens: [String], merges: [String], tokenTypes: [Int]? = nil, preTokenizer: String? = nil,
        bosID: Int32? = nil, eosID: Int32? = nil, addBOS: Bool = false, addEOS: Bool = false,
        unknownID: Int32? = nil, endOfTurnIDs: [Int32] = []
    ) throws {
        let count = tokens.count
        guard count > 0 else {
            throw TokenizerError(.invalidVocabulary, "the vocabulary is empty")
        }
        guard count < Int(Int32.max) / 2 else {
            throw TokenizerError(.invalidVocabulary, "the vocabulary has \(count) tokens, too many for 32-bit ids")
        }
        var types = [TokenType](repeating: .normal, count: count)
        if let tokenTypes {
            guard tokenTypes.count == count else {
                throw TokenizerError(
                    .invalidVocabulary, "\(tokenTypes.count) token types given for \(count) tokens")
            }
            for (index, raw) in tokenTypes.enumerated() {
                guard let type = TokenType(rawValue: raw) else {
                    throw TokenizerError(
                        .invalidVocabulary, "token \(index) \"\(tokens[index])\" has unknown token type \(raw)")
                }
                types[index] = type
            }
        }
        let specialIDs = [("BOS", bosID), ("EOS", eosID), ("unknown", unknownID)]
            + endOfTurnIDs.map { ("end-of-turn", Optional($0)) }
        for case (let name, let id?) in specialIDs where !(0..<count).contains(Int(id)) {
            throw TokenizerError(.invalidVocabulary, "\(name) id \(id) is outside the vocabulary of \(count) tokens")
        }

        var tokenIDs: [String: Int32] = [:]
        tokenIDs.reserveCapacity(count)
        for (index, token) in tokens.enumerated() {
            tokenIDs[token] = Int32(index)
        }

        var endOfTurn = Set(endOfTurnIDs)
        if let eosID { endOfTurn.insert(eosID) }
        for text in Self.endOfTurnTexts {
            if let id = tokenIDs[text] {
                endOfTurn.insert(id)
                types[Int(id)] = .control
            }
        }

        var tokenBytes: [UInt8] = []
        tokenBytes.reserveCapacity(count * 8)
        var tokenByteOffsets: [Int] = [0]
        tokenByteOffsets.reserveCapacity(count + 1)
        var skippedAsSpecial = [Bool](repeating: false, count: count)
        var matchable: [(id: Int32, bytes: [UInt8], alwaysMatches: Bool)] = []
        for index in 0..<count {
            let token = tokens[index]
            switch types[index] {
            case .normal, .undefined:
                tokenBytes.append(contentsOf: ByteLevel.decode(token))
            case .byte:
                if let byte = Self.parseByteToken(token) {
                    tokenBytes.append(byte)
                } else {
                    tokenBytes.append(contentsOf: ByteLevel.decode(token))
                }
            case .control, .unknown:
                tokenBytes.append(contentsOf: token.utf8)
                skippedAsSpecial[index] = true
                matchable.append((Int32(index), Array(token.utf8), false))
            case .userDefined:
                tokenBytes.append(contentsOf: token.utf8)
                matchable.append((Int32(index), Array(token.utf8), true))
            case .unused:
                break
            }
            tokenByteOffsets.append(tokenBytes.count)
        }

        self.vocabularySize = count
        self.bosID = bosID
        self.eosID = eosID
        self.unknownID = unknownID
        self.endOfTurnIDs = endOfTurn
        self.addsBOS = addBOS
        self.addsEOS = addEOS
        self.preTokenizer = BPEPreTokenizer(ggufName: preTokenizer) ?? .gpt2
        self.preTokenizerName = preTokenizer
        self.tokens = tokens
        self.types = types
        self.tokenIDs = tokenIDs
        self.tokenBytes = tokenBytes
        self.tokenByteOffsets = tokenByteOffsets
        self.skippedAsSpecial = skippedAsSpecial
        self.mergeTable = try BPEMergeTable(merges: merges, vocabulary: tokenIDs, vocabularySize: count)
        self.specialTokens = SpecialTokenMatcher(tokens: matchable)
    }

    /// The byte of a `<0xAB>` token.
    private static func parseByteToken(_ token: String) -> UInt8? {
        let utf8 = Array(token.utf8)
        guard utf8.count == 6, utf8[0] == 0x3C, utf8[1] == 0x30, utf8[2] == 0x78, utf8[5] == 0x3E else { return nil }
        return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
    }

    /// The type of a token (after end-of-turn tokens were made control tokens), or nil for an invalid id.
    public func tokenType(of id: Int32) -> TokenType? {
        isValid(id) ? types[Int(id)] : nil
    }

    @inline(__always)
    private func isValid(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < vocabularySize
    }

    public func token(of id: Int32) -> String? {
        isValid(id) ? tokens[Int(id)] : nil
    }

    public func id(of token: String) -> Int32? {
        tokenIDs[token]
    }

    public func bytes(of id: Int32, skipSpecial: Bool) -> [UInt8] {
        guard isValid(id), !(skipSpecial && skippedAsSpecial[Int(id)]) else { return [] }
        return Array(tokenBytes[tokenByteOffsets[Int(id)]..<tokenByteOffsets[Int(id) + 1]])
    }

    public func decode(_ ids: [Int32], skipSpecial: Bool) -> String {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(ids.count * 4)
        for id in ids where isValid(id) && !(skipSpecial && skippedAsSpecial[Int(id)]) {
            buffer.append(contentsOf: tokenBytes[tokenByteOffsets[Int(id)]..<tokenByteOffsets[Int(id) + 1]])
        }
        return String(decoding: buffer, as: UTF8.self)
    }

    /// - Complexity: O(n log n) in the text's bytes; about 0.5 µs per English word in release builds.
    public func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        var output: [Int32] = []
        output.reserveCapacity(text.utf8.count / 3 + 2)
        if addSpecial, addsBOS, let bosID { output.append(bosID) }
        var text = text
        text.withUTF8 { bytes in
            var scalars = ScalarText()
            var ends: [Int] = []
            var workspace = BPEMergeTable.Workspace()
            for fragment in specialTokens.partition(bytes, parseSpecial: parseSpecial) {
                switch fragment {
                case .token(let id):
                    output.append(id)
                case .text(let range):
                    scalars.load(bytes, range: range)
                    ends.removeAll(keepingCapacity: true)
                    preTokenizer.split(scalars, into: &ends)
                    var start = 0
                    for end in ends {
                        let piece = UnsafeBufferPointer(
                            rebasing: bytes[scalars.byteOffsets[start]..<scalars.byteOffsets[end]])
                        start = end
                        if preTokenizer.ignoresMerges, let id = tokenIDs[ByteLevel.encode(piece)] {
                            output.append(id)
                            continue
                        }
                        mergeTable.merge(piece, into: &output, unknownID: unknownID, workspace: &workspace)
                    }
                }
            }
        }
        if addSpecial, addsEOS, let eosID { output.append(eosID) }
        return output
    }
}
