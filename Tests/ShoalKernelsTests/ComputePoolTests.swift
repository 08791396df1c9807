import Dispatch
import Glibc
import Synchronization
import Testing
import ShoalKernels

@Suite struct ComputePoolTests {
    @Test(arguments: [1, 2, 3])
    func everyThreadRunsOncePerRun(threads: Int) {
        let pool = ComputePool(threadCount: threads)
        #expect(pool.threadCount == threads)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: threads * 8)
        let marks = UnsafeMutablePointer<Int>.allocate(capacity: threads * 8)
        counts.initialize(repeating: 0, count: threads * 8)
        marks.initialize(repeating: -1, count: threads * 8)
        defer { counts.deallocate(); marks.deallocate() }
        var badCount = 0
        var badMark = 0
        for run in 0..<5000 {
            pool.run { thread, count in
                if count != threads { return }
                counts[thread * 8] += 1
                marks[thread * 8] = run
            }
            for t in 0..<threads where marks[t * 8] != run { badMark += 1 }
        }
        for t in 0..<threads where counts[t * 8] != 5000 { badCount += 1 }
        #expect(badCount == 0)
        #expect(badMark == 0)
    }

    @Test(arguments: [1, 2, 3])
    func everyChunkRunsOnce(threads: Int) {
        let pool = ComputePool(threadCount: threads)
        for chunks in [0, 1, 2, 3, 7, 64, 1000] {
            // One slot per chunk: each chunk's body is its only writer within a run.
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: max(chunks, 1))
            counts.initialize(repeating: 0, count: max(chunks, 1))
            defer { counts.deallocate() }
            let badThread = Atomic<Int>(0)
            for _ in 0..<20 {
                pool.runChunked(chunks: chunks) { chunk, thread in
                    counts[chunk] += 1
                    if thread < 0 || thread >= threads { badThread.add(1, ordering: .relaxed) }
                }
            }
            var wrong = 0
            for chunk in 0..<chunks where counts[chunk] != 20 { wrong += 1 }
            #expect(wrong == 0, "chunks \(chunks)")
            #expect(badThread.load(ordering: .relaxed) == 0)
        }
    }

    @Test func workersWakeAfterSleeping() {
        let pool = ComputePool(threadCount: 3)
        let total = Atomic<Int>(0)
        for _ in 0..<4 {
            // Idle long enough that the workers stop polling and block on the condition variable.
            usleep(5000)
            pool.run { thread, _ in total.add(thread + 1, ordering: .relaxed) }
        }
        #expect(total.load(ordering: .relaxed) == 4 * 6)
    }

    @Test func nestedRunStillRunsEveryIndex() {
        let pool = ComputePool(threadCount: 2)
        let inner = Atomic<Int>(0)
        pool.run { thread, _ in
            if thread == 0 {
                pool.run { innerThread, _ in inner.add(1 << (innerThread * 4), ordering: .relaxed) }
            }
        }
        #expect(inner.load(ordering: .relaxed) == 0x11)
    }

    @Test func nestedRunInsideAWorkerStillRunsEveryIndex() {
        let pool = ComputePool(threadCount: 2)
        let inner = Atomic<Int>(0)
        pool.run { thread, _ in
            if thread == 1 {
                pool.run { innerThread, _ in inner.add(1 << (innerThread * 4), ordering: .relaxed) }
            }
        }
        #expect(inner.load(ordering: .relaxed) == 0x11)
    }

    @Test func concurrentCallersTakeTurns() {
        let pool = ComputePool(threadCount: 2)
        let active = Atomic<Int>(0)
        let overlaps = Atomic<Int>(0)
        let bodies = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 3) { _ in
            for _ in 0..<2000 {
                pool.run { _, threadCount in
                    // Runs that overlapped would put more than threadCount bodies in flight at once.
                    if active.add(1, ordering: .sequentiallyConsistent).newValue > threadCount { overlaps.add(1, ordering: .relaxed) }
                    bodies.add(1, ordering: .relaxed)
                    active.subtract(1, ordering: .sequentiallyConsistent)
                }
            }
        }
        #expect(overlaps.load(ordering: .relaxed) == 0)
        #expect(bodies.load(ordering: .relaxed) == 3 * 2000 * 2)
    }

    @Test func poolsStartAndStopRepeatedly() {
        let total = Atomic<Int>(0)
        for _ in 0..<50 {
            let pool = ComputePool(threadCount: 3)
            pool.run { _, _ in total.add(1, ordering: .relaxed) }
        }
        #expect(total.load(ordering: .relaxed) == 150)
        #expect(ComputePool(threadCount: 0).threadCount == 1)
    }
}
