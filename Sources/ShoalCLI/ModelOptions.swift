import ArgumentParser
import Foundation
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalStore
import ShoalTokenizers

/// `--model` and `--threads`, shared by every command that loads a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "A catalogue name (pulled on first use) or a path to a .gguf file.")
    var model: String = ModelCatalog.defaultModelName

    @Option(name: .long, help: "Compute threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 || threads > 512 {
            throw ValidationError("--threads must be between 1 and 512")
        }
    }

    var threadCount: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }

    /// Resolves `--model` to a file on disk, pulling a catalogue model if needed (progress on stderr).
    func path() throws -> String {
        try ModelStore().resolve(model, pull: true) { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// The GGUF file and its tokenizer (no weights bound).
    func openTokenizer() throws -> (GGUFFile, any Tokenizer) {
        let file = try GGUFFile(path: try path())
        return (file, try loadTokenizer(from: file))
    }

    /// The file, the model bound to it (its matrix products in `precision`) and its tokenizer.
    func load(precision: MatmulPrecision) throws -> LoadedModel {
        try LoadedModel.open(model, threads: threadCount, precision: precision) { printError($0) }
    }
}

/// `--precision` for the commands that run the model locally (`generate`, `bench`); `serve` has its own default.
struct PrecisionOption: ParsableArguments {
    @Option(name: .long, help: "Matrix products: exact (float32 activations, matches the reference) or fast (int8 activations for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K weights, like llama.cpp).",
            transform: parsePrecision)
    var precision: MatmulPrecision = .exact
}

/// `--kv-cache-dtype` for the commands that run the model (`serve`, `generate`, `bench`).
struct KVCacheOption: ParsableArguments {
    @Option(name: .customLong("kv-cache-dtype"),
            help: "How the KV cache stores keys and values: auto (f32 with --precision exact, f16 with fast), f32, f16, bf16 or q8_0 (llama.cpp's 8-bit blocks).")
    var kvCacheDtype: String = "auto"

    func validate() throws {
        guard kvCacheDtype.lowercased() == "auto" || KVCacheType(name: kvCacheDtype) != nil else {
            throw ValidationError("--kv-cache-dtype must be auto, f32, f16, bf16 or q8_0, got '\(kvCacheDtype)'")
        }
    }

    /// The type for `precision`: exact stays exact (f32) unless asked otherwise.
    func type(for precision: MatmulPrecision) -> KVCacheType {
        KVCacheType(name: kvCacheDtype) ?? (precision == .exact ? .f32 : .f16)
    }
}

extension LoadedModel {
    /// Resolves `reference` (catalogue name, pulled if missing, or .gguf path), then opens the file, its
    /// tokenizer and the model bound to it on a pool of `threads` threads, its matrix products in `precision`.
    ///
    /// Weights are copied into huge-page memory (faster decode) unless `SHOAL_WEIGHTS=mapped` asks for the
    /// shared file mapping (less resident memory when several processes serve the same file).
    static func open(_ reference: String, threads: Int, precision: MatmulPrecision = .exact,
                     progress: @escaping (String) -> Void) throws -> LoadedModel {
        let residency: GGUFFile.Residency =
            ProcessInfo.processInfo.environment["SHOAL_WEIGHTS"] == "mapped" ? .mapped : .hugePageCopy
        let file = try GGUFFile(path: try ModelStore().resolve(reference, pull: true, progress: progress),
                                residency: residency)
        let tokenizer = try loadTokenizer(from: file)
        let pool = ComputePool(threadCount: threads)
        return LoadedModel(file: file, model: try ModelRegistry.load(file, pool: pool, precision: precision), tokenizer: tokenizer, pool: pool)
    }
}

struct LoadedModel {
    let file: GGUFFile
    let model: any LanguageModel
    let tokenizer: any Tokenizer
    let pool: ComputePool

    /// The model's chat template.
    func chatTemplate() throws -> ChatTemplate {
        try Self.chatTemplate(of: file)
    }

    /// The chat template of the model in `file`.
    static func chatTemplate(of file: GGUFFile) throws -> ChatTemplate {
        guard let source = file.metadata["tokenizer.chat_template"]?.stringValue else {
            throw ValidationError("this model has no chat template (tokenizer.chat_template is missing)")
        }
        return try ChatTemplate(source)
    }
}

/// Writes to standard error without buffering.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Parses `--precision`.
func parsePrecision(_ text: String) throws -> MatmulPrecision {
    guard let precision = MatmulPrecision(rawValue: text) else {
        throw ValidationError("--precision must be exact or fast (got '\(text)')")
    }
    return precision
}
