/// What every tokenizer offers the engine: text to token ids and back.
///
/// Implementations are immutable and safe to share between threads.
public protocol Tokenizer: Sendable {
    /// Number of ids in the vocabulary; valid ids are `0..<vocabularySize`.
    var vocabularySize: Int { get }
    /// The beginning-of-sequence id, if the vocabulary has one.
    var bosID: Int32? { get }
    /// The end-of-sequence id, if the vocabulary has one.
    var eosID: Int32? { get }
    /// Ids that end a generated turn: the EOS id plus end-of-turn tokens such as
    /// `<|im_end|>`, `<|eot_id|>` or `<end_of_turn>`.
    var endOfTurnIDs: Set<Int32> { get }
    /// Whether `encode(_:addSpecial: true, parseSpecial:)` prepends the BOS id (the model asks for it).
    var addsBOS: Bool { get }

    /// Converts text to token ids.
    ///
    /// - Parameters:
    ///   - text: The text to encode.
    ///   - addSpecial: Adds the BOS (and EOS) id where the model asks for it.
    ///   - parseSpecial: Control tokens written in the text (such as `<|im_start|>`) become their single ids;
    ///     when false they are encoded as plain text. User-defined tokens always match.
    /// - Returns: The token ids.
    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32]

    /// Converts token ids back to text. Invalid UTF-8 becomes U+FFFD; ids outside the vocabulary are ignored.
    ///
    /// - Parameters:
    ///   - ids: The token ids.
    ///   - skipSpecial: Leaves out control tokens (BOS, EOS, `<|im_end|>` ...).
    func decode(_ ids: [Int32], skipSpecial: Bool) -> String

    /// The raw bytes a token stands for (possibly part of a UTF-8 sequence).
    ///
    /// - Parameters:
    ///   - id: The token id; an id outside the vocabulary gives no bytes.
    ///   - skipSpecial: Control tokens give no bytes instead of their text.
    func bytes(of id: Int32, skipSpecial: Bool) -> [UInt8]

    /// The vocabulary string of a token (in the vocabulary's own encoding, e.g. `Ġworld`), or nil for an invalid id.
    func token(of id: Int32) -> String?

    /// The id of a vocabulary string (in the vocabulary's own encoding), or nil when it is not in the vocabulary.
    func id(of token: String) -> Int32?
}

extension Tokenizer {
    /// The raw bytes a token stands for; control tokens give their text.
    public func bytes(of id: Int32) -> [UInt8] {
        bytes(of: id, skipSpecial: false)
    }

    public func decode(_ ids: [Int32], skipSpecial: Bool) -> String {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(ids.count * 4)
        for id in ids {
            buffer.append(contentsOf: bytes(of: id, skipSpecial: skipSpecial))
        }
        return String(decoding: buffer, as: UTF8.self)
    }
}
