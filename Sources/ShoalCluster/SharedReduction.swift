import CShoalKernels
import Foundation
import Glibc
import ShoalEngine
import ShoalModels
import ShoalStore

/// The tensor-parallel all-reduce between ranks on one host, through a memory segment they all map: no socket,
/// no system call on the fast path.
///
/// Each rank copies its partial sums into its slot, publishes a sequence number (a release store), waits for every
/// other rank's number (spinning, then yielding, then sleeping), and adds all slots in rank order itself, so every
/// rank computes bit-identical sums with no second exchange. Slots alternate between two sets by the sequence
/// number's parity: a rank can write set `s + 2` only after every rank published `s + 1`, which each does only after
/// it has finished reading set `s`. Vectors longer than a slot go through in slot-sized pieces.
///
/// The leader creates the segment (`create`), the workers attach to it by path and prove it is the same one by
/// its nonce (`attach`; a worker on another host cannot, and keeps using the link); the leader removes the file's
/// name once they have, so nothing is left behind even if every process is killed. The leader is rank 0 of its
/// own stage's segment; a later pipeline stage's ranks are all workers (rank 0 included), and the leader's own
/// mapping of that segment goes unused.
///
///     0          nonce (16 bytes) | ranks (u32) | slot floats (u32)
///     64 * (1+r) rank r's sequence number (u64, its own cache line)
///     64 * (1+R) slots: set 0 ranks 0..<R, then set 1 ranks 0..<R, `slot floats` each
public final class SharedReduction: @unchecked Sendable {  // each rank's instance is used by one thread at a time
    public let path: String
    public let rank: Int
    public let ranks: Int
    /// Floats per slot: the longest piece exchanged at once.
    public let slotFloats: Int
    private let base: UnsafeMutableRawPointer
    private let size: Int
    private var sequence: UInt64 = 0
    /// Seconds spent waiting for the other ranks since the last `resetWaited()`.
    public private(set) var waitedSeconds = 0.0

    public static let defaultSlotFloats = 1 << 17

    private init(path: String, rank: Int, ranks: Int, slotFloats: Int, base: UnsafeMutableRawPointer, size: Int) {
        self.path = path
        self.rank = rank
        self.ranks = ranks
        self.slotFloats = slotFloats
        self.base = base
        self.size = size
    }

    deinit {
        munmap(base, size)
    }

    static func byteCount(ranks: Int, slotFloats: Int) -> Int { 64 * (1 + ranks) + 2 * ranks * slotFloats * 4 }

    /// Creates a segment for `ranks` ranks as rank 0, in `/dev/shm` (the temporary folder where there is none).
    /// - Returns: the segment and the nonce a worker must find in it.
    public static func create(ranks: Int, slotFloats: Int = defaultSlotFloats) throws -> (SharedReduction, [UInt8]) {
        let folder = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let path = folder + "shoal-tp-\(getpid())-" + SHA256.hexString(Array(nonce.prefix(6)))
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ClusterError(.connectionFailed, "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        let size = byteCount(ranks: ranks, slotFloats: slotFloats)
        guard ftruncate(fd, off_t(size)) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw ClusterError(.connectionFailed, "cannot size \(path): \(reason)")
        }
        let segment = try map(fd, path: path, size: size, rank: 0, ranks: ranks, slotFloats: slotFloats)
        nonce.withUnsafeBytes { segment.base.copyMemory(from: $0.baseAddress!, byteCount: 16) }
        segment.base.storeBytes(of: UInt32(ranks).littleEndian, toByteOffset: 16, as: UInt32.self)
        segment.base.storeBytes(of: UInt32(slotFloats).littleEndian, toByteOffset: 20, as: UInt32.self)
        return (segment, nonce)
    }

    /// Maps the segment at `path` as `rank`, after checking it holds `nonce` and the expected shape.
    /// - Throws: `ClusterError(.connectionFailed)` naming why (no such file: another host).
    public static func attach(path: String, nonce: [UInt8], rank: Int, ranks: Int, slotFloats: Int) throws -> SharedReduction {
        guard rank >= 0, rank < ranks, slotFloats > 0 else {
            throw ClusterError(.protocolViolation, "rank \(rank) of \(ranks) with \(slotFloats)-float slots")
        }
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw ClusterError(.connectionFailed, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        let size = byteCount(ranks: ranks, slotFloats: slotFloats)
        var info = stat()
        guard fstat(fd, &info) == 0, Int(info.st_size) == size else {
            throw ClusterError(.connectionFailed, "\(path) is not a segment of \(size) bytes")
        }
        let segment = try map(fd, path: path, size: size, rank: rank, ranks: ranks, slotFloats: slotFloats)
        let found = [UInt8](UnsafeRawBufferPointer(start: segment.base, count: 16))
        guard found == nonce,
              UInt32(littleEndian: segment.base.load(fromByteOffset: 16, as: UInt32.self)) == ranks,
              UInt32(littleEndian: segment.base.load(fromByteOffset: 20, as: UInt32.self)) == slotFloats else {
            throw ClusterError(.connectionFailed, "\(path) is not the leader's segment")
        }
        return segment
    }

    private static func map(_ fd: Int32, path: String, size: Int, rank: Int, ranks: Int, slotFloats: Int) throws -> SharedReduction {
        guard let base = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            throw ClusterError(.connectionFailed, "cannot map \(path): \(String(cString: strerror(errno)))")
        }
        return SharedReduction(path: path, rank: rank, ranks: ranks, slotFloats: slotFloats, base: base, size: size)
    }

    /// Removes the segment's name (the mappings stay valid).
    public func unlinkName() {
        unlink(path)
    }

    public func resetWaited() { waitedSeconds = 0 }

    private func counter(_ rank: Int) -> UnsafeMutablePointer<UInt64> {
        (base + 64 * (1 + rank)).assumingMemoryBound(to: UInt64.self)
    }

    private func slot(set: Int, rank: Int) -> UnsafeMutablePointer<Float> {
        (base + 64 * (1 + ranks) + ((set * ranks + rank) * slotFloats) * 4).assumingMemoryBound(to: Float.self)
    }

    /// Replaces `values` (this rank's partial sums) with the sums over all ranks, added in rank order.
    /// - Parameter check: called while a wait lasts longer than a millisecond (and about every millisecond after);
    ///   throws to give up (a peer's link has input: its error or its close; the step's deadline passed). It must
    ///   not consume that input: when the awaited rank turns out to have published, the wait ends normally.
    public func allReduce(_ values: UnsafeMutablePointer<Float>, count: Int, check: () throws -> Void) throws {
        var offset = 0
        while offset < count {
            let n = min(slotFloats, count - offset)
            try reducePiece(values + offset, count: n, check: check)
            offset += n
        }
    }

    private func reducePiece(_ values: UnsafeMutablePointer<Float>, count n: Int, check: () throws -> Void) throws {
        sequence += 1
        let set = Int(sequence & 1)
        slot(set: set, rank: rank).update(from: values, count: n)
        shoal_store_release(counter(rank), sequence)
        for other in 0..<ranks where other != rank {
            try wait(for: other, check: check)
        }
        // Every rank adds the same slots in the same order: identical bits everywhere.
        let first = slot(set: set, rank: 0)
        if rank != 0 { values.update(from: first, count: n) }
        for other in 1..<ranks {
            let partial = slot(set: set, rank: other)
            for i in 0..<n { values[i] += partial[i] }
        }
    }

    /// Waits until rank `other` has published the current sequence number: spins for about 50 µs, then yields
    /// the core, then sleeps in 50 µs steps, calling `check` about every millisecond.
    private func wait(for other: Int, check: () throws -> Void) throws {
        let published = counter(other)
        if shoal_load_acquire(published) >= sequence { return }
        let clock = ContinuousClock()
        let start = clock.now
        var lastCheck = start
        defer { waitedSeconds += (clock.now - start).seconds }
        while true {
            for _ in 0..<128 {
                if shoal_load_acquire(published) >= sequence { return }
                shoal_spin_pause()
            }
            let now = clock.now
            let waited = now - start
            if waited < .microseconds(50) { continue }
            if now - lastCheck > .milliseconds(1) {
                do {
                    try check()
                } catch {
                    // The peer may have published and moved on (its reply is then what `check` saw).
                    if shoal_load_acquire(published) >= sequence { return }
                    throw error
                }
                lastCheck = now
            }
            if waited < .milliseconds(2) {
                sched_yield()
            } else {
                usleep(50)
            }
        }
    }
}

/// A rank's `PartialSumReducer` over a shared segment; `check` decides when a long wait gives up.
final class SharedSumReducer: PartialSumReducer {
    let segment: SharedReduction
    private let check: () throws -> Void

    init(segment: SharedReduction, check: @escaping () throws -> Void) {
        self.segment = segment
        self.check = check
    }

    /// Seconds spent waiting for the other ranks since the segment's last `resetWaited()`.
    var waitedSeconds: Double { segment.waitedSeconds }

    func allReduce(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
        try segment.allReduce(values, count: count, check: check)
    }
}
