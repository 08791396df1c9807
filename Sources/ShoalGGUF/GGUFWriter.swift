#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds a GGUF v3 file in memory: metadata in insertion order, then the tensor table, then the tensor
/// data, each tensor padded to the alignment. Used for tests and tiny models.
public struct GGUFWriter: Sendable {
    /// The data alignment, written as `general.alignment` when it is not the default 32 (do not set that key yourself).
    public let alignment: Int
    private var keys: [String] = []
    private var values: [String: GGUFValue] = [:]
    private var tensors: [(info: GGUFTensorInfo, data: [UInt8])] = []
    private var dataSize = 0

    /// Creates an empty writer.
    /// - Parameter alignment: a power of two; invalid values fall back to 32.
    public init(alignment: Int = 32) {
        self.alignment = alignment > 0 && alignment & (alignment - 1) == 0 ? alignment : 32
        if self.alignment != 32 {
            set("general.alignment", .uint32(UInt32(clamping: self.alignment)))
        }
    }

    /// Sets a metadata value; a key set twice keeps its first position and takes the new value.
    /// - Precondition: arrays are homogeneous (all elements of one case; nested arrays may differ from each other).
    public mutating func set(_ key: String, _ value: GGUFValue) {
        precondition(Self.isHomogeneous(value), "GGUF metadata '\(key)': array elements must all have one type")
        if values.updateValue(value, forKey: key) == nil {
            keys.append(key)
        }
    }

    /// Adds a tensor; its data follows the previous tensor's, padded to the alignment.
    /// - Throws: `GGUFError` when the shape is invalid, the name is taken, or `data.count` differs from the
    ///   shape's byte count.
    public mutating func addTensor(name: String, type: GGMLType, dimensions: [Int], data: [UInt8]) throws {
        let offset = Self.padded(dataSize, alignment)
        let info = try GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: offset)
        guard !tensors.contains(where: { $0.info.name == name }) else {
            throw GGUFError(.duplicate, "tensor name '\(name)' is already used")
        }
        guard data.count == info.byteCount else {
            throw GGUFError(
                .invalidValue,
                "tensor '\(name)' of type \(type) and shape \(dimensions) needs \(info.byteCount) bytes, got \(data.count)")
        }
        tensors.append((info, data))
        dataSize = offset + data.count
    }

    /// Adds a tensor whose data the caller streams itself after `header()` (at `header().count + offset`, zeros
    /// before it): how a model-parallel leader sends a worker its share of a large file without copying it.
    /// - Throws: as `addTensor`.
    public mutating func reserveTensor(name: String, type: GGMLType, dimensions: [Int]) throws {
        let offset = Self.padded(dataSize, alignment)
        let info = try GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: offset)
        guard !tensors.contains(where: { $0.info.name == name }) else {
            throw GGUFError(.duplicate, "tensor name '\(name)' is already used")
        }
        tensors.append((info, []))
        dataSize = offset + info.byteCount
    }

    /// The tensors so far, with their offsets in the data section.
    public var tensorLayout: [GGUFTensorInfo] { tensors.map(\.info) }

    /// Bytes of the data section (the last tensor's end).
    public var dataByteCount: Int { dataSize }

    /// Magic, metadata and tensor table, padded to where the data starts.
    public func header() -> [UInt8] {
        var out: [UInt8] = []
        out.append(contentsOf: Array("GGUF".utf8))
        Self.append(UInt32(3), to: &out)
        Self.append(UInt64(tensors.count), to: &out)
        Self.append(UInt64(keys.count), to: &out)
        for key in keys {
            let value = values[key]!
            Self.append(string: key, to: &out)
            Self.append(value.valueType.rawValue, to: &out)
            Self.append(value: value, to: &out)
        }
        for (info, _) in tensors {
            Self.append(string: info.name, to: &out)
            Self.append(UInt32(info.dimensions.count), to: &out)
            for d in info.dimensions { Self.append(UInt64(d), to: &out) }
            Self.append(info.type.rawValue, to: &out)
            Self.append(UInt64(info.offset), to: &out)
        }
        out.append(contentsOf: repeatElement(0, count: Self.padded(out.count, alignment) - out.count))
        return out
    }

    /// The complete file (tensors added with their data; a reserved tensor's data is zeros here).
    public func serialized() -> [UInt8] {
        var out = header()
        let dataStart = out.count
        out.reserveCapacity(dataStart + dataSize)
        for (info, data) in tensors {
            out.append(contentsOf: repeatElement(0, count: dataStart + info.offset - out.count))
            out.append(contentsOf: data)
        }
        out.append(contentsOf: repeatElement(0, count: dataStart + dataSize - out.count))
        return out
    }

    /// Writes the file to `path`, replacing any file there.
    /// - Throws: `GGUFError.io` naming the path.
    public func write(to path: String) throws {
        let bytes = serialized()
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw GGUFError(.io, "\(path): cannot create: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buf in
                writeBytes(fd, buf.baseAddress! + written, buf.count - written)
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw GGUFError(.io, "\(path): write failed: \(String(cString: strerror(errno)))")
            }
            written += n
        }
    }

    private static func padded(_ n: Int, _ alignment: Int) -> Int {
        (n + alignment - 1) / alignment * alignment
    }

    private static func isHomogeneous(_ value: GGUFValue) -> Bool {
        guard case .array(let elements) = value else { return true }
        guard let first = elements.first else { return true }
        let type = first.valueType
        return elements.allSatisfy { $0.valueType == type && isHomogeneous($0) }
    }

    private static func append<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func append(string: String, to out: inout [UInt8]) {
        append(UInt64(string.utf8.count), to: &out)
        out.append(contentsOf: string.utf8)
    }

    private static func append(value: GGUFValue, to out: inout [UInt8]) {
        switch value {
        case .uint8(let v): append(v, to: &out)
        case .int8(let v): append(v, to: &out)
        case .uint16(let v): append(v, to: &out)
        case .int16(let v): append(v, to: &out)
        case .uint32(let v): append(v, to: &out)
        case .int32(let v): append(v, to: &out)
        case .uint64(let v): append(v, to: &out)
        case .int64(let v): append(v, to: &out)
        case .float32(let v): append(v.bitPattern, to: &out)
        case .float64(let v): append(v.bitPattern, to: &out)
        case .bool(let v): out.append(v ? 1 : 0)
        case .string(let v): append(string: v, to: &out)
        case .array(let elements):
            // An empty array has no element to take the type from; uint8 is as good as any.
            append((elements.first?.valueType ?? .uint8).rawValue, to: &out)
            append(UInt64(elements.count), to: &out)
            for element in elements { append(value: element, to: &out) }
        }
    }
}

/// `write(2)`, out of reach of `GGUFWriter.write(to:)`'s name.
private func writeBytes(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    write(fd, p, n)
}
