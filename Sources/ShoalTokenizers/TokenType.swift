/// The kind of a vocabulary entry, with GGUF's numbering (`tokenizer.ggml.token_type`).
public enum TokenType: Int, Sendable, CaseIterable {
    case undefined = 0
    /// An ordinary token produced by the merge rules.
    case normal = 1
    /// The unknown-token placeholder.
    case unknown = 2
    /// A control token such as `<|im_start|>`: matched in text only when parsing special tokens,
    /// left out when decoding with `skipSpecial`.
    case control = 3
    /// A token added by the model's authors: always matched literally in text and decoded as written.
    case userDefined = 4
    /// A placeholder (such as `[PAD123]`): never produced by encoding, decodes to nothing.
    case unused = 5
    /// A single raw byte, written `<0xAB>`.
    case byte = 6
}
