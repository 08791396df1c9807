import ShoalCluster
import Testing

struct HMACSHA256Tests {
    /// RFC 4231 test cases 1, 2 and 6 (6: a key longer than the block, hashed first).
    @Test(arguments: [
        ([UInt8](repeating: 0x0B, count: 20), "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Array("Jefe".utf8), "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ([UInt8](repeating: 0xAA, count: 131), "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        ([], "", "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"),
    ])
    func matchesReferenceVectors(key: [UInt8], message: String, expected: String) {
        #expect(hex(HMACSHA256.authenticationCode(key: key, message: Array(message.utf8))) == expected)
    }

    @Test func streamingMatchesOneShot() {
        let message = patternBytes(1000)
        var hmac = HMACSHA256(key: Array("k".utf8))
        for chunk in stride(from: 0, to: message.count, by: 37) {
            hmac.update(Array(message[chunk..<min(chunk + 37, message.count)]))
        }
        #expect(hmac.finalize() == HMACSHA256.authenticationCode(key: Array("k".utf8), message: message))
    }

    @Test func constantTimeEqual() {
        #expect(HMACSHA256.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!HMACSHA256.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!HMACSHA256.constantTimeEqual([1, 2, 3], [1, 2]))
        #expect(HMACSHA256.constantTimeEqual([], []))
    }
}
