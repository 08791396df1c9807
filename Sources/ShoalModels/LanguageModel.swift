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

/// Builds a `LanguageModel` from a GGUF file.
public typealias ModelFactory = @Sendable (_ file: GGUFFile, _ pool: ComputePool, _ precision: MatmulPrecision) throws -> any LanguageModel

/// The architectures Shoal can run, keyed by `general.architecture`.
///
/// Adding one is a new file under `Models/` plus a line in `factories`.
public enum ModelRegistry {
    /// Factories by architecture name.
    public static let factories: [String: ModelFactory] = [
        "llama": { file, pool, precision in try LlamaModel(file: file, pool: pool, precision: precision) },
        "gemma3": { file, pool, precision in try Gemma3Model(file: file, pool: pool, precision: precision) },
    ]

    /// Names of the supported architectures, sorted.
    public static var architectures: [String] { factories.keys.sorted() }

    /// Loads the model described by `file`, its matrix products in `precision`.
    /// - Throws: `ModelError(.unsupportedArchitecture)` naming the architecture and the supported ones,
    ///   or any error from binding the weights.
    public static func load(_ file: GGUFFile, pool: ComputePool, precision: MatmulPrecision = .exact) throws -> any LanguageModel {
        guard let arch = file.architecture else {
            throw ModelError(.missingMetadata, "general.architecture is missing; not a model file?")
        }
        guard let factory = factories[arch] else {
            throw ModelError(.unsupportedArchitecture,
                             "architecture '\(arch)' is not supported (supported: \(architectures.joined(separator: ", ")))")
        }
        return try factory(file, pool, precision)
    }
}
