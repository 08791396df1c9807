import ShoalAPI
import Testing

@Suite struct APIKeySetTests {
    @Test func acceptsOnlyWholeKeys() {
        let keys = APIKeySet(["alpha", "beta-2"])
        #expect(!keys.isEmpty)
        #expect(keys.contains("alpha".utf8))
        #expect(keys.contains("beta-2".utf8))
        for guess in ["", "alph", "alphaa", "Alpha", "beta", "beta-2 ", "gamma"] {
            #expect(!keys.contains(guess.utf8), "\(guess)")
        }
        #expect(APIKeySet([]).isEmpty)
        #expect(!APIKeySet([]).contains("alpha".utf8))
    }
}
