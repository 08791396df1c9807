/// GPT-2's reversible mapping between bytes and printable Unicode scalars (`bytes_to_unicode`).
///
/// Printable Latin-1 bytes map to themselves; the other 68 bytes map to U+0100 ... U+0143 in byte order,
/// so a space becomes `Ġ` (U+0120) and a newline `Ċ` (U+010A).
enum ByteLevel {
    /// The scalar value each byte maps to.
    static let scalarOfByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// The byte a scalar stands for, or nil for scalars outside the mapping.
    @inline(__always)
    static func byte(ofScalar value: UInt32) -> UInt8? {
        switch value {
        case 0x21...0x7E, 0xA1...0xAC, 0xAE...0xFF:
            return UInt8(value)
        case 0x100...0x143:
            return unmappedBytes[Int(value - 0x100)]
        default:
            return nil
        }
    }

    /// The bytes that map to U+0100 ... U+0143, in order.
    private static let unmappedBytes: [UInt8] = (0..<256).compactMap { byte in
        scalarOfByte[byte] >= 256 ? UInt8(byte) : nil
    }

    /// The bytes a byte-level vocabulary string stands for. Scalars outside the mapping
    /// contribute their own UTF-8 bytes.
    static func decode(_ token: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.utf8.count)
        for scalar in token.unicodeScalars {
            if let byte = byte(ofScalar: scalar.value) {
                bytes.append(byte)
            } else {
                bytes.append(contentsOf: String(scalar).utf8)
            }
        }
        return bytes
    }

    /// The byte-level vocabulary string for raw bytes.
    static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var scalars = String.UnicodeScalarView()
        for byte in bytes {
            scalars.append(Unicode.Scalar(scalarOfByte[Int(byte)])!)
        }
        return String(scalars)
    }
}
