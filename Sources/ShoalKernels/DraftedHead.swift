import ShoalGGUF

/// An output head for the fast path: a draft of every row ranks the vocabulary with int8 activations, then each
/// token's best `candidates` rows are recomputed with the exact kernel and replace their draft logits.
///
/// Decoding one token reads the whole head, and the head is a large share of those bytes: Gemma 3's 262,144 x 640
/// Q8_0 head is 178 MB against about 80 MB for all its layers; Llama 3.2 1B's tied 128,256 x 2048 Q6_K head is 215
/// MB of the 800 MB a token reads. The exact kernel (float products) cannot stream it at the memory's speed; the
/// int8 kernels can. The draft is one of two `Draft`s:
/// - `.requantizedQ5_1`: the rows requantized to Q5_1 (6 bits per weight), for vocabularies from
///   `minimumVocabulary` rows whose file type is wider: fewer bytes than the file's (Gemma 3: 126 MB).
/// - `.fileType`: the file's own rows interleaved for the int8 kernels (the fast path's copy of any layer), for every
///   other head of a type the fast path covers. Its tail is exactly what llama.cpp computes for the whole head.
///
/// The logits that decide greedy and top-k choices and the top log-probabilities are exact products; the tail's are
/// the draft's, which `FastPathAccuracyTests` holds to llama.cpp's bars with the rest of the fast path. The draft is
/// made at load and owned (resident memory grows by its size; the file's rows stay mapped and only the candidates'
/// are read per token).
///
/// Measured over the fixture prompts (mean KL of the fast path to the exact one, llama.cpp's bar in brackets): Gemma 3
/// 0.0016 -> 0.0027 (0.0054) with a Q5_1 draft and 1024 candidates; SmolLM2 0.0019 -> 0.0039 (0.0033) with a Q5_1
/// draft, which is why smaller vocabularies keep their file's type.
public final class DraftedHead: @unchecked Sendable {
    /// How the draft's rows are stored.
    public enum Draft: Sendable {
        /// Requantized to Q5_1 (fewer bytes than Q8_0, F16 or Q6_K rows; less accurate than the file's).
        case requantizedQ5_1
        /// The file's rows in the fast path's interleaved layout.
        case fileType
    }

    /// The smallest vocabulary whose head the fast path drafts in Q5_1 (Gemma 3's 262,144 rows, not SmolLM2's 49,152).
    public static let minimumVocabulary = 131_072
    /// The head as stored in the file (what the exact recomputation reads).
    public let matrix: MatrixView
    /// Rows recomputed exactly per token.
    public let candidates: Int
    /// How the draft is stored.
    public let kind: Draft
    let draft: LinearWeight

    /// Bytes of the draft copy.
    public var draftBytes: Int { draft.streamedBytes }

    /// The fast path's head for `matrix` with `vocabulary` rows: a Q5_1 draft from `minimumVocabulary` rows when the
    /// file's rows are wider than Q5_1's 6 bits per weight, else the file's type where the int8 kernels cover it;
    /// nil where neither applies (the head then stays exact).
    public static func forFastPath(_ matrix: MatrixView, vocabulary: Int) -> DraftedHead? {
        let bitsPerWeight = Double(matrix.type.blockBytes * 8) / Double(matrix.type.blockSize)
        if vocabulary >= minimumVocabulary && bitsPerWeight > 6 {
            return DraftedHead(matrix, draft: .requantizedQ5_1)
        }
        return DraftedHead(matrix, draft: .fileType) ?? (vocabulary >= minimumVocabulary ? DraftedHead(matrix, draft: .requantizedQ5_1) : nil)
    }

    /// Drafts `matrix`; nil when its rows are not a multiple of 16 or its columns of 32, or (`.fileType`) when the
    /// int8 kernels do not cover its type.
    public init?(_ matrix: MatrixView, draft kind: Draft = .requantizedQ5_1, candidates: Int = 1024) {
        guard matrix.rows >= interleavedGroupRows, matrix.rows % interleavedGroupRows == 0, matrix.columns % 32 == 0 else { return nil }
        self.matrix = matrix
        self.candidates = min(candidates, matrix.rows)
        self.kind = kind
        switch kind {
        case .fileType:
            let weight = LinearWeight(matrix, precision: .fast)
            guard weight.isInterleaved else { return nil }
            draft = weight
        case .requantizedQ5_1:
            draft = LinearWeight(matrix, interleaved: .q5_1(Self.requantizeQ5_1(matrix)))
        }
    }

    /// `matrix` quantized to Q5_1 blocks (the file format) 16 rows at a time and interleaved.
    private static func requantizeQ5_1(_ matrix: MatrixView) -> InterleavedMatrix<Q5_1Block> {
        let blocks = matrix.columns / 32
        let groupBytes = interleavedGroupRows * blocks * 24
        let staging = UnsafeMutableRawPointer.allocate(byteCount: groupBytes, alignment: 64)
        defer { staging.deallocate() }
        let row = UnsafeMutablePointer<Float>.allocate(capacity: matrix.columns)
        defer { row.deallocate() }
        let groups = matrix.rows / interleavedGroupRows
        let memory = WeightMemory(byteCount: groups * blocks * Q5_1Block.bytes)
        let storage = memory.base
        for g in 0..<groups {
            for r in 0..<interleavedGroupRows {
                dequantizeRow(matrix.type, matrix.row(g * interleavedGroupRows + r), row, count: matrix.columns)
                for b in 0..<blocks { quantizeQ5_1Block(row + 32 * b, into: staging + (r * blocks + b) * 24) }
            }
            for b in 0..<blocks {
                let out = storage + (g * blocks + b) * Q5_1Block.bytes
                for r in 0..<interleavedGroupRows { Q5_1Block.pack(staging + (r * blocks + b) * 24, row: r, into: out) }
            }
        }
        return InterleavedMatrix(adopting: memory, rows: matrix.rows, columns: matrix.columns)
    }

    /// `y[t * yStride + r]` = row r's logit for token t: exact for each token's `candidates` best rows by the draft,
    /// the draft's for the others.
    public func apply(_ x: UnsafePointer<Float>, xStride: Int, tokens: Int,
                      _ y: UnsafeMutablePointer<Float>, yStride: Int, pool: ComputePool) {
        matmul(draft, x, xStride: xStride, tokens: tokens, y, yStride: yStride, pool: pool)
        var best = [Int](repeating: 0, count: candidates)
        var picked = [(token: Int, row: Int)]()
        picked.reserveCapacity(tokens * candidates)
        for t in 0..<tokens {
            let found = Self.topRows(y + t * yStride, count: matrix.rows, into: &best)
            // In row order, so that the recomputation reads the file's rows front to back.
            for r in best[..<found].sorted() { picked.append((t, r)) }
        }
        // Recompute the candidates exactly, split over the pool's threads when there is enough of them.
        let matrix = self.matrix
        let columns = matrix.columns
        picked.withUnsafeBufferPointer { picked in
            let chunks = picked.count * columns < 65_536 ? 1 : min(4 * pool.threadCount, picked.count)
            pool.runChunked(chunks: chunks) { chunk, thread in
                let lower = picked.count * chunk / chunks, upper = picked.count * (chunk + 1) / chunks
                for (t, r) in picked[lower..<upper] {
                    matmulRows(matrix, x + t * xStride, xStride: xStride, tokens: 1, y + t * yStride, yStride: yStride,
                               rows: r..<r + 1, pool: pool, thread: thread)
                }
            }
        }
    }

    /// Writes the indices of the `best.count` largest of `values[0 ..< count]` into `best` (in no order) and returns
    /// how many it wrote. NaN never ranks.
    package static func topRows(_ values: UnsafePointer<Float>, count: Int, into best: inout [Int]) -> Int {
        let k = min(best.count, count)
        guard k > 0 else { return 0 }
        // A min-heap of the k best so far: after the first few thousand values almost every value fails the one
        // comparison with the heap's root.
        var heap = [(value: Float, index: Int)]()
        heap.reserveCapacity(k)
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < heap.count, heap[l].value < heap[smallest].value { smallest = l }
                if r < heap.count, heap[r].value < heap[smallest].value { smallest = r }
                if smallest == i { return }
                heap.swapAt(i, smallest)
                i = smallest
            }
        }
        for i in 0..<count {
            let v = values[i]
            if heap.count < k {
                guard !v.isNaN else { continue }
                heap.append((v, i))
                var c = heap.count - 1
                while c > 0, heap[(c - 1) / 2].value > heap[c].value {
                    heap.swapAt(c, (c - 1) / 2)
                    c = (c - 1) / 2
                }
            } else if v > heap[0].value {
                heap[0] = (v, i)
                siftDown(0)
            }
        }
        for (n, entry) in heap.enumerated() { best[n] = entry.index }
        return heap.count
    }
}

/// Q5_1 quantization of 32 floats (ggml's scheme: `d = (max - min) / 31`, `m = min`, both in half precision, each
/// value rounded to the nearest of the 32 levels the rounded `d` and `m` give), written as a 24-byte Q5_1 block.
func quantizeQ5_1Block(_ x: UnsafePointer<Float>, into out: UnsafeMutableRawPointer) {
    var low = x[0], high = x[0]
    for i in 1..<32 { low = min(low, x[i]); high = max(high, x[i]) }
    let dHalf = Float16((high - low) / 31), mHalf = Float16(low)
    let d = Float(dHalf), m = Float(mHalf)
    let inverse: Float = d > 0 ? 1 / d : 0
    out.storeBytes(of: dHalf.bitPattern, as: UInt16.self)
    out.storeBytes(of: mHalf.bitPattern, toByteOffset: 2, as: UInt16.self)
    var highBits: UInt32 = 0
    for i in 0..<16 {
        let a = UInt8(max(0, min(31, ((x[i] - m) * inverse).rounded())))
        let b = UInt8(max(0, min(31, ((x[i + 16] - m) * inverse).rounded())))
        highBits |= UInt32(a >> 4) << UInt32(i) | UInt32(b >> 4) << UInt32(i + 16)
        out.storeBytes(of: (a & 0xF) | (b & 0xF) << 4, toByteOffset: 8 + i, as: UInt8.self)
    }
    out.storeBytes(of: highBits, toByteOffset: 4, as: UInt32.self)
}
