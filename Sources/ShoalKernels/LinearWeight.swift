import ShoalGGUF

/// How quantized matrix products treat their float activations.
public enum MatmulPrecision: String, Sendable, CaseIterable {
    /// Activations stay float32: results equal the dequantized-weight product up to float rounding (what the
    /// reference fixtures check).
    case exact
    /// Activations are quantized to int8 per block of 32 before products with Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K
    /// and Q6_K weights, as llama.cpp's CPU path does: about 2-4x the batched throughput, logits within llama.cpp's own
    /// distance of the reference. Other weight types stay exact.
    case fast
}

/// A model's weight matrix as the forward pass uses it: the file's matrix, plus an interleaved copy for the fast
/// path when the precision and the matrix allow one.
public struct LinearWeight: @unchecked Sendable {
    /// The weights as stored in the file.
    public let matrix: MatrixView
    /// The fast path's repacked copy (nil in exact mode and for matrices it does not cover).
    let interleaved: InterleavedWeights?

    /// Wraps `matrix`; with `.fast`, repacks it when it is Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K or Q6_K with a multiple
    /// of 16 rows.
    public init(_ matrix: MatrixView, precision: MatmulPrecision) {
        self.matrix = matrix
        guard precision == .fast else {
            interleaved = nil
            return
        }
        switch matrix.type {
        case .q4_0: interleaved = InterleavedMatrix<Q4_0Block>(matrix).map { .q4_0($0) }
        case .q4_1: interleaved = InterleavedMatrix<Q4_1Block>(matrix).map { .q4_1($0) }
        case .q5_0: interleaved = InterleavedMatrix<Q5_0Block>(matrix).map { .q5_0($0) }
        case .q5_1: interleaved = InterleavedMatrix<Q5_1Block>(matrix).map { .q5_1($0) }
        case .q8_0: interleaved = InterleavedMatrix<Q8_0Block>(matrix).map { .q8_0($0) }
        case .q4_K: interleaved = InterleavedMatrix<Q4_KBlock>(matrix).map { .q4_K($0) }
        case .q5_K: interleaved = InterleavedMatrix<Q5_KBlock>(matrix).map { .q5_K($0) }
        case .q6_K: interleaved = InterleavedMatrix<Q6_KBlock>(matrix).map { .q6_K($0) }
        default: interleaved = nil
        }
    }

    /// `matrix` with a fast-path copy made elsewhere (a drafted head's requantized rows).
    init(_ matrix: MatrixView, interleaved: InterleavedWeights) {
        self.matrix = matrix
        self.interleaved = interleaved
    }

    /// Whether products with this weight take the int8 fast path.
    public var isInterleaved: Bool { interleaved != nil }

    /// Bytes one token's product streams: the repacked copy's on the fast path, else the file's.
    public var streamedBytes: Int {
        switch interleaved {
        case .q4_0(let m): m.byteCount
        case .q4_1(let m): m.byteCount
        case .q5_0(let m): m.byteCount
        case .q5_1(let m): m.byteCount
        case .q8_0(let m): m.byteCount
        case .q4_K(let m): m.byteCount
        case .q5_K(let m): m.byteCount
        case .q6_K(let m): m.byteCount
        case nil: matrix.rows * matrix.rowBytes
        }
    }
}

/// A fast-path copy of a weight matrix, by weight type.
enum InterleavedWeights: Sendable {
    case q4_0(InterleavedMatrix<Q4_0Block>)
    case q4_1(InterleavedMatrix<Q4_1Block>)
    case q5_0(InterleavedMatrix<Q5_0Block>)
    case q5_1(InterleavedMatrix<Q5_1Block>)
    case q8_0(InterleavedMatrix<Q8_0Block>)
    case q4_K(InterleavedMatrix<Q4_KBlock>)
    case q5_K(InterleavedMatrix<Q5_KBlock>)
    case q6_K(InterleavedMatrix<Q6_KBlock>)
}

/// `matmul` over a `LinearWeight`: the int8 fast path when it has an interleaved copy, else the exact kernels.
public func matmul(
    _ w: LinearWeight, _ x: UnsafePointer<Float>, xStride: Int, tokens: Int,
    _ y: UnsafeMutablePointer<Float>, yStride: Int, pool: ComputePool
) {
    // A switch over concrete types, so that `matmulInt8` is specialized for each (through an existential it ran
    // about 10x slower).
    switch w.interleaved {
    case .q4_0(let matrix): matmulInt8(matrix, x, xStride: xStride, tokens: tokens, y, yStride: yStride, pool: pool)
    case .q4_1(let matrix): matmulInt8(matrix, x, xStride: xStride, tokens: tokens, y, yStride: yStride, pool: pool)
    case .q5_0(let matrix): matmulInt8(matrix, x, xStride: xStride, tokens: tokens, y, yStride: yStride, pool: pool)
    case .q5_1(let matrix): matmulInt8(matrix, x, xStride: xStride, tokens: tokens, y, yStride: yStride, pool: pool)
    case .q8_0(let matrix): matmulInt8(matrix, x, xStride: xStride, tokens: tokens, y, yStride: yStride, pool: pool)
    case .q4_K(let matrix): matmulInt8(matrix, x, xStride: xStride, tokens: tokens, y, yStride: yStride, pool: pool)
    case .q5_K(let matrix): matmulInt8(matrix, x, xStride: xStride, tokens: tokens, y, yStride: yStride, pool: pool)
    case .q6_K(let matrix): matmulInt8(matrix, x, xStride: xStride, tokens: tokens, y, yStride: yStride, pool: pool)
    case nil: matmul(w.matrix, x, xStride: xStride, tokens: tokens, y, yStride: yStride, pool: pool)
    }
}
