/// One entry of a GGUF file's tensor table.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name (`blk.0.attn_q.weight`).
    public let name: String
    /// ggml's `ne`: `dimensions[0]` is the row length (the contiguous dimension).
    public let dimensions: [Int]
    /// The element type.
    public let type: GGMLType
    /// Byte offset of the tensor's data, relative to the file's data section.
    public let offset: Int
    /// Product of the dimensions.
    public let elementCount: Int
    /// Bytes the tensor's data occupies.
    public let byteCount: Int
    /// Number of rows: the product of `dimensions[1...]`.
    public let rowCount: Int
    /// Bytes one row occupies.
    public let rowBytes: Int

    /// Elements per row (`dimensions[0]`).
    public var rowLength: Int { dimensions[0] }

    /// Checks the shape against the type and computes the sizes; the message names the tensor.
    package init(name: String, dimensions: [Int], type: GGMLType, offset: Int) throws(GGUFError) {
        guard (1...4).contains(dimensions.count) else {
            throw GGUFError(.invalidValue, "tensor '\(name)' has \(dimensions.count) dimensions; GGUF allows 1 to 4")
        }
        var rows = 1
        for (i, d) in dimensions.enumerated() {
            guard d >= 0 else {
                throw GGUFError(.invalidValue, "tensor '\(name)' has a negative dimension \(d)")
            }
            if i > 0 {
                let (r, overflow) = rows.multipliedReportingOverflow(by: d)
                guard !overflow else {
                    throw GGUFError(.invalidValue, "tensor '\(name)' has too many elements \(dimensions)")
                }
                rows = r
            }
        }
        let (elements, overflow) = rows.multipliedReportingOverflow(by: dimensions[0])
        guard !overflow else {
            throw GGUFError(.invalidValue, "tensor '\(name)' has too many elements \(dimensions)")
        }
        guard let rowBytes = type.byteCount(elements: dimensions[0]) else {
            throw GGUFError(
                .invalidValue,
                "tensor '\(name)' of type \(type) has row length \(dimensions[0]), not a multiple of its block size \(type.blockSize)")
        }
        let (bytes, bytesOverflow) = rowBytes.multipliedReportingOverflow(by: rows)
        guard !bytesOverflow else {
            throw GGUFError(.invalidValue, "tensor '\(name)' is too large \(dimensions)")
        }
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
        self.elementCount = elements
        self.byteCount = bytes
        self.rowCount = rows
        self.rowBytes = rowBytes
    }
}
