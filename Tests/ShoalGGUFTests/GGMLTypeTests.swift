import ShoalGGUF
import Testing

struct GGMLTypeTests {
    @Test(arguments: GGMLType.allCases)
    func description(type: GGMLType) {
        #expect(!type.description.isEmpty)
        #expect(type.description == type.description.uppercased())
        #expect("\(type)" == type.description)
    }

    @Test func names() {
        #expect(GGMLType.q4_K.description == "Q4_K")
        #expect(GGMLType.iq2_xxs.description == "IQ2_XXS")
        #expect(GGMLType.bf16.description == "BF16")
    }

    @Test(arguments: GGMLType.allCases)
    func byteCount(type: GGMLType) {
        #expect(type.byteCount(elements: 0) == 0)
        #expect(type.byteCount(elements: type.blockSize * 3) == type.blockBytes * 3)
        if type.blockSize > 1 {
            #expect(type.byteCount(elements: type.blockSize + 1) == nil)
        }
        #expect(type.byteCount(elements: -type.blockSize) == nil)
        #expect(type.byteCount(elements: Int.max / type.blockSize * type.blockSize) == nil || type.blockBytes <= type.blockSize)
    }
}
