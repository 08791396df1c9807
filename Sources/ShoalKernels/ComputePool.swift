import Glibc
import Synchronization

/// Persistent worker threads that split CPU-bound work, llama.cpp style.
///
/// `run` hands a body to every thread and returns when all have finished; the calling thread takes part as
/// thread 0. Idle workers spin briefly, then yield the core (`sched_yield`), then sleep on a condition variable
/// after about a millisecond, so an idle server burns no CPU while back-to-back kernels hand off in about a
/// microsecond. `run` allocates nothing.
///
/// One `run` at a time: a `run` from another thread waits until the current one has finished. A `run` nested
/// inside a body executes its body for every thread index serially on the calling thread (correct but slower);
/// kernels that use the pool's scratch (`matmul`) must not be called from inside a body.
public final class ComputePool: @unchecked Sendable {
    /// Number of threads that run each body, the caller included (at least 1).
    public let threadCount: Int
    let shared: PoolShared
    private var threads: [pthread_t] = []

    /// Starts `threadCount - 1` worker threads (values below 1 count as 1).
    public init(threadCount: Int) {
        let count = max(1, threadCount)
        self.threadCount = count
        self.shared = PoolShared(threadCount: count)
        for index in 1..<count {
            let context = Unmanaged.passRetained(WorkerContext(shared: shared, index: index)).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { argument in
                let context = Unmanaged<WorkerContext>.fromOpaque(argument!).takeRetainedValue()
                context.shared.workerLoop(index: context.index)
                return nil
            }, context)
            if status == 0 {
                threads.append(thread)
                shared.workerIDs.append(UInt(thread))
            } else {
                // Could not start a thread: run its share on the caller instead.
                Unmanaged<WorkerContext>.fromOpaque(context).release()
                shared.missing.append(index)
            }
        }
    }

    deinit {
        shared.stopping.store(true, ordering: .sequentiallyConsistent)
        shared.generation.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(shared.mutex)
        pthread_cond_broadcast(shared.condition)
        pthread_mutex_unlock(shared.mutex)
        for thread in threads {
            pthread_join(thread, nil)
        }
    }

    /// Runs `body(thread, threadCount)` once for every `thread` in `0..<threadCount`, in parallel, and returns when
    /// all have finished. Thread 0 is the caller.
    public func run(_ body: (_ thread: Int, _ threadCount: Int) -> Void) {
        guard acquire() else {
            for thread in 0..<threadCount { body(thread, threadCount) }
            return
        }
        defer { release() }
        handOff(body)
    }

    /// Runs `body(chunk, thread)` once for every chunk in `0..<chunks`, the threads claiming chunks one at a time
    /// from a shared counter: a thread that the OS deschedules (another process wanting the core) then holds up at
    /// most one chunk while the others take the rest, instead of stalling the whole call for a time slice.
    ///
    /// `prologue` runs first, on the caller as thread 0 while it holds the pool (so it may fill thread 0's scratch
    /// for all threads to read).
    package func runChunked(chunks: Int, prologue: () -> Void = {}, _ body: (_ chunk: Int, _ thread: Int) -> Void) {
        guard chunks > 0 else { return }
        guard acquire() else {
            prologue()
            for chunk in 0..<chunks { body(chunk, 0) }
            return
        }
        defer { release() }
        prologue()
        if threadCount == 1 || chunks == 1 {
            for chunk in 0..<chunks { body(chunk, 0) }
            return
        }
        shared.chunkCounter.store(0, ordering: .relaxed)
        let shared = self.shared
        handOff { thread, _ in
            while true {
                let chunk = shared.chunkCounter.add(1, ordering: .relaxed).oldValue
                if chunk >= chunks { break }
                body(chunk, thread)
            }
        }
    }

    /// Hands `body` to every thread and waits for all; the caller holds the pool.
    private func handOff(_ body: (_ thread: Int, _ threadCount: Int) -> Void) {
        let count = threadCount
        if count == 1 {
            body(0, 1)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            shared.body = escapable
            shared.remaining.store(count - 1 - shared.missing.count, ordering: .relaxed)
            shared.generation.add(1, ordering: .sequentiallyConsistent)
            if shared.sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(shared.mutex)
                pthread_cond_broadcast(shared.condition)
                pthread_mutex_unlock(shared.mutex)
            }
            escapable(0, count)
            for index in shared.missing { escapable(index, count) }
            var spins = 0
            while shared.remaining.load(ordering: .acquiring) != 0 {
                spins &+= 1
                if spins > 256 { sched_yield() }
            }
            shared.body = nil
        }
    }

    /// Runs `body` on the calling thread alone, as thread 0 of a `run` (so it may use thread 0's scratch), without
    /// waking the workers: for work too small to split.
    package func runOnCaller(_ body: () -> Void) {
        guard acquire() else {
            body()
            return
        }
        defer { release() }
        body()
    }

    /// Takes the pool for the calling thread, waiting while another thread has it. Returns false for a nested call
    /// (from inside a body), which must then run serially without taking the pool.
    private func acquire() -> Bool {
        let me = UInt(pthread_self())
        if shared.owner.load(ordering: .relaxed) == me || shared.isWorker(me) {
            return false
        }
        var attempts = 0
        while !shared.busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            attempts &+= 1
            if attempts > 64 { sched_yield() }
        }
        shared.owner.store(me, ordering: .relaxed)
        return true
    }

    private func release() {
        shared.owner.store(0, ordering: .relaxed)
        shared.busy.store(false, ordering: .releasing)
    }

    /// A 64-byte aligned scratch buffer of at least `bytes` bytes owned by `thread`; only that thread may use it,
    /// and only inside a `run` or `runOnCaller` body (which hold the pool, so concurrent callers never share it). It grows when asked for more and is
    /// otherwise reused, so steady-state calls allocate nothing. Its contents are undefined.
    package func scratch(thread: Int, bytes: Int) -> UnsafeMutableRawPointer {
        shared.scratch(thread: thread, bytes: bytes)
    }
}

final class WorkerContext {
    let shared: PoolShared
    let index: Int
    init(shared: PoolShared, index: Int) {
        self.shared = shared
        self.index = index
    }
}

/// State shared by the pool and its workers; it outlives the pool until the last worker has exited.
final class PoolShared: @unchecked Sendable {
    let threadCount: Int
    let generation = Atomic<Int>(0)
    let remaining = Atomic<Int>(0)
    let sleepers = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)
    let busy = Atomic<Bool>(false)
    /// The next chunk to claim in `runChunked`.
    let chunkCounter = Atomic<Int>(0)
    /// The thread inside `run` (0 when none).
    let owner = Atomic<UInt>(0)
    /// The worker threads' ids, written before any `run`.
    var workerIDs: [UInt] = []
    /// Written by the caller before the generation bump, read by the workers after they see it.
    var body: ((Int, Int) -> Void)?
    /// Worker indices whose thread could not be created (normally empty).
    var missing: [Int] = []
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    let condition: UnsafeMutablePointer<pthread_cond_t>
    /// One (pointer, capacity) pair per thread, each on its own cache line.
    let scratchSlots: UnsafeMutableRawPointer

    static let slotBytes = 64
    /// How long an idle worker keeps polling (first spinning, then yielding) before it sleeps.
    static let pollNanoseconds = 1_000_000

    init(threadCount: Int) {
        self.threadCount = threadCount
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        pthread_cond_init(condition, nil)
        scratchSlots = .allocate(byteCount: threadCount * Self.slotBytes, alignment: 64)
        for thread in 0..<threadCount {
            let slot = scratchSlots + thread * Self.slotBytes
            slot.storeBytes(of: nil, as: UnsafeMutableRawPointer?.self)
            slot.storeBytes(of: 0, toByteOffset: 8, as: Int.self)
        }
    }

    deinit {
        for thread in 0..<threadCount {
            let slot = scratchSlots + thread * Self.slotBytes
            slot.load(as: UnsafeMutableRawPointer?.self)?.deallocate()
        }
        scratchSlots.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        pthread_cond_destroy(condition)
        condition.deallocate()
    }

    func isWorker(_ id: UInt) -> Bool {
        for worker in workerIDs where worker == id { return true }
        return false
    }

    func scratch(thread: Int, bytes: Int) -> UnsafeMutableRawPointer {
        precondition(thread >= 0 && thread < threadCount, "scratch thread index out of range")
        let slot = scratchSlots + thread * Self.slotBytes
        let capacity = slot.load(fromByteOffset: 8, as: Int.self)
        if let pointer = slot.load(as: UnsafeMutableRawPointer?.self), capacity >= bytes {
            return pointer
        }
        slot.load(as: UnsafeMutableRawPointer?.self)?.deallocate()
        let newCapacity = max(bytes, capacity * 2, 4096)
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 64)
        slot.storeBytes(of: pointer, as: UnsafeMutableRawPointer?.self)
        slot.storeBytes(of: newCapacity, toByteOffset: 8, as: Int.self)
        return pointer
    }

    func workerLoop(index: Int) {
        var seen = 0
        while true {
            seen = waitForGeneration(after: seen)
            if stopping.load(ordering: .acquiring) { return }
            body!(index, threadCount)
            remaining.subtract(1, ordering: .releasing)
        }
    }

    private func waitForGeneration(after seen: Int) -> Int {
        var generationNow = generation.load(ordering: .acquiring)
        if generationNow != seen { return generationNow }
        // Phase 1: spin.
        for _ in 0..<20_000 {
            generationNow = generation.load(ordering: .acquiring)
            if generationNow != seen { return generationNow }
        }
        // Phase 2: yield the core between polls, for about a millisecond.
        let start = Self.monotonicNanoseconds()
        while Self.monotonicNanoseconds() - start < Self.pollNanoseconds {
            sched_yield()
            generationNow = generation.load(ordering: .acquiring)
            if generationNow != seen { return generationNow }
        }
        // Phase 3: sleep until the caller broadcasts.
        pthread_mutex_lock(mutex)
        sleepers.add(1, ordering: .sequentiallyConsistent)
        generationNow = generation.load(ordering: .sequentiallyConsistent)
        while generationNow == seen {
            pthread_cond_wait(condition, mutex)
            generationNow = generation.load(ordering: .sequentiallyConsistent)
        }
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(mutex)
        return generationNow
    }

    static func monotonicNanoseconds() -> Int {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return time.tv_sec * 1_000_000_000 + time.tv_nsec
    }
}
