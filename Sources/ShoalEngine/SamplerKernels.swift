/// One token the sampler is still considering: its id, its (processed) logit and its weight
/// `exp((logit - max) / temperature)`.
package struct SamplerCandidate: Sendable, Equatable {
    package var index: Int32
    package var logit: Float
    package var weight: Float

    package init(index: Int32, logit: Float, weight: Float) {
        self.index = index
        self.logit = logit
        self.weight = weight
    }
}

/// Vector passes over the vocabulary for the sampler, each with a scalar reference twin for tests.
///
/// Logits are read as `SIMD16<Float>` with unaligned loads; indices travel in `SIMD16<Int32>` lanes.
package enum SamplerKernels {
    package typealias Vector = SIMD16<Float>
    package static let width = 16

    // MARK: exp

    private static let expLow: Float = -87.33654  // below this exp(x) is denormal: we return 0
    private static let expHigh: Float = 88.37626
    private static let log2e: Float = 1.44269504088896341
    private static let ln2High: Float = 0.693359375
    private static let ln2Low: Float = -2.12194440e-4
    private static let roundingMagic: Float = 12_582_912  // 1.5 * 2^23: adding it rounds to an integer
    private static let roundingMagicBits: UInt32 = 0x4B40_0000
    private static let c0: Float = 1.9875691500e-4
    private static let c1: Float = 1.3981999507e-3
    private static let c2: Float = 8.3334519073e-3
    private static let c3: Float = 4.1665795894e-2
    private static let c4: Float = 1.6666665459e-1
    private static let c5: Float = 5.0000001201e-1

    /// exp(x) to about 1 ulp (Cephes' polynomial), 0 below -87.3; bit-identical to the vector version.
    @inline(__always)
    package static func exp(_ x: Float) -> Float {
        if x < expLow { return 0 }
        let c = x > expHigh ? expHigh : x
        let t = c * log2e + roundingMagic
        let n = t - roundingMagic
        let r = c - n * ln2High - n * ln2Low
        var p = c0
        p = p * r + c1
        p = p * r + c2
        p = p * r + c3
        p = p * r + c4
        p = p * r + c5
        p = p * (r * r) + r + 1
        let scale = Float(bitPattern: (t.bitPattern &- roundingMagicBits &+ 127) &<< 23)
        return p * scale
    }

    /// exp of 16 lanes, bit-identical to `exp(_: Float)` lane by lane.
    @inline(__always)
    package static func exp(_ x: Vector) -> Vector {
        // Compare-and-blend rather than `clamped`, which compiles to a per-lane loop.
        var c = x
        c.replace(with: Vector(repeating: expLow), where: x .< expLow)
        c.replace(with: Vector(repeating: expHigh), where: x .> expHigh)
        let t = c * log2e + roundingMagic
        let n = t - roundingMagic
        let r = c - n * ln2High - n * ln2Low
        var p = Vector(repeating: c0)
        p = p * r + c1
        p = p * r + c2
        p = p * r + c3
        p = p * r + c4
        p = p * r + c5
        p = p * (r * r) + r + 1
        let bits = unsafeBitCast(t, to: SIMD16<UInt32>.self)
        let scale = unsafeBitCast((bits &- roundingMagicBits &+ 127) &<< 23, to: Vector.self)
        var result = p * scale
        result.replace(with: 0, where: x .< expLow)
        return result
    }

    @inline(__always)
    private static func load(_ p: UnsafePointer<Float>, _ i: Int) -> Vector {
        UnsafeRawPointer(p + i).loadUnaligned(as: Vector.self)
    }

    // MARK: argmax

    /// The largest value and its index, the lowest index on ties; NaNs are skipped. All -inf gives index 0.
    /// - Complexity: one pass.
   
    package static func argmax(_ p: UnsafePointer<Float>, count: Int) -> (index: Int, value: Float) {
        var best = Vector(repeating: -.infinity)
        var bestIndex = SIMD16<Int32>(repeating: -1)
        var lane = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        var i = 0
        while i + width <= count {
            let v = load(p, i)
            let greater = v .> best
            best.replace(with: v, where: greater)
            bestIndex.replace(with: lane, where: greater)
            lane &+= 16
            i += width
        }
        var value = -Float.infinity
        var index = -1
        for l in 0..<width where bestIndex[l] >= 0 {
            if best[l] > value || (best[l] == value && Int(bestIndex[l]) < index) {
                value = best[l]
                index = Int(bestIndex[l])
            }
        }
        while i < count {
            if p[i] > value {
                value = p[i]
                index = i
            }
            i += 1
        }
        if index < 0 { return (0, count > 0 ? p[0] : -.infinity) }
        return (index, value)
    }

    /// Scalar twin of `argmax`.
    package static func argmaxReference(_ p: UnsafePointer<Float>, count: Int) -> (index: Int, value: Float) {
        var value = -Float.infinity
        var index = -1
        for i in 0..<count where p[i] > value {
            value = p[i]
            index = i
        }
        if index < 0 { return (0, count > 0 ? p[0] : -.infinity) }
        return (index, value)
    }

    // MARK: Σ exp

    /// Elements per entry of `chunkSums`.
    package static let chunk = 1024

    /// Σ exp((x - shift) * scale) over the values with x >= floor, accumulated per chunk in Double.
    /// - Parameter chunkSums: if given, receives the sum of every `chunk` elements ((count + chunk - 1) / chunk).
   
    package static func sumExp(
        _ p: UnsafePointer<Float>, count: Int, shift: Float, scale: Float, floor: Float = -.infinity,
        chunkSums: UnsafeMutablePointer<Double>? = nil
    ) -> Double {
        let shiftV = Vector(repeating: shift)
        let scaleV = Vector(repeating: scale)
        let floorV = Vector(repeating: floor)
        var total: Double = 0
        var start = 0
        var c = 0
        while start < count {
            let end = Swift.min(start + chunk, count)
            var a0 = Vector()
            var a1 = Vector()
            var i = start
            while i + 2 * width <= end {
                let v0 = load(p, i)
                let v1 = load(p, i + width)
                var w0 = exp((v0 - shiftV) * scaleV)
                var w1 = exp((v1 - shiftV) * scaleV)
                w0.replace(with: 0, where: v0 .< floorV)
                w1.replace(with: 0, where: v1 .< floorV)
                a0 += w0
                a1 += w1
                i += 2 * width
            }
            var sum = Double((a0 + a1).sum())
            while i < end {
                if p[i] >= floor { sum += Double(exp((p[i] - shift) * scale)) }
                i += 1
            }
            chunkSums?[c] = sum
            total += sum
            start = end
            c += 1
        }
        return total
    }

    /// The windows of `massProfile`, in temperature-scaled nats below the maximum (probability ratios
    /// e^-1 ... e^-16 relative to the most likely token).
    package static let windows: [Float] = [1, 2, 4, 6, 10, 16]

    /// Σ exp((x - shift) * scale) over x >= floor (the total), and the same sum restricted to
    /// x >= shift - windows[j] / scale for every window: how much probability mass lies near the top.
    /// - Complexity: one pass, one exp per element.
    package static func massProfile(
        _ p: UnsafePointer<Float>, count: Int, shift: Float, scale: Float, floor: Float
    ) -> (total: Double, above: [Double]) {
        let shiftV = Vector(repeating: shift)
        let scaleV = Vector(repeating: scale)
        let floorV = Vector(repeating: floor)
        let t = windows.map { Vector(repeating: Swift.max(floor, shift - $0 / scale)) }
        let (t0, t1, t2, t3, t4, t5) = (t[0], t[1], t[2], t[3], t[4], t[5])
        var total: Double = 0
        var above = [Double](repeating: 0, count: 6)
        var start = 0
        while start < count {
            let end = Swift.min(start + chunk, count)
            var (a, a0, a1, a2, a3, a4, a5) = (Vector(), Vector(), Vector(), Vector(), Vector(), Vector(), Vector())
            var i = start
            while i + width <= end {
                let v = load(p, i)
                var w = exp((v - shiftV) * scaleV)
                w.replace(with: 0, where: v .< floorV)
                a += w
                a0 += w.replacing(with: 0, where: v .< t0)
                a1 += w.replacing(with: 0, where: v .< t1)
                a2 += w.replacing(with: 0, where: v .< t2)
                a3 += w.replacing(with: 0, where: v .< t3)
                a4 += w.replacing(with: 0, where: v .< t4)
                a5 += w.replacing(with: 0, where: v .< t5)
                i += width
            }
            total += Double(a.sum())
            for (j, acc) in [a0, a1, a2, a3, a4, a5].enumerated() { above[j] += Double(acc.sum()) }
            while i < end {
                let v = p[i]
                if v >= floor {
                    let w = Double(exp((v - shift) * scale))
                    total += w
                    for j in 0..<6 where v >= t[j][0] { above[j] += w }
                }
                i += 1
            }
            start = end
        }
        return (total, above)
    }

    /// Scalar twin of `sumExp` with Foundation-free Double math (exp in Double precision).
    package static func sumExpReference(_ p: UnsafePointer<Float>, count: Int, shift: Float, scale: Float, floor: Float = -.infinity) -> Double {
        var total: Double = 0
        for i in 0..<count where p[i] >= floor {
            total += doubleExp(Double(p[i] - shift) * Double(scale))
        }
        return total
    }

    /// exp in Double by squaring a Taylor series (reference only: slow but independent of the kernels).
    package static func doubleExp(_ x: Double) -> Double {
        if x == -.infinity { return 0 }
        if x < -745 { return 0 }
        let k = (x / 0.6931471805599453).rounded()
        let r = x - k * 0.6931471805599453
        var term = 1.0
        var sum = 1.0
        for n in 1...20 {
            term *= r / Double(n)
            sum += term
        }
        return sum * pow2(Int(k))
    }

    private static func pow2(_ k: Int) -> Double {
        var result = 1.0
        let base = k < 0 ? 0.5 : 2.0
        for _ in 0..<abs(k) { result *= base }
        return result
    }

    // MARK: Selection

    /// True when `a` ranks below `b`: a smaller logit, or the same logit and a higher id.
    @inline(__always)
    package static func ranksBelow(_ a: SamplerCandidate, _ b: SamplerCandidate) -> Bool {
        a.logit < b.logit || (a.logit == b.logit && a.index > b.index)
    }

    /// The `k` largest values (lowest ids among equals) into `heap`, a min-heap by rank (unordered).
    /// NaNs count as -inf.
    /// - Complexity: O(V + m log k), m the values that beat the running k-th best; one pass.
   
    package static func selectTop(_ p: UnsafePointer<Float>, count: Int, k: Int, into heap: inout [SamplerCandidate]) {
        heap.removeAll(keepingCapacity: true)
        let k = Swift.min(k, count)
        guard k > 0 else { return }
        var i = 0
        while i < k {
            let v = p[i].isNaN ? -Float.infinity : p[i]
            heap.append(SamplerCandidate(index: Int32(i), logit: v, weight: 0))
            siftUp(&heap, heap.count - 1)
            i += 1
        }
        var threshold = heap[0].logit
        func offer(_ j: Int) {
            let v = p[j]
            if v > threshold {
                heap[0] = SamplerCandidate(index: Int32(j), logit: v, weight: 0)
                siftDown(&heap, 0)
                threshold = heap[0].logit
            }
        }
        while i < count, i % width != 0 {
            offer(i)
            i += 1
        }
        while i + width <= count {
            if any(load(p, i) .> Vector(repeating: threshold)) {
                for j in i..<(i + width) { offer(j) }
            }
            i += width
        }
        while i < count {
            offer(i)
            i += 1
        }
    }

    private static func siftUp(_ heap: inout [SamplerCandidate], _ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard ranksBelow(heap[child], heap[parent]) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private static func siftDown(_ heap: inout [SamplerCandidate], _ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            let right = left + 1
            if right < heap.count, ranksBelow(heap[right], heap[left]) { smallest = right }
            guard ranksBelow(heap[smallest], heap[parent]) else { return }
            heap.swapAt(smallest, parent)
            parent = smallest
        }
    }

    /// Appends every value >= floor (in index order) to `candidates`.
   
    package static func collect(_ p: UnsafePointer<Float>, count: Int, floor: Float, into candidates: inout [SamplerCandidate]) {
        let floorV = Vector(repeating: floor)
        var i = 0
        while i + width <= count {
            if any(load(p, i) .>= floorV) {
                for j in i..<(i + width) where p[j] >= floor {
                    candidates.append(SamplerCandidate(index: Int32(j), logit: p[j], weight: 0))
                }
            }
            i += width
        }
        while i < count {
            if p[i] >= floor { candidates.append(SamplerCandidate(index: Int32(i), logit: p[i], weight: 0)) }
            i += 1
        }
    }

    // MARK: Nucleus

    /// Reorders `candidates` and returns the nucleus cutoff: the logit of the last token in the smallest set
    /// of highest-logit candidates whose weights sum to at least `target` (every candidate with a logit at
    /// or above it is in the nucleus, so ties at the cutoff are all kept). At least one token is kept.
    /// - Complexity: O(n) expected (a weighted quickselect), no full sort.
   
    package static func nucleusCutoff(_ candidates: inout [SamplerCandidate], target: Double) -> Float {
        guard !candidates.isEmpty else { return .infinity }
        var need = target
        if !(need > 0) { return candidates.map(\.logit).max()! }
        var lo = 0
        var hi = candidates.count
        // If rounding leaves the target unreached, keep the whole range the search last narrowed to.
        var fallback = -Float.infinity
        while hi > lo {
            if hi - lo <= 16 {
                candidates[lo..<hi].sort { $0.logit > $1.logit }
                var accumulated: Double = 0
                for j in lo..<hi {
                    accumulated += Double(candidates[j].weight)
                    if accumulated >= need { return candidates[j].logit }
                }
                return candidates[hi - 1].logit
            }
            let a = candidates[lo].logit
            let b = candidates[(lo + hi) / 2].logit
            let c = candidates[hi - 1].logit
            let pivot = Swift.max(Swift.min(a, b), Swift.min(Swift.max(a, b), c))
            // Three-way partition: [lo, greaterEnd) > pivot, [greaterEnd, equalEnd) == pivot, rest < pivot.
            var greaterEnd = lo
            var j = lo
            var lessStart = hi
            while j < lessStart {
                let v = candidates[j].logit
                if v > pivot {
                    candidates.swapAt(j, greaterEnd)
                    greaterEnd += 1
                    j += 1
                } else if v < pivot || v.isNaN {
                    lessStart -= 1
                    candidates.swapAt(j, lessStart)
                } else {
                    j += 1
                }
            }
            var greaterMass: Double = 0
            for g in lo..<greaterEnd { greaterMass += Double(candidates[g].weight) }
            if greaterMass >= need {
                hi = greaterEnd
                fallback = pivot.nextUp
                continue
            }
            var equalMass: Double = 0
            for e in greaterEnd..<lessStart { equalMass += Double(candidates[e].weight) }
            if greaterMass + equalMass >= need { return pivot }
            need -= greaterMass + equalMass
            lo = lessStart
        }
        return fallback
    }
}
