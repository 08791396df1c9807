/// Reads the GGUF header, metadata and tensor table from bytes already in memory, checking every length
/// against the bytes that remain before it reads or allocates.
struct GGUFParser {
    struct Result {
        var version: UInt32
        var metadata: [String: GGUFValue]
        var metadataKeys: [String]
        var tensors: [GGUFTensorInfo]
        var alignment: Int
        var dataOffset: Int
    }

    /// Deepest nesting of arrays inside arrays that a file may use.
    static let maximumArrayDepth = 8
    static let defaultAlignment = 32

    let base: UnsafeRawPointer
    let size: Int
    /// Prefix for messages: the path and a colon, or empty.
    let prefix: String
    var offset = 0

    init(base: UnsafeRawPointer, size: Int, source: String?) {
        self.base = base
        self.size = size
        self.prefix = source.map { "\($0): " } ?? ""
    }

    var remaining: Int { size - offset }

    func error(_ code: GGUFError.Code, _ message: String) -> GGUFError {
        GGUFError(code, prefix + message)
    }

    func truncated(_ needed: Int, _ what: String) -> GGUFError {
        error(.truncated, "file is truncated: \(what) needs \(needed) bytes at offset \(offset), but only \(remaining) remain")
    }

    @inline(__always)
    mutating func require(_ count: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        guard count <= remaining else { throw truncated(count, what()) }
    }

    @inline(__always)
    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(GGUFError) -> T {
        guard MemoryLayout<T>.size <= remaining else { throw truncated(MemoryLayout<T>.size, what()) }
        let v = T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return v
    }

    /// Reads a u64 count or length and checks that `count * minimumSize` bytes could still follow.
    mutating func count(minimumSize: Int, _ what: @autoclosure () -> String) throws(GGUFError) -> Int {
        let raw = try read(UInt64.self, what())
        guard raw <= UInt64(remaining / max(minimumSize, 1)) else {
            throw error(
                .truncated,
                "\(what()) is \(raw), more than the \(remaining) remaining bytes can hold")
        }
        return Int(raw)
    }

    @inline(__always)
    mutating func string(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
        let length = try count(minimumSize: 1, "length of \(what())")
        let start = UnsafeRawBufferPointer(start: base + offset, count: length)
        guard let s = String(validating: start, as: UTF8.self) else {
            throw error(.invalidString, "\(what()) at offset \(offset) is not valid UTF-8")
        }
        offset += length
        return s
    }

    mutating func valueType(_ what: @autoclosure () -> String) throws(GGUFError) -> GGUFValueType {
        let raw = try read(UInt32.self, "type of \(what())")
        guard let type = GGUFValueType(rawValue: raw) else {
            throw error(.unknownType, "\(what()) has unknown value type id \(raw)")
        }
        return type
    }

    mutating func value(of type: GGUFValueType, _ what: @autoclosure () -> String, depth: Int) throws(GGUFError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, what()))
        case .int8: return .int8(try read(Int8.self, what()))
        case .uint16: return .uint16(try read(UInt16.self, what()))
        case .int16: return .int16(try read(Int16.self, what()))
        case .uint32: return .uint32(try read(UInt32.self, what()))
        case .int32: return .int32(try read(Int32.self, what()))
        case .uint64: return .uint64(try read(UInt64.self, what()))
        case .int64: return .int64(try read(Int64.self, what()))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, what())))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, what())))
        case .bool:
            let byte = try read(UInt8.self, what())
            guard byte <= 1 else {
                throw error(.invalidValue, "\(what()) is a bool with byte value \(byte) (must be 0 or 1)")
            }
            return .bool(byte == 1)
        case .string:
            return .string(try string(what()))
        case .array:
            guard depth < Self.maximumArrayDepth else {
                throw error(.invalidValue, "\(what()) nests arrays more than \(Self.maximumArrayDepth) deep")
            }
            let elementType = try valueType("elements of \(what())")
            let n = try count(minimumSize: elementType.minimumSize, "element count of \(what())")
            var elements: [GGUFValue] = []
            elements.reserveCapacity(n)
            switch elementType {
            case .string:
                for i in 0..<n {
                    elements.append(.string(try string("element \(i) of \(what())")))
                }
            case .array, .bool:
                for i in 0..<n {
                    elements.append(try value(of: elementType, "element \(i) of \(what())", depth: depth + 1))
                }
            default:
                // Fixed-size numbers: the count check above already proved all of them are present.
                for _ in 0..<n {
                    elements.append(try value(of: elementType, "", depth: depth + 1))
                }
            }
            return .array(elements)
        }
    }

    mutating func parse() throws(GGUFError) -> Result {
        guard size >= 4 else {
            throw error(.notGGUF, "not a GGUF file: only \(size) bytes")
        }
        let magic = try read(UInt32.self, "magic")
        guard magic == 0x4655_4747 else {  // "GGUF"
            throw error(.notGGUF, "not a GGUF file: bad magic \(hex(magic))")
        }
        let version = try read(UInt32.self, "version")
        guard version == 2 || version == 3 else {
            if version & 0xFFFF == 0 && version != 0 {
                throw error(.unsupportedVersion, "big-endian GGUF files are not supported")
            }
            throw error(.unsupportedVersion, "GGUF version \(version) is not supported (only 2 and 3)")
        }
        // A tensor info takes at least: name length 8, dimension count 4, one dimension 8, type 4, offset 8.
        let tensorCount = try count(minimumSize: 32, "tensor count")
        // A key-value pair takes at least: key length 8, type 4, one byte of value.
        let kvCount = try count(minimumSize: 13, "metadata count")

        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        metadata.reserveCapacity(kvCount)
        keys.reserveCapacity(kvCount)
        for i in 0..<kvCount {
            let key = try string("metadata key #\(i)")
            let type = try valueType("metadata '\(key)'")
            let value = try value(of: type, "metadata '\(key)'", depth: 0)
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw error(.duplicate, "metadata key '\(key)' appears twice")
            }
            keys.append(key)
        }

        var alignment = Self.defaultAlignment
        if let value = metadata["general.alignment"] {
            guard let a = value.intValue, a > 0, a & (a - 1) == 0 else {
                throw error(.invalidValue, "general.alignment must be a positive power of two, got \(value)")
            }
            alignment = a
        }

        var tensors: [GGUFTensorInfo] = []
        var names = Set<String>()
        tensors.reserveCapacity(tensorCount)
        names.reserveCapacity(tensorCount)
        for i in 0..<tensorCount {
            let name = try string("name of tensor #\(i)")
            let dimCount = try read(UInt32.self, "dimension count of tensor '\(name)'")
            guard (1...4).contains(dimCount) else {
                throw error(.invalidValue, "tensor '\(name)' has \(dimCount) dimensions; GGUF allows 1 to 4")
            }
            var dims: [Int] = []
            dims.reserveCapacity(Int(dimCount))
            for d in 0..<Int(dimCount) {
                let raw = try read(UInt64.self, "dimension \(d) of tensor '\(name)'")
                guard let dim = Int(exactly: raw), raw <= UInt64(Int64.max) else {
                    throw error(.invalidValue, "tensor '\(name)' has dimension \(d) = \(raw), which is too large")
                }
                dims.append(dim)
            }
            let rawType = try read(UInt32.self, "type of tensor '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw error(.unknownType, "tensor '\(name)' has unknown ggml type id \(rawType)")
            }
            let rawOffset = try read(UInt64.self, "offset of tensor '\(name)'")
            guard let offset = Int(exactly: rawOffset) else {
                throw error(.outOfBounds, "tensor '\(name)' has offset \(rawOffset), beyond any file")
            }
            let info: GGUFTensorInfo
            do {
                info = try GGUFTensorInfo(name: name, dimensions: dims, type: type, offset: offset)
            } catch {
                throw self.error(error.code, error.message)
            }
            guard names.insert(name).inserted else {
                throw error(.duplicate, "tensor name '\(name)' appears twice")
            }
            tensors.append(info)
        }

        // The data section starts at the next multiple of the alignment.
        let (padded, overflow) = offset.addingReportingOverflow(alignment - 1)
        guard !overflow else { throw error(.invalidValue, "data offset overflows") }
        let dataOffset = padded & ~(alignment - 1)
        let dataBytes = size - min(dataOffset, size)
        for t in tensors {
            guard t.offset % alignment == 0 else {
                throw error(
                    .outOfBounds, "tensor '\(t.name)' has offset \(t.offset), not a multiple of the alignment \(alignment)")
            }
            guard dataOffset <= size, t.offset <= dataBytes, t.byteCount <= dataBytes - t.offset else {
                throw error(
                    .outOfBounds,
                    "tensor '\(t.name)' data (\(t.byteCount) bytes at data offset \(t.offset)) ends beyond the file: "
                        + "the data section at \(dataOffset) has \(dataBytes) bytes")
            }
        }
        return Result(
            version: version, metadata: metadata, metadataKeys: keys, tensors: tensors, alignment: alignment,
            dataOffset: dataOffset)
    }
}

func hex(_ v: UInt32) -> String {
    let digits = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
