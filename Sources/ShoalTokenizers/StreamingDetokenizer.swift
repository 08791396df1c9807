/// Turns generated token ids into text as they arrive, never splitting a UTF-8 sequence.
///
/// A token may carry part of a character (byte-level BPE splits emoji and CJK characters across tokens);
/// `append` holds such bytes back until the character is complete. Concatenating every `append` result
/// and `finish()` gives exactly `tokenizer.decode(ids, skipSpecial:)`, including U+FFFD for invalid bytes.
public struct StreamingDetokenizer: Sendable {
    /// The tokenizer whose ids are decoded.
    public let tokenizer: any Tokenizer
    /// Whether control tokens are left out.
    public let skipSpecial: Bool
    /// Bytes of an incomplete UTF-8 sequence at the end of the stream so far (at most 3).
    private var pending: [UInt8] = []

    /// Creates a detokenizer for one stream of ids.
    ///
    /// - Parameters:
    ///   - tokenizer: The tokenizer whose ids are decoded.
    ///   - skipSpecial: Leaves out control tokens (EOS, `<|im_end|>` ...).
    public init(tokenizer: any Tokenizer, skipSpecial: Bool = true) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
    }

    /// Adds one token and returns the text it completes; empty while a character is still incomplete.
    ///
    /// Bytes that can no longer form a valid character come out as U+FFFD right away.
    public mutating func append(_ id: Int32) -> String {
        let bytes = tokenizer.bytes(of: id, skipSpecial: skipSpecial)
        if bytes.isEmpty { return "" }
        pending.append(contentsOf: bytes)
        let cut = Self.completePrefixLength(pending)
        if cut == 0 { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Ends the stream: returns whatever is held back, with an incomplete trailing sequence as U+FFFD.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// The length of the longest prefix of `bytes` that ends neither inside nor before the start of
    /// a UTF-8 sequence that more bytes could still complete.
    ///
    /// Only the last three bytes can belong to such a sequence; its lead byte is the last byte that
    /// is not a continuation byte. Decoding the prefix alone gives the same text (and U+FFFD
    /// replacements) as decoding it followed by any further bytes.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let count = bytes.count
        var lead = count - 1
        while lead >= 0, lead >= count - 3, bytes[lead] & 0xC0 == 0x80 { lead -= 1 }
        guard lead >= 0, lead >= count - 3 else { return count }
        let first = bytes[lead]
        let needed: Int
        switch first {
        case 0xC2...0xDF: needed = 2
        case 0xE0...0xEF: needed = 3
        case 0xF0...0xF4: needed = 4
        default: return count  // ASCII, or a byte that never starts a valid sequence
        }
        let have = count - lead
        if have >= needed { return count }
        // The second byte of some sequences has a narrower range (no overlong forms, no surrogates,
        // nothing above U+10FFFF); a tail that breaks it is already invalid.
        if have >= 2 {
            let second = bytes[lead + 1]
            let valid: Bool
            switch first {
            case 0xE0: valid = second >= 0xA0
            case 0xED: valid = second <= 0x9F
            case 0xF0: valid = second >= 0x90
            case 0xF4: valid = second <= 0x8F
            default: valid = true
            }
            if !valid { return count }
        }
        return lead
    }
}
