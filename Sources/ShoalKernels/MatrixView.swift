public import ShoalGGUF

/// A read-only view of a 2-D weight matrix stored in a GGUF tensor: `rows` rows of `columns` weights each,
/// row `r` at `base + r * rowBytes`.
///
/// The view does not own the memory; whoever made it keeps the bytes alive (normally the mmap'd file).
public struct MatrixView: @unchecked Sendable {
    /// Address of row 0.
    public let base: UnsafeRawPointer
    /// Element type of the weights.
    public let type: GGMLType
    /// Number of rows (output features).
    public let rows: Int
    /// Number of weights per row (input features).
    public let columns: Int
    /// Bytes from one row to the next.
    public let rowBytes: Int

    /// Makes a view of `rows` x `columns` weights of `type` starting at `base`.
    /// - Throws: `KernelError` `.unsupportedType` when the kernels cannot compute with `type`,
    ///   `.badShape` when `columns` is not a positive multiple of the type's block size or `rows` is negative.
    public init(base: UnsafeRawPointer, type: GGMLType, rows: Int, columns: Int) throws {
        guard Kernels.supports(type) else {
            throw KernelError(.unsupportedType, "weight type \(type) is not supported by the kernels")
        }
        guard rows >= 0 else {
            throw KernelError(.badShape, "a \(type) matrix cannot have \(rows) rows")
        }
        guard columns > 0, columns % type.blockSize == 0 else {
            throw KernelError(.badShape, "a \(type) row of \(columns) columns is not a positive multiple of the block size \(type.blockSize)")
        }
        self.base = base
        self.type = type
        self.rows = rows
        self.columns = columns
        self.rowBytes = columns / type.blockSize * type.blockBytes
    }

    /// Makes a view whose rows lie `rowBytes` apart (at least the packed size), for example one head's slice of a
    /// float K cache laid out as `[position][head][dimension]`.
    /// - Throws: as `init(base:type:rows:columns:)`, and `.badShape` when `rowBytes` is smaller than a packed row.
    public init(base: UnsafeRawPointer, type: GGMLType, rows: Int, columns: Int, rowBytes: Int) throws {
        let packed = try MatrixView(base: base, type: type, rows: rows, columns: columns)
        guard rowBytes >= packed.rowBytes else {
            throw KernelError(.badShape, "row stride of \(rowBytes) bytes is smaller than a packed \(type) row of \(packed.rowBytes) bytes")
        }
        self.base = base
        self.type = type
        self.rows = rows
        self.columns = columns
        self.rowBytes = rowBytes
    }

    /// The address of row `r`.
    @inline(__always)
    public func row(_ r: Int) -> UnsafeRawPointer {
        base + r * rowBytes
    }
}
