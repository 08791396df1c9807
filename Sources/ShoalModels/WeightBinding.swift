#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ShoalGGUF
import ShoalKernels

/// Looks up tensors by GGUF name and checks their shapes, so that a wrong file fails at load with the tensor named.
///
/// A shard binds slices: rows of a matrix (contiguous in the file, so only those pages are ever touched) or columns
/// (copied out into memory the model owns, after which the file's pages of that tensor are released).
final class WeightBinding {
    let file: GGUFFile
    /// Whether projection matrices get the fast path's interleaved copies (see `linear`).
    let precision: MatmulPrecision
    /// Copies of column slices, kept alive as long as the model.
    private(set) var ownedCopies: [OwnedBytes] = []
    /// Bytes of weights bound so far (matrix rows, copied column slices, vectors).
    private(set) var boundBytes = 0

    init(file: GGUFFile, precision: MatmulPrecision = .exact) {
        self.file = file
        self.precision = precision
    }

    func info(_ name: String) throws -> GGUFTensorInfo {
        guard let info = file.tensor(named: name) else {
            throw ModelError(.missingTensor, "tensor '\(name)' is missing from the model file")
        }
        return info
    }

    /// A weight matrix with `rows` outputs of `columns` inputs each (GGUF dims [columns, rows]).
    func matrix(_ name: String, rows: Int, columns: Int) throws -> MatrixView {
        try matrix(name, rows: rows, columns: columns, rowRange: 0..<rows)
    }

    /// How the file's tensor `name` was cut from the model's, when the file is a rank's share package.
    private func packagedCut(_ name: String) throws -> TensorCut? {
        guard let value = file.metadata[TensorCut.metadataKey(name)] else { return nil }
        guard let cut = TensorCut(metadata: value) else {
            throw ModelError(.invalidMetadata, "'\(TensorCut.metadataKey(name))' is not [axis, start, end]")
        }
        return cut
    }

    /// Checks that a packaged tensor holds exactly `wanted` of the model's tensor.
    private func requirePackaged(_ name: String, _ cut: TensorCut, is wanted: TensorCut) throws {
        guard cut == wanted else {
            throw ModelError(.badTensor, "tensor '\(name)' in this share holds \(cut) of the model's, not \(wanted): it was cut for another rank")
        }
    }

    /// Rows `rowRange` of the `rows` x `columns` weight matrix `name`.
    func matrix(_ name: String, rows: Int, columns: Int, rowRange: Range<Int>) throws -> MatrixView {
        if let cut = try packagedCut(name) {
            // A share package holds just these rows.
            try requirePackaged(name, cut, is: .rows(rowRange))
            return try boundMatrix(name, rows: rowRange.count, columns: columns, rowRange: 0..<rowRange.count)
        }
        return try boundMatrix(name, rows: rows, columns: columns, rowRange: rowRange)
    }

    private func boundMatrix(_ name: String, rows: Int, columns: Int, rowRange: Range<Int>) throws -> MatrixView {
        let info = try checked(name, rows: rows, columns: columns)
        do {
            let whole = try MatrixView(base: file.data(for: info).baseAddress!, type: info.type, rows: rows, columns: columns)
            let view = try MatrixView(base: whole.row(rowRange.lowerBound), type: info.type, rows: rowRange.count, columns: columns)
            boundBytes += view.rows * view.rowBytes
            return view
        } catch {
            throw ModelError(.badTensor, "tensor '\(name)': \(error)")
        }
    }

    /// A projection matrix as the forward pass uses it (rows `rowRange` of it), repacked for the fast path when
    /// `precision` asks for it.
    func linear(_ name: String, rows: Int, columns: Int, rowRange: Range<Int>? = nil) throws -> LinearWeight {
        var view = try matrix(name, rows: rows, columns: columns, rowRange: rowRange ?? 0..<rows)
        var mapped = true
        if let rowRange, rowRange != 0..<rows, file.isFileMapped, try packagedCut(name) == nil {
            mapped = false
            // A tensor-parallel rank's rows, copied: computing from the mapping would keep the other ranks' rows
            // resident too wherever the page cache holds a folio that straddles the cut.
            let copy = OwnedBytes(count: view.rows * view.rowBytes)
            copy.base.copyMemory(from: view.base, byteCount: copy.count)
            ownedCopies.append(copy)
            file.releasePages(UnsafeRawBufferPointer(start: view.base, count: copy.count))
            do {
                view = try MatrixView(base: UnsafeRawPointer(copy.base), type: view.type, rows: view.rows, columns: view.columns)
            } catch {
                throw ModelError(.badTensor, "tensor '\(name)': \(error)")
            }
        }
        let weight = LinearWeight(view, precision: precision)
        // The fast path computes from its repacked copy: the file's pages it read to make it can go (they come back
        // from the file if anything reads them again).
        if weight.isInterleaved, mapped { file.releasePages(UnsafeRawBufferPointer(start: view.base, count: view.rows * view.rowBytes)) }
        return weight
    }

    /// The `experts` matrices of `rows` x `columns` stacked in the 3-D tensor `name` (GGUF dims [columns, rows,
    /// experts]), each as a projection of its own, computed straight from the file's bytes (or repacked for the
    /// fast path like `linear`). Only the experts a token is routed to are read in a step.
    func experts(_ name: String, experts: Int, rows: Int, columns: Int) throws -> [LinearWeight] {
        let info = try info(name)
        guard info.dimensions == [columns, rows, experts] else {
            throw ModelError(.badTensor, "tensor '\(name)' has shape \(info.dimensions), expected [\(columns), \(rows), \(experts)]")
        }
        guard Kernels.supports(info.type) else {
            throw ModelError(.badTensor, "tensor '\(name)' has type \(info.type), which Shoal's kernels do not support yet")
        }
        let base = file.data(for: info).baseAddress!
        var weights: [LinearWeight] = []
        for expert in 0..<experts {
            let view: MatrixView
            do {
                let whole = try MatrixView(base: base, type: info.type, rows: rows * experts, columns: columns)
                view = try MatrixView(base: whole.row(expert * rows), type: info.type, rows: rows, columns: columns)
            } catch {
                throw ModelError(.badTensor, "tensor '\(name)': \(error)")
            }
            boundBytes += view.rows * view.rowBytes
            let weight = LinearWeight(view, precision: precision)
            if weight.isInterleaved { file.releasePages(UnsafeRawBufferPointer(start: view.base, count: view.rows * view.rowBytes)) }
            weights.append(weight)
        }
        return weights
    }

    /// Columns `columnRange` (on block boundaries) of every row of a projection matrix, copied into owned memory.
    func linear(_ name: String, rows: Int, columns: Int, columnRange: Range<Int>) throws -> LinearWeight {
        if let cut = try packagedCut(name) {
            // A share package holds just these columns of every row.
            try requirePackaged(name, cut, is: .columns(columnRange))
            let view = try boundMatrix(name, rows: rows, columns: columnRange.count, rowRange: 0..<rows)
            let weight = LinearWeight(view, precision: precision)
            if weight.isInterleaved { file.releasePages(UnsafeRawBufferPointer(start: view.base, count: view.rows * view.rowBytes)) }
            return weight
        }
        if columnRange == 0..<columns { return try linear(name, rows: rows, columns: columns) }
        let info = try checked(name, rows: rows, columns: columns)
        let type = info.type
        guard columnRange.lowerBound % type.blockSize == 0, columnRange.count % type.blockSize == 0 else {
            throw ModelError(.badTensor, "tensor '\(name)' (\(type)) cannot be cut at columns \(columnRange) on \(type.blockSize)-column blocks")
        }
        let source = file.data(for: info)
        let rowBytes = columns / type.blockSize * type.blockBytes
        let sliceOffset = columnRange.lowerBound / type.blockSize * type.blockBytes
        let sliceBytes = columnRange.count / type.blockSize * type.blockBytes
        let copy = OwnedBytes(count: rows * sliceBytes)
        for r in 0..<rows {
            (copy.base + r * sliceBytes).copyMemory(from: source.baseAddress! + r * rowBytes + sliceOffset, byteCount: sliceBytes)
        }
        ownedCopies.append(copy)
        boundBytes += copy.count
        file.releasePages(source)
        do {
            let view = try MatrixView(base: UnsafeRawPointer(copy.base), type: type, rows: rows, columns: columnRange.count)
            return LinearWeight(view, precision: precision)
        } catch {
            throw ModelError(.badTensor, "tensor '\(name)': \(error)")
        }
    }

    /// A vector (norm weights, biases) dequantized into owned float storage.
    /// Elements `range` of the `count`-element vector `name` (a tensor-parallel rank's share of a bias).
    func vector(_ name: String, count: Int, range: Range<Int>) throws -> [Float] {
        if let cut = try packagedCut(name) {
            try requirePackaged(name, cut, is: .columns(range))
            return try vector(name, count: range.count)
        }
        return Array(try vector(name, count: count)[range])
    }

    func vector(_ name: String, count: Int) throws -> [Float] {
        let info = try info(name)
        guard info.elementCount == count else {
            throw ModelError(.badTensor, "tensor '\(name)' has \(info.elementCount) elements, expected \(count)")
        }
        guard Kernels.supports(info.type) else {
            throw ModelError(.badTensor, "tensor '\(name)' has type \(info.type), which Shoal's kernels do not support yet")
        }
        var out = [Float](repeating: 0, count: count)
        boundBytes += info.byteCount
        out.withUnsafeMutableBufferPointer { dst in
            dequantizeRow(info.type, file.data(for: info).baseAddress!, dst.baseAddress!, count: count)
        }
        return out
    }

    private func checked(_ name: String, rows: Int, columns: Int) throws -> GGUFTensorInfo {
        let info = try info(name)
        guard info.dimensions.count == 2, info.dimensions[0] == columns, info.dimensions[1] == rows else {
            throw ModelError(.badTensor, "tensor '\(name)' has shape \(info.dimensions), expected [\(columns), \(rows)]")
        }
        guard Kernels.supports(info.type) else {
            throw ModelError(.badTensor, "tensor '\(name)' has type \(info.type), which Shoal's kernels do not support yet")
        }
        return info
    }

}

/// Memory a model owns (a copied weight slice), 64-byte aligned.
final class OwnedBytes: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let count: Int

    init(count: Int) {
        self.count = count
        base = .allocate(byteCount: max(count, 1), alignment: 64)
    }

    deinit { base.deallocate() }
}
