public import ShoalGGUF
public import ShoalKernels

/// A decoder-only transformer that turns a flattened multi-sequence batch into logits,
/// reading and writing keys and values through block tables in a paged cache.
public protocol LanguageModel: AnyObject, Sendable {
    /// Shape and constants of the model.
    var config: ModelConfig { get }

    /// Runs one step.
    ///
    /// - Parameters:
    ///   - batch: tokens of one or more sequences; see `ForwardBatch`.
    ///   - cache: the paged KV arena; the batch's positions are written into it.
    ///   - logits: room for `batch.logitRows.count * config.vocabularySize` floats, filled row by row.
    /// - Throws: `ModelError(.invalidBatch)` when the batch does not fit the model or the cache; nothing is written then.
    func forward(_ batch: ForwardBatch, cache: PagedKVCache, logits: UnsafeMutablePointer<Float>) throws
}

/// Reads an architecture's description (shape, tensors, how it differs from Llama) from a GGUF file.
public typealias ArchitectureDescriber = @Sendable (_ file: GGUFFile) throws -> DecoderDescription

/// The architectures Shoal can run, keyed by `general.architecture`.
///
/// Adding one is a new file under `Models/` that describes it, plus a line in `architectures`.
public enum ModelRegistry {
    /// Describers by architecture name.
    public static let describers: [String: ArchitectureDescriber] = [
        "llama": Llama.describe,
        "qwen2": Qwen2.describe,
        "qwen3": Qwen3.describe,
        "qwen3moe": Qwen3MoE.describe,
        "phi3": Phi3.describe,
        "gemma2": Gemma2.describe,
        "gemma3": Gemma3.describe,
    ]

    /// Names of the supported architectures, sorted.
    public static var architectures: [String] { describers.keys.sorted() }

    /// The description of the model in `file`.
    /// - Throws: `ModelError(.unsupportedArchitecture)` naming the architecture and the supported ones, or an error
    ///   about its metadata.
    public static func describe(_ file: GGUFFile) throws -> DecoderDescription {
        guard let arch = file.architecture else {
            throw ModelError(.missingMetadata, "general.architecture is missing; not a model file?")
        }
        guard let describe = describers[arch] else {
            throw ModelError(.unsupportedArchitecture,
                             "architecture '\(arch)' is not supported (supported: \(architectures.joined(separator: ", ")))")
        }
        return try describe(file)
    }

    /// Loads `shard` of the model described by `file` (default: all of it), its matrix products in `precision`.
    /// - Throws: `ModelError(.unsupportedArchitecture)` naming the architecture and the supported ones,
    ///   or any error from binding the weights.
    public static func load(_ file: GGUFFile, pool: ComputePool, precision: MatmulPrecision = .exact,
                            shard: ModelShard? = nil) throws -> DecoderModel {
        try DecoderModel(file: file, description: try describe(file), shard: shard, pool: pool, precision: precision)
    }
}
