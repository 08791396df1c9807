/// A SentencePiece-style BPE tokenizer (`tokenizer.ggml.model = "llama"`): Llama 2, Mistral, Gemma ...
///
/// Encoding follows llama.cpp's `llm_tokenizer_spm`: special tokens are split out first (user-defined
/// tokens always, control tokens when parsing special tokens), each remaining fragment has its spaces
/// replaced by `▁` (after a `▁` dummy prefix when `addsSpacePrefix` and the fragment starts the text or
/// follows a special token), and adjacent symbols merge by the highest score of the token they form
/// (`SentencePieceMerger`). A character without a token falls back to its UTF-8 bytes as `<0xXX>` tokens.
/// Decoding maps `▁` back to spaces and byte tokens back to raw bytes.
///
/// Unlike llama.cpp, but as in the SentencePiece library, merges only form normal and user-defined tokens:
/// text such as `<0x41>` or a control token's text (when special tokens are not parsed) stays plain text.
public final class SentencePieceTokenizer: Tokenizer {
    public let vocabularySize: Int
    public let bosID: Int32?
    public let eosID: Int32?
    /// The unknown-token id, emitted for a byte that has no `<0xXX>` token.
    public let unknownID: Int32?
    /// The padding id, if the vocabulary has one.
    public let paddingID: Int32?
    public let endOfTurnIDs: Set<Int32>
    public let addsBOS: Bool
    /// Whether `encode(_:addSpecial: true, parseSpecial:)` appends the EOS id.
    public let addsEOS: Bool
    /// Whether a `▁` is put before the text and after every special token (SentencePiece's dummy prefix);
    /// `decode` then drops the space this gives the first piece.
    public let addsSpacePrefix: Bool

    private let tokens: [String]
    private let types: [TokenType]
    private let vocabulary: SentencePieceMerger.Vocabulary
    /// The bytes of token `i` are `tokenBytes[tokenByteOffsets[i]..<tokenByteOffsets[i + 1]]`.
    private let tokenBytes: [UInt8]
    private let tokenByteOffsets: [Int]
    private let specialTokens: SpecialTokenMatcher

    /// Builds a tokenizer from a scored vocabulary.
    ///
    /// - Parameters:
    ///   - tokens: The vocabulary in SentencePiece's encoding (`▁` for a space, `<0xAB>` for byte tokens);
    ///     the id of a token is its index. A repeated string maps to its last id.
    ///   - scores: The merge score of each token (higher merges first); nil means all 0.
    ///   - tokenTypes: GGUF token types (`TokenType` raw values), one per token; nil means all normal.
    ///   - bosID: Beginning-of-sequence id.
    ///   - eosID: End-of-sequence id.
    ///   - unknownID: Unknown-token id, for a byte without a `<0xXX>` token.
    ///   - paddingID: Padding id.
    ///   - addBOS: Whether encoding with `addSpecial` prepends `bosID`.
    ///   - addEOS: Whether encoding with `addSpecial` appends `eosID`.
    ///   - addSpacePrefix: Whether text gets a dummy `▁` prefix (and `decode` removes it).
    ///   - endOfTurnIDs: Further ids that end a turn (e.g. `tokenizer.ggml.eot_token_id`), besides `eosID`
    ///     and tokens whose text llama.cpp knows as end-of-turn (`<end_of_turn>`, `</s>` ...), which become
    ///     control tokens; user-defined tokens keep their type and are not taken as end-of-turn.
    /// - Throws: `TokenizerError.invalidVocabulary` for an empty vocabulary, a wrong number of scores or
    ///   token types, an unknown token type, a non-finite score or a special id out of range.
    /// - Complexity: O(total bytes of the vocabulary).
    public init(
        tokens: [String], scores: [Float]? = nil, tokenTypes: [Int]? = nil, bosID: Int32? = nil,
        eosID: Int32? = nil, unknownID: Int32? = nil, paddingID: Int32? = nil, addBOS: Bool = true,
        addEOS: Bool = false, addSpacePrefix: Bool = true, endOfTurnIDs: [Int32] = []
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
                throw TokenizerError(.invalidVocabulary, "\(tokenTypes.count) token types given for \(count) tokens")
            }
            for (index, raw) in tokenTypes.enumerated() {
                guard let type = TokenType(rawValue: raw) else {
                    throw TokenizerError(
                        .invalidVocabulary, "token \(index) \"\(tokens[index])\" has unknown token type \(raw)")
                }
                types[index] = type
            }
        }
        let scores = scores ?? [Float](repeating: 0, count: count)
        guard scores.count == count else {
            throw TokenizerError(.invalidVocabulary, "\(scores.count) scores given for \(count) tokens")
        }
        if let bad = scores.firstIndex(where: { !$0.isFinite }) {
            throw TokenizerError(.invalidVocabulary, "token \(bad) \"\(tokens[bad])\" has score \(scores[bad])")
        }
        let specialIDs = [("BOS", bosID), ("EOS", eosID), ("unknown", unknownID), ("padding", paddingID)]
            + endOfTurnIDs.map { ("end-of-turn", Optional($0)) }
        for case (let name, let id?) in specialIDs where !(0..<count).contains(Int(id)) {
            throw TokenizerError(.invalidVocabulary, "\(name) id \(id) is outside the vocabulary of \(count) tokens")
        }

        let pieces = PieceTable(pieces: tokens)
        var endOfTurn = Set(endOfTurnIDs)
        if let eosID { endOfTurn.insert(eosID) }
        // llama.cpp also does this for user-defined tokens, but Gemma's `</s>` is an HTML tag, not an end.
        for text in BPETokenizer.endOfTurnTexts {
            let id = pieces.lookup(text)
            if id >= 0, types[Int(id)] != .userDefined {
                endOfTurn.insert(id)
                types[Int(id)] = .control
            }
        }

        var byteTokens = [Int32](repeating: -1, count: 256)
        let hexDigits = Array("0123456789ABCDEF".utf8)
        for byte in 0..<256 {
            let text: [UInt8] = [0x3C, 0x30, 0x78, hexDigits[byte >> 4], hexDigits[byte & 15], 0x3E]
            byteTokens[byte] = text.withUnsafeBufferPointer { pieces.lookup($0.baseAddress!, 6) }
        }

        var mergeable = [Bool](repeating: false, count: count)
        var tokenBytes: [UInt8] = []
        tokenBytes.reserveCapacity(count * 8)
        var tokenByteOffsets: [Int] = [0]
        tokenByteOffsets.reserveCapacity(count + 1)
        var matchable: [(id: Int32, bytes: [UInt8], alwaysMatches: Bool)] = []
        for index in 0..<count {
            switch types[index] {
            case .normal, .undefined:
                mergeable[index] = true
                Self.appendUnescaped(pieces.piece(index), to: &tokenBytes)
            case .userDefined:
                mergeable[index] = true
                Self.appendUnescaped(pieces.piece(index), to: &tokenBytes)
                matchable.append((Int32(index), Array(pieces.piece(index)), true))
            case .byte:
                if let byte = Self.parseByteToken(pieces.piece(index)) {
                    tokenBytes.append(byte)
                } else {
                    Self.appendUnescaped(pieces.piece(index), to: &tokenBytes)
                }
            case .control:
                tokenBytes.append(contentsOf: pieces.piece(index))
                matchable.append((Int32(index), Array(pieces.piece(index)), false))
            case .unknown:
                // llama.cpp shows an unknown token as U+2585.
                tokenBytes.append(contentsOf: [0xE2, 0x96, 0x85])
                matchable.append((Int32(index), Array(pieces.piece(index)), false))
            case .unused:
                break
            }
            tokenByteOffsets.append(tokenBytes.count)
        }

        self.vocabularySize = count
        self.bosID = bosID
        self.eosID = eosID
        self.unknownID = unknownID
        self.paddingID = paddingID
        self.endOfTurnIDs = endOfTurn
        self.addsBOS = addBOS
        self.addsEOS = addEOS
        self.addsSpacePrefix = addSpacePrefix
        self.tokens = tokens
        self.types = types
        self.vocabulary = SentencePieceMerger.Vocabulary(
            pieces: pieces, scores: scores, mergeable: mergeable, byteTokens: byteTokens, unknownID: unknownID)
        self.tokenBytes = tokenBytes
        self.tokenByteOffsets = tokenByteOffsets
        self.specialTokens = SpecialTokenMatcher(tokens: matchable)
    }

    /// Appends `piece` with every `▁` (E2 96 81) turned into a space.
    private static func appendUnescaped(_ piece: ArraySlice<UInt8>, to output: inout [UInt8]) {
        var index = piece.startIndex
        while index < piece.endIndex {
            if piece[index] == 0xE2, index + 2 < piece.endIndex, piece[index + 1] == 0x96, piece[index + 2] == 0x81 {
                output.append(0x20)
                index += 3
            } else {
                output.append(piece[index])
                index += 1
            }
        }
    }

    /// The byte of a `<0xAB>` token.
    private static func parseByteToken(_ piece: ArraySlice<UInt8>) -> UInt8? {
        let utf8 = Array(piece)
        guard utf8.count == 6, utf8[0] == 0x3C, utf8[1] == 0x30, utf8[2] == 0x78, utf8[5] == 0x3E else { return nil }
        return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
    }

    @inline(__always)
    private func isValid(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < vocabularySize
    }

    /// The type of a token (after end-of-turn tokens were made control tokens), or nil for an invalid id.
    public func tokenType(of id: Int32) -> TokenType? {
        isValid(id) ? types[Int(id)] : nil
    }

    /// The merge score of a token, or nil for an invalid id.
    public func score(of id: Int32) -> Float? {
        isValid(id) ? vocabulary.scores[Int(id)] : nil
    }

    public func token(of id: Int32) -> String? {
        isValid(id) ? tokens[Int(id)] : nil
    }

    public func id(of token: String) -> Int32? {
        let id = vocabulary.pieces.lookup(token)
        return id >= 0 ? id : nil
    }

    public func bytes(of id: Int32, skipSpecial: Bool) -> [UInt8] {
        guard isValid(id), !(skipSpecial && types[Int(id)] == .control) else { return [] }
        return Array(tokenBytes[tokenByteOffsets[Int(id)]..<tokenByteOffsets[Int(id) + 1]])
    }

    /// Converts token ids back to text. With `addsSpacePrefix`, the dummy space of the first piece after
    /// any leading control tokens is dropped (SentencePiece's decoding); `StreamingDetokenizer` keeps it.
    public func decode(_ ids: [Int32], skipSpecial: Bool) -> String {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(ids.count * 4)
        var dropsSpace = addsSpacePrefix
        for id in ids where isValid(id) {
            let type = types[Int(id)]
            if skipSpecial && type == .control { continue }
            var start = tokenByteOffsets[Int(id)]
            let end = tokenByteOffsets[Int(id) + 1]
            if dropsSpace, type != .control, start < end {
                if tokenBytes[start] == 0x20 { start += 1 }
                dropsSpace = false
            }
            buffer.append(contentsOf: tokenBytes[start..<end])
        }
        return String(decoding: buffer, as: UTF8.self)
    }

    /// - Complexity: O(n log n) in the text's bytes.
    public func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        var output: [Int32] = []
        output.reserveCapacity(text.utf8.count / 3 + 2)
        if addSpecial, addsBOS, let bosID { output.append(bosID) }
        var text = text
        text.withUTF8 { bytes in
            var merger = SentencePieceMerger()
            var followsSpecial = true
            for fragment in specialTokens.partition(bytes, parseSpecial: parseSpecial) {
                switch fragment {
                case .token(let id):
                    output.append(id)
                    followsSpecial = true
                case .text(let range):
                    let prefixSpace = addsSpacePrefix && followsSpecial
                    merger.load(UnsafeBufferPointer(rebasing: bytes[range]), prefixSpace: prefixSpace)
                    merger.tokenize(vocabulary, into: &output)
                    followsSpecial = false
                }
            }
        }
        if addSpecial, addsEOS, let eosID { output.append(eosID) }
        return output
    }
}
