#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A GGUF file (v2 or v3, little-endian), memory-mapped read-only, with its metadata and tensor table parsed
/// and every tensor's bounds checked at open.
///
/// Tensor data stays in the mapping; `data(for:)` returns a view of it that is valid as long as the file object lives.
public final class GGUFFile: @unchecked Sendable {
    /// The GGUF version (2 or 3).
    public let version: UInt32
    /// All metadata key-value pairs.
    public let metadata: [String: GGUFValue]
    /// The metadata keys in file order.
    public let metadataKeys: [String]
    /// The tensor table, in file order.
    public let tensors: [GGUFTensorInfo]
    /// The data alignment (`general.alignment`, default 32).
    public let alignment: Int
    /// The byte offset of the data section in the file.
    public let dataOffset: Int
    /// The file's size in bytes.
    public let fileSize: Int

    private let storage: Storage
    private let tensorIndex: [String: Int]

    /// Where a file's bytes live once opened.
    public enum Residency: Sendable {
        /// A read-only mapping of the file: loaded lazily, shared with other processes through the page cache.
        case mapped
        /// A private copy in memory advised for transparent huge pages: the whole file is read at open and
        /// costs its size in resident memory, but weights then stream without 4 KB page boundaries (TLB
        /// misses, hardware prefetchers stopping at each page): a Q8_0 matrix x vector read 18.1 instead of
        /// 17.0 GB/s on one Zen 4 core. Falls back to `mapped` where the copy cannot be made.
        case hugePageCopy
    }

    /// Maps and parses the file at `path`.
    /// - Throws: `GGUFError` naming the path and what is wrong with the file.
    public convenience init(path: String) throws {
        try self.init(path: path, residency: .mapped)
    }

    /// Opens and parses the file at `path`, its bytes held as `residency` says.
    /// - Throws: `GGUFError` naming the path and what is wrong with the file.
    public convenience init(path: String, residency: Residency) throws {
        try self.init(storage: try Storage(mapping: path, hugePageCopy: residency == .hugePageCopy), source: path)
    }

    /// Parses GGUF bytes held in memory (a private, aligned copy is kept).
    /// - Throws: `GGUFError` naming what is wrong.
    public convenience init(bytes: [UInt8]) throws {
        try self.init(storage: Storage(copying: bytes), source: nil)
    }

    private init(storage: Storage, source: String?) throws {
        var parser = GGUFParser(base: UnsafeRawPointer(storage.base), size: storage.size, source: source)
        let result = try parser.parse()
        self.storage = storage
        self.version = result.version
        self.metadata = result.metadata
        self.metadataKeys = result.metadataKeys
        self.tensors = result.tensors
        self.alignment = result.alignment
        self.dataOffset = result.dataOffset
        self.fileSize = storage.size
        var index: [String: Int] = [:]
        index.reserveCapacity(result.tensors.count)
        for (i, t) in result.tensors.enumerated() { index[t.name] = i }
        self.tensorIndex = index
    }

    /// The tensor with this name, if the file has one.
    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The bytes of a tensor of this file (bounds were checked at open). The base address is never nil.
    /// - Precondition: `tensor` comes from this file's `tensors`.
    public func data(for tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        let start = dataOffset + tensor.offset
        precondition(
            tensor.offset >= 0 && start <= fileSize && tensor.byteCount <= fileSize - start,
            "tensor '\(tensor.name)' does not belong to this GGUF file")
        return UnsafeRawBufferPointer(start: UnsafeRawPointer(storage.base) + start, count: tensor.byteCount)
    }

    /// All bytes of the file.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: UnsafeRawPointer(storage.base), count: storage.size)
    }

    /// Whether the bytes are a read-only mapping of the file itself: only then may pages a shard does not need be
    /// handed back to the kernel (`madvise(MADV_DONTNEED)`), since they are read from the file again if touched.
    public var isFileMapped: Bool { storage.isFileMapping }

    /// Drops the whole pages inside `bytes` (a range of this file's bytes) from this process's resident memory,
    /// where the file is mapped: a private read-only mapping reads them back from the file if they are touched
    /// again. A copy in memory is left alone.
    public func releasePages(_ bytes: UnsafeRawBufferPointer) {
        guard isFileMapped, let base = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: base) + page - 1) / page * page
        let end = (Int(bitPattern: base) + bytes.count) / page * page
        guard end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(pointer, end - start, MADV_DONTNEED)
    }

    /// `general.architecture`, when present and a string.
    public var architecture: String? {
        metadata["general.architecture"]?.stringValue
    }
}

extension GGUFFile {
    /// Owns the file's bytes: a read-only private mapping, an anonymous huge-page-advised copy, or an aligned
    /// heap copy.
    final class Storage {
        let base: UnsafeMutableRawPointer
        let size: Int
        private let backing: Backing

        /// What holds the bytes at `base`, and how they are freed.
        private enum Backing {
            /// An allocation, deallocated.
            case heap
            /// The file's mapping, unmapped.
            case fileMapping
            /// A huge-page copy, freed with it.
            case copy(WeightMemory)
        }

        /// Whether `base` is a mapping of the file (not a copy).
        var isFileMapping: Bool {
            if case .fileMapping = backing { true } else { false }
        }

        init(copying bytes: [UInt8]) {
            let base = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
            bytes.withUnsafeBytes { src in
                if let s = src.baseAddress { base.copyMemory(from: s, byteCount: src.count) }
            }
            self.base = base
            self.size = bytes.count
            self.backing = .heap
        }

        init(mapping path: String, hugePageCopy: Bool = false) throws(GGUFError) {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw GGUFError(.io, "\(path): cannot open: \(Self.errnoText())")
            }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0 else {
                throw GGUFError(.io, "\(path): cannot stat: \(Self.errnoText())")
            }
            guard (info.st_mode & S_IFMT) == S_IFREG else {
                throw GGUFError(.io, "\(path): not a regular file")
            }
            let size = Int(info.st_size)
            guard size >= 8 else {
                throw GGUFError(.notGGUF, "\(path): not a GGUF file: only \(size) bytes")
            }
            guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
                throw GGUFError(.io, "\(path): cannot map \(size) bytes: \(Self.errnoText())")
            }
            self.size = size
            if hugePageCopy, let copy = WeightMemory.hugePages(byteCount: size) {
                copy.base.copyMemory(from: p, byteCount: size)
                copy.makeReadOnly()
                munmap(p, size)
                self.base = copy.base
                self.backing = .copy(copy)
            } else {
                self.base = p
                self.backing = .fileMapping
            }
        }

        deinit {
            switch backing {
            case .heap: base.deallocate()
            case .fileMapping: munmap(base, size)
            case .copy: break
            }
        }

        static func errnoText() -> String {
            String(cString: strerror(errno))
        }
    }
}
