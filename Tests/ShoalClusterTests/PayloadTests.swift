import ShoalCluster
import Testing

struct PayloadTests {
    /// A payload with one of everything the writer can write.
    static func sample() -> [UInt8] {
        var writer = PayloadWriter()
        writer.writeUInt8(0xAB)
        writer.writeUInt16(0xBEEF)
        writer.writeUInt32(0xDEAD_BEEF)
        writer.writeUInt64(0x0123_4567_89AB_CDEF)
        writer.writeInt32(-123_456)
        writer.writeInt64(.min)
        writer.writeFloat(-1.5)
        writer.writeDouble(.pi)
        writer.writeInt32s([1, -2, .max, .min])
        writer.writeFloats([0, -0.0, 1e-30, .infinity, 3.25])
        writer.writeFloats([])
        writer.writeString("héllo, 世界")
        writer.writeString("")
        writer.writeBytes([7, 8, 9])
        return writer.bytes
    }

    /// Reads what `sample` wrote, checking each value.
    static func readSample(_ reader: inout PayloadReader) throws {
        #expect(try reader.readUInt8() == 0xAB)
        #expect(try reader.readUInt16() == 0xBEEF)
        #expect(try reader.readUInt32() == 0xDEAD_BEEF)
        #expect(try reader.readUInt64() == 0x0123_4567_89AB_CDEF)
        #expect(try reader.readInt32() == -123_456)
        #expect(try reader.readInt64() == .min)
        #expect(try reader.readFloat() == -1.5)
        #expect(try reader.readDouble() == .pi)
        #expect(try reader.readInt32s() == [1, -2, .max, .min])
        let floats = try reader.readFloats()
        #expect(floats.map(\.bitPattern) == [0, -0.0, 1e-30, .infinity, 3.25].map { (x: Float) in x.bitPattern })
        #expect(try reader.readFloats() == [])
        #expect(try reader.readString() == "héllo, 世界")
        #expect(try reader.readString() == "")
        #expect(try reader.readBytes(count: 3) == [7, 8, 9])
    }

    @Test func roundTrip() throws {
        let bytes = Self.sample()
        var reader = PayloadReader(bytes)
        try Self.readSample(&reader)
        #expect(reader.isAtEnd)
        #expect(reader.remaining == 0)
    }

    @Test func encodingIsLittleEndianWithU32Counts() {
        var writer = PayloadWriter()
        writer.writeUInt32(0x0102_0304)
        writer.writeFloats([1])
        writer.writeString("ab")
        #expect(writer.bytes == [4, 3, 2, 1, 1, 0, 0, 0, 0, 0, 0x80, 0x3F, 2, 0, 0, 0, 0x61, 0x62])
    }

    @Test func largeFloatArrayRoundTrips() throws {
        let values = (0..<100_000).map { Float($0) * 0.25 - 7 }
        var writer = PayloadWriter(capacity: 4 + values.count * 4)
        writer.writeFloats(values)
        var reader = PayloadReader(writer.bytes)
        #expect(try reader.readFloats() == values)
        #expect(reader.isAtEnd)
    }

    /// Every strict prefix of a valid payload throws `.protocolViolation` somewhere, never crashes.
    @Test func everyTruncationIsAProtocolViolation() {
        let bytes = Self.sample()
        for length in 0..<bytes.count {
            var reader = PayloadReader(Array(bytes[0..<length]))
            #expect(throws: ClusterError.self) {
                do {
                    try Self.readSample(&reader)
                } catch let error as ClusterError {
                    #expect(error.code == .protocolViolation)
                    throw error
                }
            }
        }
    }

    @Test(arguments: [UInt32.max, 0x4000_0000, 5])
    func absurdCountsAreProtocolViolations(count: UInt32) throws {
        var writer = PayloadWriter()
        writer.writeUInt32(count)
        writer.writeBytes([1, 2, 3, 4])  // room for one float, less than `count` of anything but 4 bytes
        let bytes = writer.bytes
        for read in [
            { (r: inout PayloadReader) in _ = try r.readFloats() },
            { (r: inout PayloadReader) in _ = try r.readInt32s() },
            { (r: inout PayloadReader) in _ = try r.readString() },
        ] {
            var reader = PayloadReader(bytes)
            let error = try #require(throws: ClusterError.self) { try read(&reader) }
            #expect(error.code == .protocolViolation)
        }
    }

    @Test func hostileRawReadsAndStrings() throws {
        var reader = PayloadReader([1, 2, 3])
        #expect(throws: ClusterError.self) { try reader.readBytes(count: -1) }
        #expect(throws: ClusterError.self) { try reader.readBytes(count: 4) }
        #expect(throws: ClusterError.self) { try reader.readUInt32() }
        #expect(try reader.readBytes(count: 3) == [1, 2, 3])
        #expect(throws: ClusterError.self) { try reader.readUInt8() }

        var invalid = PayloadReader([2, 0, 0, 0, 0xC3, 0x28])  // not UTF-8
        let error = try #require(throws: ClusterError.self) { try invalid.readString() }
        #expect(error.code == .protocolViolation)
    }
}
