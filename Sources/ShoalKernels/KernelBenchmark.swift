import Glibc
import ShoalGGUF

/// Micro-benchmarks of the hot kernels on SmolLM2-135M shapes, for `shoal bench kernels`.
///
/// Each line reports the median of several timed samples (and the best one, which is what the code can do when the
/// machine is otherwise idle): GB/s of weights read for one token (decode),
/// GFLOP/s for a batch of tokens (prefill), microseconds for a pool hand-off. "cold" cycles through enough copies
/// of the matrix (64 MB) that weights come from DRAM as in a real decode step; "hot" reuses one copy from cache.
public enum KernelBenchmark {
    /// Runs the benchmarks with `threads` threads (the pool's size) and returns one line per measurement.
    /// - Parameter samples: timed samples per measurement (the median is reported).
    public static func run(threads: Int, samples: Int = 15) -> [String] {
        let pool = ComputePool(threadCount: threads)
        var lines: [String] = []
        lines.append("kernels: \(threads) thread(s), median of \(samples) samples")
        for (type, rows, columns) in [(GGMLType.q4_1, 1536, 576), (.q4_1, 576, 1536), (.q4_1, 576, 576), (.q8_0, 49152, 576),
                                     (.q5_0, 2048, 640), (.q4_K, 640, 2048), (.q6_K, 640, 2048)] {
            for cold in [false, true] {
                let (seconds, best) = measureMatmul(type, rows: rows, columns: columns, tokens: 1, cold: cold, pool: pool, samples: samples)
                let bytes = Double(rows * columns / type.blockSize * type.blockBytes)
                lines.append("matvec \(type) \(rows)x\(columns) \(cold ? "cold" : "hot"): \(fixed(bytes / seconds / 1e9, 1)) GB/s"
                             + " (\(fixed(seconds * 1e6, 1)) us; best \(fixed(bytes / best / 1e9, 1)) GB/s)")
            }
        }
        for (type, rows, columns, tokens) in [(GGMLType.q4_1, 1536, 576, 512), (.q4_1, 576, 1536, 512), (.q8_0, 49152, 576, 16),
                                              (.f32, 1536, 576, 512), (.q4_1, 1536, 576, 2), (.q4_1, 1536, 576, 4),
                                              (.q4_1, 1536, 576, 8), (.q8_0, 49152, 576, 4),
                                              (.q5_0, 2048, 640, 512), (.q4_K, 640, 2048, 512), (.q6_K, 640, 2048, 512)] {
            let (seconds, best) = measureMatmul(type, rows: rows, columns: columns, tokens: tokens, cold: false, pool: pool, samples: samples)
            let flops = 2.0 * Double(rows * columns * tokens)
            lines.append("matmul \(type) \(rows)x\(columns) x \(tokens) tokens: \(fixed(flops / seconds / 1e9, 1)) GFLOP/s"
                         + " (\(fixed(seconds * 1e3, 2)) ms; best \(fixed(flops / best / 1e9, 1)) GFLOP/s)")
        }
        for (type, rows, columns, tokens) in [(GGMLType.q4_1, 1536, 576, 1), (.q4_1, 1536, 576, 4), (.q4_1, 1536, 576, 8),
                                              (.q4_1, 1536, 576, 16), (.q4_1, 1536, 576, 512), (.q4_1, 576, 1536, 512),
                                              (.q8_0, 49152, 576, 4), (.q8_0, 2048, 640, 512), (.q5_0, 2048, 640, 8),
                                              (.q5_0, 2048, 640, 512)] {
            let (seconds, best) = measureMatmul(type, rows: rows, columns: columns, tokens: tokens, cold: false, pool: pool,
                                                samples: samples, precision: .fast)
            let flops = 2.0 * Double(rows * columns * tokens)
            lines.append("matmul \(type) \(rows)x\(columns) x \(tokens) tokens, fast (int8 activations): \(fixed(flops / seconds / 1e9, 1)) GFLOP/s"
                         + " (\(fixed(seconds * 1e3, 3)) ms; best \(fixed(flops / best / 1e9, 1)) GFLOP/s)")
        }
        lines.append(contentsOf: fastDecodeLines(pool: pool, samples: samples))
        let (handOff, _) = measure(samples: samples, minimumSeconds: 0.02) { iterations in
            for _ in 0..<iterations { pool.run { _, _ in } }
        }
        lines.append("pool hand-off (empty run): \(fixed(handOff * 1e6, 2)) us")
        return lines
    }

    /// One token through the fast path's kernel of each type from DRAM, in GB/s of the bytes it streams (the
    /// repacked copy) and as a share of a plain read of 64 MB with the same threads: how far decode is from the
    /// machine's bandwidth.
    static func fastDecodeLines(pool: ComputePool, samples: Int) -> [String] {
        let plain = measureRead(bytes: 64 << 20, pool: pool, samples: samples)
        var lines = ["plain read, 64 MB from DRAM: \(fixed(plain, 1)) GB/s"]
        for (type, rows, columns) in [(GGMLType.q4_0, 1536, 576), (.q4_1, 1536, 576), (.q5_0, 2048, 640), (.q5_1, 2048, 640),
                                      (.q8_0, 2048, 640), (.q4_K, 640, 2048), (.q5_K, 640, 2048), (.q6_K, 640, 2048)] {
            let (seconds, _) = measureMatmul(type, rows: rows, columns: columns, tokens: 1, cold: true, pool: pool,
                                             samples: samples, precision: .fast)
            let fileBytes = Double(rows * columns / type.blockSize * type.blockBytes)
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: Int(fileBytes), alignment: 64)
            fillRandomWeights(type, scratch, blocks: Int(fileBytes) / type.blockBytes)
            let streamed = Double(LinearWeight(try! MatrixView(base: scratch, type: type, rows: rows, columns: columns),
                                               precision: .fast).streamedBytes)
            scratch.deallocate()
            let rate = streamed / seconds / 1e9
            lines.append("fast matvec \(type) \(rows)x\(columns) cold: \(fixed(rate, 1)) GB/s streamed"
                         + " (\(fixed(100 * rate / plain, 0))% of a plain read; \(fixed(streamed / fileBytes, 2))x the file's bytes,"
                         + " \(fixed(seconds * 1e6, 1)) us)")
        }
        return lines
    }

    /// GB/s of a plain read of `bytes` (cycled, so from DRAM), split over the pool's threads.
    static func measureRead(bytes: Int, pool: ComputePool, samples: Int) -> Double {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { memory.deallocate() }
        memset(memory, 1, bytes)
        let vectors = bytes / 64
        // Each thread's sum lands in memory, so the loads cannot be optimized away.
        let sums = UnsafeMutablePointer<UInt64>.allocate(capacity: pool.threadCount)
        defer { sums.deallocate() }
        let (seconds, _) = measure(samples: samples, minimumSeconds: 0.02) { iterations in
            for _ in 0..<iterations {
                pool.runChunked(chunks: pool.threadCount) { chunk, _ in
                    var acc = SIMD8<UInt64>()
                    for v in partition(0..<vectors, part: chunk, of: pool.threadCount, granule: 1) {
                        acc &+= memory.load(fromByteOffset: 64 * v, as: SIMD8<UInt64>.self)
                    }
                    sums[chunk] = acc.wrappedSum()
                }
            }
        }
        return Double(bytes) / seconds / 1e9
    }

    /// `value` with `digits` digits after the point.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (value * scale).rounded()
        guard scaled.isFinite, abs(scaled) < 1e15 else { return "\(value)" }
        let whole = Int(scaled) / Int(scale)
        let fraction = abs(Int(scaled)) % Int(scale)
        if digits == 0 { return "\(whole)" }
        let digitsText = String(fraction)
        return "\(scaled < 0 && whole == 0 ? "-" : "")\(whole)." + String(repeating: "0", count: digits - digitsText.count) + digitsText
    }

    /// Median and best seconds per iteration of `body(iterations)` over `samples` samples of at least `minimumSeconds`.
    static func measure(samples: Int, minimumSeconds: Double, _ body: (Int) -> Void) -> (median: Double, best: Double) {
        var iterations = 1
        while true {
            let start = PoolShared.monotonicNanoseconds()
            body(iterations)
            let elapsed = Double(PoolShared.monotonicNanoseconds() - start) / 1e9
            if elapsed >= minimumSeconds / 4 || iterations > 1 << 24 {
                iterations = max(1, Int(Double(iterations) * minimumSeconds / max(elapsed, 1e-9)))
                break
            }
            iterations *= 4
        }
        var times: [Double] = []
        for _ in 0..<max(1, samples) {
            // Short samples, so that a burst of other work on the machine spoils few of them.
            let start = PoolShared.monotonicNanoseconds()
            body(iterations)
            times.append(Double(PoolShared.monotonicNanoseconds() - start) / 1e9 / Double(iterations))
        }
        times.sort()
        return (times[times.count / 2], times[0])
    }

    static func measureMatmul(_ type: GGMLType, rows: Int, columns: Int, tokens: Int, cold: Bool, pool: ComputePool,
                              samples: Int, precision: MatmulPrecision = .exact) -> (median: Double, best: Double) {
        let rowBytes = columns / type.blockSize * type.blockBytes
        let matrixBytes = rows * rowBytes
        let copies = cold ? max(1, (64 << 20) / matrixBytes) : 1
        let weights = UnsafeMutableRawPointer.allocate(byteCount: matrixBytes * copies, alignment: 64)
        defer { weights.deallocate() }
        fillRandomWeights(type, weights, blocks: matrixBytes * copies / type.blockBytes)
        let x = UnsafeMutablePointer<Float>.allocate(capacity: tokens * columns)
        defer { x.deallocate() }
        for i in 0..<tokens * columns { x[i] = Float(i % 17) * 0.05 - 0.4 }
        let y = UnsafeMutablePointer<Float>.allocate(capacity: tokens * rows)
        defer { y.deallocate() }
        let views = (0..<copies).map {
            LinearWeight(try! MatrixView(base: weights + $0 * matrixBytes, type: type, rows: rows, columns: columns), precision: precision)
        }
        var next = 0
        return measure(samples: samples, minimumSeconds: 0.01) { iterations in
            for _ in 0..<iterations {
                matmul(views[next], x, xStride: columns, tokens: tokens, y, yStride: rows, pool: pool)
                next += 1
                if next == copies { next = 0 }
            }
        }
    }

    /// Random weights with sane scales (no NaN or infinity), for benchmarks.
    static func fillRandomWeights(_ type: GGMLType, _ p: UnsafeMutableRawPointer, blocks: Int) {
        var state: UInt64 = 0x1234_5678
        let bytes = blocks * type.blockBytes
        var i = 0
        while i + 8 <= bytes {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            p.storeBytes(of: state, toByteOffset: i, as: UInt64.self)
            i += 8
        }
        switch type {
        case .f32:
            for e in 0..<blocks { p.storeBytes(of: Float(e % 13) * 0.01 - 0.06, toByteOffset: 4 * e, as: Float.self) }
        case .f16, .bf16:
            for e in 0..<blocks { p.storeBytes(of: UInt16(0x3C00), toByteOffset: 2 * e, as: UInt16.self) }
        case .q6_K:
            for b in 0..<blocks { p.storeBytes(of: Float16(0.001).bitPattern, toByteOffset: b * 210 + 208, as: UInt16.self) }
        case .q4_K, .q5_K:
            for b in 0..<blocks {
                p.storeBytes(of: Float16(0.001).bitPattern, toByteOffset: b * type.blockBytes, as: UInt16.self)
                p.storeBytes(of: Float16(0.002).bitPattern, toByteOffset: b * type.blockBytes + 2, as: UInt16.self)
            }
        default:
            for b in 0..<blocks {
                p.storeBytes(of: Float16(0.01).bitPattern, toByteOffset: b * type.blockBytes, as: UInt16.self)
                if type == .q4_1 { p.storeBytes(of: Float16(-0.08).bitPattern, toByteOffset: b * type.blockBytes + 2, as: UInt16.self) }
            }
        }
    }
}
