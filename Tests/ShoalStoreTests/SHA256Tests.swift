import ShoalStore
import ShoalTestSupport
import Testing

struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
        ("The quick brown fox jumps over the lazy dog",
         "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"),
    ])
    func knownVectors(input: String, digest: String) {
        #expect(SHA256.hex(of: Array(input.utf8)) == digest)
    }

    @Test func millionAs() {
        var hasher = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hasher.update(chunk) }
        #expect(SHA256.hexString(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Lengths around the 55/56/64-byte padding boundaries, fed in random pieces, match one-shot hashing.
    @Test(arguments: [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000])
    func streamingMatchesOneShot(length: Int) {
        var rng = SeededGenerator(seed: UInt64(length) &+ 17)
        let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let expected = SHA256.hex(of: data)
        for _ in 0..<20 {
            var hasher = SHA256()
            var i = 0
            while i < length {
                let n = Int.random(in: 0...min(70, length - i), using: &rng)
                hasher.update(data[i..<(i + n)])
                i += n
            }
            #expect(SHA256.hexString(hasher.finalize()) == expected, "length \(length)")
        }
    }

    @Test func differentInputsDiffer() {
        #expect(SHA256.hex(of: [0]) != SHA256.hex(of: [1]))
        #expect(SHA256.hex(of: [UInt8](repeating: 0, count: 64)) != SHA256.hex(of: [UInt8](repeating: 0, count: 65)))
    }
}

