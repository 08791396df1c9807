/// The Unicode scalars of a piece of UTF-8 text with their character classes and byte offsets:
/// the input of the pre-tokenizer scanners. Reused across calls to avoid allocation.
struct ScalarText {
    /// `\p{L}`: general category L*.
    static let letter: UInt8 = 0x01
    /// `\p{N}`: general category Nd, Nl, No.
    static let number: UInt8 = 0x02
    /// `\s`: the Unicode White_Space property.
    static let whitespace: UInt8 = 0x04
    /// Set for every scalar inside the text, so that 0 means "past the end".
    static let present: UInt8 = 0x80

    /// Scalar values.
    var values: [UInt32] = []
    /// Class bits of each scalar.
    var classes: [UInt8] = []
    /// Byte offset of each scalar in the source bytes, plus the end offset (count + 1 entries).
    var byteOffsets: [Int] = []

    var count: Int { values.count }

    /// Decodes `bytes[range]` (valid UTF-8) into scalars.
    mutating func load(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>) {
        values.removeAll(keepingCapacity: true)
        classes.removeAll(keepingCapacity: true)
        byteOffsets.removeAll(keepingCapacity: true)
        var index = range.lowerBound
        let end = range.upperBound
        while index < end {
            let lead = UInt32(bytes[index])
            var value = lead
            var length = 1
            if lead >= 0xF0 {
                length = 4
                value = lead & 0x07
            } else if lead >= 0xE0 {
                length = 3
                value = lead & 0x0F
            } else if lead >= 0xC0 {
                length = 2
                value = lead & 0x1F
            }
            if length > 1 {
                if index + length > end {
                    // Cannot happen for text that came from a String; keep the byte as it is.
                    length = 1
                    value = lead
                } else {
                    for offset in 1..<length {
                        value = (value << 6) | (UInt32(bytes[index + offset]) & 0x3F)
                    }
                }
            }
            values.append(value)
            classes.append(Self.classify(value))
            byteOffsets.append(index)
            index += length
        }
        byteOffsets.append(end)
    }

    /// The class bits of a scalar value.
    @inline(__always)
    static func classify(_ value: UInt32) -> UInt8 {
        if value < 0x80 {
            if (value | 0x20) &- 0x61 < 26 { return present | letter }
            if value &- 0x30 < 10 { return present | number }
            if value == 0x20 || (value >= 0x09 && value <= 0x0D) { return present | whitespace }
            return present
        }
        return classifyNonASCII(value)
    }

    static func classifyNonASCII(_ value: UInt32) -> UInt8 {
        guard let scalar = Unicode.Scalar(value) else { return present }
        let properties = scalar.properties
        if properties.isWhitespace { return present | whitespace }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return present | letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return present | number
        default:
            return present
        }
    }
}
