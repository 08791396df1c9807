/// Reads a frame payload written by `PayloadWriter`, front to back.
///
/// Every read checks the bytes left first and throws `ClusterError.Code.protocolViolation` when the payload is
/// too short or a count cannot fit, so hostile input never crashes the reader.
public struct PayloadReader: Sendable {
    /// The payload.
    public let bytes: [UInt8]
    /// The offset of the next byte to read.
    public private(set) var offset = 0

    /// Reads `bytes` from the start.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Reads a frame's payload from the start.
    public init(_ frame: Frame) {
        self.bytes = frame.payload
    }

    /// How many bytes are left.
    public var remaining: Int { bytes.count - offset }
    /// Whether every byte was read.
    public var isAtEnd: Bool { offset == bytes.count }

    /// Reads one byte.
    public mutating func readUInt8() throws -> UInt8 { try load(UInt8.self, "a u8") }
    /// Reads a little-endian u16.
    public mutating func readUInt16() throws -> UInt16 { UInt16(littleEndian: try load(UInt16.self, "a u16")) }
    /// Reads a little-endian u32.
    public mutating func readUInt32() throws -> UInt32 { UInt32(littleEndian: try load(UInt32.self, "a u32")) }
    /// Reads a little-endian u64.
    public mutating func readUInt64() throws -> UInt64 { UInt64(littleEndian: try load(UInt64.self, "a u64")) }
    /// Reads a little-endian i32.
    public mutating func readInt32() throws -> Int32 { Int32(littleEndian: try load(Int32.self, "an i32")) }
    /// Reads a little-endian i64.
    public mutating func readInt64() throws -> Int64 { Int64(littleEndian: try load(Int64.self, "an i64")) }
    /// Reads a little-endian IEEE 754 binary32.
    public mutating func readFloat() throws -> Float { Float(bitPattern: UInt32(littleEndian: try load(UInt32.self, "a float"))) }
    /// Reads a little-endian IEEE 754 binary64.
    public mutating func readDouble() throws -> Double { Double(bitPattern: UInt64(littleEndian: try load(UInt64.self, "a double"))) }

    /// Reads a u32 element count and that many little-endian i32.
    /// - Complexity: one copy of the elements' bytes.
    public mutating func readInt32s() throws -> [Int32] {
        let count = try readCount(elementSize: 4, "i32 array")
        let values = copyElements(count, as: Int32.self)
        #if _endian(big)
        return values.map { Int32(littleEndian: $0) }
        #else
        return values
        #endif
    }

    /// Reads a u32 element count and that many little-endian binary32 floats.
    /// - Complexity: one `memcpy` of the elements' bytes.
    public mutating func readFloats() throws -> [Float] {
        let count = try readCount(elementSize: 4, "float array")
        let values = copyElements(count, as: Float.self)
        #if _endian(big)
        return values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
        #else
        return values
        #endif
    }

    /// Reads a u32 byte count and that much UTF-8.
    /// - Throws: `.protocolViolation` also when the bytes are not valid UTF-8.
    public mutating func readString() throws -> String {
        let count = try readCount(elementSize: 1, "string")
        let string = bytes.withUnsafeBufferPointer { String(validating: $0[offset..<(offset + count)], as: UTF8.self) }
        guard let string else {
            throw ClusterError(.protocolViolation, "a payload string at offset \(offset) is not valid UTF-8")
        }
        offset += count
        return string
    }

    /// Reads `count` bytes as they are.
    public mutating func readBytes(count: Int) throws -> [UInt8] {
        guard count >= 0, count <= remaining else {
            throw ClusterError(.protocolViolation,
                "a payload needs \(count) bytes at offset \(offset) but has \(remaining) left")
        }
        let result = Array(bytes[offset..<(offset + count)])
        offset += count
        return result
    }

    /// Reads a u32 count and checks that `count * elementSize` bytes are left.
    private mutating func readCount(elementSize: Int, _ what: String) throws -> Int {
        let start = offset
        let count = Int(try readUInt32())
        guard count <= remaining / elementSize else {
            offset = start
            throw ClusterError(.protocolViolation,
                "a payload \(what) at offset \(start) claims \(count) elements but only \(remaining) bytes are left")
        }
        return count
    }

    /// Copies `count` elements' bytes (already checked to be there) into a new array.
    private mutating func copyElements<T: BitwiseCopyable>(_ count: Int, as type: T.Type) -> [T] {
        let byteCount = count * MemoryLayout<T>.stride
        let result = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            if byteCount > 0 {
                bytes.withUnsafeBytes { source in
                    UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: source.baseAddress! + offset, byteCount: byteCount)
                }
            }
            initialized = count
        }
        offset += byteCount
        return result
    }

    private mutating func load<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else {
            throw ClusterError(.protocolViolation,
                "a payload ends at offset \(offset) where \(what) (\(size) bytes) was expected; \(remaining) left")
        }
        let value = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
        offset += size
        return value
    }
}
