/// How quantized matrix products treat their float activations.
public enum MatmulPrecision: String, Sendable, CaseIterable {
    /// Activations stay float32: results equal the dequantized-weight product up to float rounding (what the
    /// reference fixtures check).
    case exact
    /// Activations are quantized to int8 per block of 32 before products with Q4_1 weights, as llama.cpp's CPU path
    /// does: about 2-3x the batched throughput, logits within llama.cpp's own distance of the reference. Other
    /// weight types stay exact.
    case fast
}

/// A model's weight matrix as the forward pass uses it: the file's matrix, plus an interleaved copy for the fast
/// path when the precision and the matrix allow one.
public struct LinearWeight: @unchecked Sendable {
    /// The weights as stored in the file.
    public let matrix: MatrixView
    /// The fast path's repacked copy (nil in exact mode and for matrices it does not cover).
    public let interleaved: InterleavedQ4_1?

    /// Wraps `matrix`; with `.fast`, repacks it when it is Q4_1 with a multiple of 16 rows.
    public init(_ matrix: MatrixView, precision: MatmulPrecision) {
        self.matrix = matrix
        interleaved = precision == .fast ? InterleavedQ4_1(matrix) : nil
    }
}

/// `matmul` over a `LinearWeight`: the int8 fast path when it has an interleaved copy, else the exact kernels.
public func matmul(
    _ w: LinearWeight, _ x: UnsafePointer<Float>, xStride: Int, tokens: Int,
    _ y: UnsafeMutablePointer<Float>, yStride: Int, pool: ComputePool
) {
    if let interleaved = w.interleaved {
        matmul(interleaved, x, xStride: xStride, tokens: tokens, y, yStride: yStride, pool: pool)
    } else {
        matmul(w.matrix, x, xStride: xStride, tokens: tokens, y, yStride: yStride, pool: pool)
    }
}
