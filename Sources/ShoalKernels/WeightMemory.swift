import Glibc

/// Memory for a weight copy the kernels stream (the fast path's interleaved matrices, a drafted head): from 1 MiB
/// on, an anonymous mapping aligned to 2 MiB and advised for transparent huge pages, so that streaming it from
/// DRAM neither misses the TLB every 4 KiB nor stops the hardware prefetchers at every 4 KiB page boundary (with
/// THP in `madvise` mode, as distributions set it, `malloc`'s memory gets no huge pages). Smaller copies, or a
/// failed mapping, come from the allocator. 64-byte aligned either way; freed with the object.
final class WeightMemory: @unchecked Sendable {
    /// The first byte, 64-byte aligned (2 MiB aligned when mapped).
    let base: UnsafeMutableRawPointer
    private let mapping: (start: UnsafeMutableRawPointer, length: Int)?

    /// Copies at least this large are mapped for huge pages.
    static let hugePageThreshold = 1 << 20

    init(byteCount: Int) {
        let huge = 2 << 20
        if byteCount >= Self.hugePageThreshold {
            let length = (byteCount + huge - 1) / huge * huge + huge
            if let start = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
               start != MAP_FAILED {
                let offset = (huge - Int(bitPattern: start) % huge) % huge
                base = start + offset
                _ = madvise(base, (byteCount + huge - 1) / huge * huge, MADV_HUGEPAGE)  // advice only
                mapping = (start, length)
                return
            }
        }
        base = .allocate(byteCount: max(byteCount, 1), alignment: 64)
        mapping = nil
    }

    deinit {
        if let mapping {
            munmap(mapping.start, mapping.length)
        } else {
            base.deallocate()
        }
    }
}
