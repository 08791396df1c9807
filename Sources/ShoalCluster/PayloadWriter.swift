/// Builds a frame payload: little-endian numbers, count-prefixed arrays and strings, raw bytes.
///
/// `PayloadReader` reads the same encodings back.
public struct PayloadWriter: Sendable {
    /// The payload written so far.
    public private(set) var bytes: [UInt8]

    /// Starts an empty payload with room for `capacity` bytes.
    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Writes one byte.
    public mutating func writeUInt8(_ value: UInt8) { bytes.append(value) }
    /// Writes a little-endian u16.
    public mutating func writeUInt16(_ value: UInt16) { append(value.littleEndian) }
    /// Writes a little-endian u32.
    public mutating func writeUInt32(_ value: UInt32) { append(value.littleEndian) }
    /// Writes a little-endian u64.
    public mutating func writeUInt64(_ value: UInt64) { append(value.littleEndian) }
    /// Writes a little-endian i32.
    public mutating func writeInt32(_ value: Int32) { append(value.littleEndian) }
    /// Writes a little-endian i64.
    public mutating func writeInt64(_ value: Int64) { append(value.littleEndian) }
    /// Writes a little-endian IEEE 754 binary32.
    public mutating func writeFloat(_ value: Float) { append(value.bitPattern.littleEndian) }
    /// Writes a little-endian IEEE 754 binary64.
    public mutating func writeDouble(_ value: Double) { append(value.bitPattern.littleEndian) }

    /// Writes a u32 element count, then the elements as little-endian i32.
    public mutating func writeInt32s(_ values: [Int32]) {
        writeCount(values.count)
        #if _endian(little)
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
        for value in values { writeInt32(value) }
        #endif
    }

    /// Writes a u32 element count, then the elements as little-endian IEEE 754 binary32.
    /// - Complexity: one copy of the elements' bytes.
    public mutating func writeFloats(_ values: [Float]) {
        values.withUnsafeBufferPointer { writeFloats($0) }
    }

    /// Writes a u32 element count, then the elements as little-endian IEEE 754 binary32.
    /// - Complexity: one copy of the elements' bytes.
    public mutating func writeFloats(_ values: UnsafeBufferPointer<Float>) {
        writeCount(values.count)
        #if _endian(little)
        bytes.append(contentsOf: UnsafeRawBufferPointer(values))
        #else
        for value in values { writeFloat(value) }
        #endif
    }

    /// Writes a u32 byte count, then the string's UTF-8.
    public mutating func writeString(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            writeCount(utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }

    /// Writes bytes as they are, without a count.
    public mutating func writeBytes(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw)
    }

    /// Writes bytes as they are, without a count.
    public mutating func writeBytes(_ raw: [UInt8]) {
        bytes.append(contentsOf: raw)
    }

    private mutating func writeCount(_ count: Int) {
        guard let count = UInt32(exactly: count) else {
            preconditionFailure("a payload array or string of \(count) elements does not fit a u32 count")
        }
        writeUInt32(count)
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }
}
