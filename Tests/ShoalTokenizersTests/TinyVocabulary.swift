import ShoalTokenizers

/// A hand-made byte-level vocabulary: ids 0-255 are the single bytes (id = byte value), then the
/// results of `merges` in order, then `specials`.
struct TinyVocabulary {
    var tokens: [String]
    var types: [Int]
    var merges: [String]

    /// GPT-2's byte-to-scalar mapping, written out independently of the module.
    static func byteLevel(_ byte: UInt8) -> String {
        var printable: [UInt8] = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        printable.sort()
        if printable.contains(byte) { return String(Unicode.Scalar(byte)) }
        let rank = (0...255).filter { !printable.contains(UInt8($0)) }.firstIndex(of: Int(byte))!
        return String(Unicode.Scalar(UInt32(256 + rank))!)
    }

    init(merges: [String], specials: [(String, TokenType)] = [], extraTokens: [String] = []) {
        tokens = (0...255).map { Self.byteLevel(UInt8($0)) }
        types = Array(repeating: TokenType.normal.rawValue, count: 256)
        self.merges = merges
        for rule in merges {
            let merged = rule.split(separator: " ").joined()
            if !tokens.contains(merged) {
                tokens.append(merged)
                types.append(TokenType.normal.rawValue)
            }
        }
        for token in extraTokens {
            tokens.append(token)
            types.append(TokenType.normal.rawValue)
        }
        for (text, type) in specials {
            tokens.append(text)
            types.append(type.rawValue)
        }
    }

    func id(_ token: String) -> Int32 {
        Int32(tokens.firstIndex(of: token)!)
    }

    func tokenizer(
        preTokenizer: String? = "gpt2", bosID: Int32? = nil, eosID: Int32? = nil, addBOS: Bool = false,
        addEOS: Bool = false
    ) throws -> BPETokenizer {
        try BPETokenizer(
            tokens: tokens, merges: merges, tokenTypes: types, preTokenizer: preTokenizer, bosID: bosID,
            eosID: eosID, addBOS: addBOS, addEOS: addEOS)
    }
}
