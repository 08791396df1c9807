/// How a byte-level BPE vocabulary splits text into pieces before merging (`tokenizer.ggml.pre`).
///
/// Each case is a hand-written scanner over Unicode scalars that reproduces llama.cpp's splitting
/// for the regular expression named below (`\p{L}`, `\p{N}` by general category, `\s` = White_Space).
public enum BPEPreTokenizer: String, Sendable, CaseIterable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// SmolLM2 (and StarCoder, Refact, Command-R ...): every `\p{N}` scalar is split off on its own first,
    /// then the GPT-2 expression runs on each remaining piece.
    case smollm
    /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
    /// a piece that is itself a vocabulary token is kept whole without merging.
    case llama3
    /// Qwen2: as Llama 3, but `\p{N}` takes one scalar at a time.
    case qwen2
    /// Mistral's Tekken (Mistral Nemo, Pixtral-era Ministral): words split at case changes,
    /// `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    /// (the expression of its `tokenizer.json`, with Unicode's categories; llama.cpp approximates the
    /// upper- and lower-case classes by "letter not a-z" and "letter not A-Z", which differs only for
    /// non-ASCII letters inside a run of the other case); a piece that is a vocabulary token is kept whole.
    case tekken

    /// The pre-tokenizer for a `tokenizer.ggml.pre` name, following llama.cpp's grouping of names.
    ///
    /// - Parameter name: The name from the file; nil and `"default"` mean GPT-2 (llama.cpp's `"default"`
    ///   adds further splits of punctuation and digits, which are not reproduced).
    /// - Returns: nil when the name is not recognized.
    public init?(ggufName name: String?) {
        guard let name else {
            self = .gpt2
            return
        }
        switch name {
        case "gpt2", "default", "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
            "a.x-4.0", "mellum", "modern-bert", "exaone4", "mpt", "olmo", "jais", "trillion", "granite-docling":
            self = .gpt2
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", "mellum2":
            self = .smollm
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano":
            self = .llama3
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open":
            self = .qwen2
        case "tekken":
            self = .tekken
        default:
            return nil
        }
    }

    /// Whether a piece that is a whole vocabulary token skips the merge loop (llama.cpp's `ignore_merges`).
    var ignoresMerges: Bool { self == .llama3 || self == .tekken }
}
