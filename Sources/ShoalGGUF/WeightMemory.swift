#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Memory for a weight copy the kernels stream (a model file's bytes, the fast path's interleaved matrices, a
/// drafted head): from 1 MiB on, an anonymous mapping aligned to 2 MiB and advised for transparent huge pages, so
/// that streaming it from DRAM neither misses the TLB every 4 KiB nor stops the hardware prefetchers at every 4 KiB page boundary (with
/// THP in `madvise` mode, as distributions set it, `malloc`'s memory gets no huge pages). Smaller copies, or a
/// failed mapping, come from the allocator. 64-byte aligned either way; freed with the object.
package final class WeightMemory: @unchecked Sendable {
    /// The first byte, 64-byte aligned (2 MiB aligned when mapped).
    package let base: UnsafeMutableRawPointer
    private let mapping: (start: UnsafeMutableRawPointer, length: Int)?

    /// Copies at least this large are mapped for huge pages.
    static let hugePageThreshold = 1 << 20

    private init(base: UnsafeMutableRawPointer, mapping: (start: UnsafeMutableRawPointer, length: Int)?) {
        self.base = base
        self.mapping = mapping
    }

    /// `byteCount` bytes: mapped for huge pages from `hugePageThreshold` on (from the allocator if that fails),
    /// else from the allocator.
    package convenience init(byteCount: Int) {
        if byteCount >= Self.hugePageThreshold, let region = Self.mapRegion(byteCount: byteCount) {
            self.init(base: region.base, mapping: region.mapping)
        } else {
            self.init(base: .allocate(byteCount: max(byteCount, 1), alignment: 64), mapping: nil)
        }
    }

    /// `byteCount` bytes in an anonymous mapping aligned to 2 MiB and advised for huge pages (advice only: without
    /// THP the memory still works); nil when the region cannot be mapped.
    package static func hugePages(byteCount: Int) -> WeightMemory? {
        mapRegion(byteCount: byteCount).map { WeightMemory(base: $0.base, mapping: $0.mapping) }
    }

    private static func mapRegion(byteCount: Int)
        -> (base: UnsafeMutableRawPointer, mapping: (start: UnsafeMutableRawPointer, length: Int))? {
        let huge = 2 << 20
        let length = (byteCount + huge - 1) / huge * huge + huge
        guard let start = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              start != MAP_FAILED else { return nil }
        let base = start + (huge - Int(bitPattern: start) % huge) % huge
        _ = madvise(base, (byteCount + huge - 1) / huge * huge, MADV_HUGEPAGE)
        return (base, (start, length))
    }

    /// Makes the memory read-only (the whole mapping; nothing for an allocator copy).
    package func makeReadOnly() {
        if let mapping { _ = mprotect(mapping.start, mapping.length, PROT_READ) }
    }

    deinit {
        if let mapping {
            munmap(mapping.start, mapping.length)
        } else {
            base.deallocate()
        }
    }
}
