import ShoalStore

/// HMAC-SHA256 (RFC 2104) with a streaming interface: `update` any number of times, then `finalize`.
package struct HMACSHA256: Sendable {
    private var inner = SHA256()
    /// The key XOR opad, hashed in front of the inner digest by `finalize`.
    private var outerKey: [UInt8]

    /// Starts an authentication code under `key` (any length; keys over 64 bytes are hashed first).
    package init(key: [UInt8]) {
        var block = key
        if block.count > 64 {
            var hasher = SHA256()
            hasher.update(block)
            block = hasher.finalize()
        }
        block += [UInt8](repeating: 0, count: 64 - block.count)
        inner.update(block.map { $0 ^ 0x36 })
        outerKey = block.map { $0 ^ 0x5C }
    }

    /// Authenticates more input.
    package mutating func update(_ bytes: UnsafeRawBufferPointer) {
        inner.update(bytes)
    }

    /// Authenticates more input.
    package mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { inner.update($0) }
    }

    /// The 32-byte code; the value should not be used afterwards.
    package mutating func finalize() -> [UInt8] {
        let innerDigest = inner.finalize()
        var outer = SHA256()
        outer.update(outerKey)
        outer.update(innerDigest)
        return outer.finalize()
    }

    /// The code of `message` under `key`.
    package static func authenticationCode(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var hmac = HMACSHA256(key: key)
        hmac.update(message)
        return hmac.finalize()
    }

    /// Whether two codes are equal, taking the same time wherever they differ.
    package static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices {
            difference |= a[i] ^ b[i]
        }
        return difference == 0
    }
}
