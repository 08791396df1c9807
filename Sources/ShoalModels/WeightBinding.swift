import ShoalGGUF
import ShoalKernels

/// Looks up tensors by GGUF name and checks their shapes, so that a wrong file fails at load with the tensor named.
struct WeightBinding {
    let file: GGUFFile
    /// Whether projection matrices get the fast path's interleaved copies (see `linear`).
    var precision: MatmulPrecision = .exact

    func info(_ name: String) throws -> GGUFTensorInfo {
        guard let info = file.tensor(named: name) else {
            throw ModelError(.missingTensor, "tensor '\(name)' is missing from the model file")
        }
        return info
    }

    /// A weight matrix with `rows` outputs of `columns` inputs each (GGUF dims [columns, rows]).
    func matrix(_ name: String, rows: Int, columns: Int) throws -> MatrixView {
        let info = try info(name)
        guard info.dimensions.count == 2, info.dimensions[0] == columns, info.dimensions[1] == rows else {
            throw ModelError(.badTensor, "tensor '\(name)' has shape \(info.dimensions), expected [\(columns), \(rows)]")
        }
        guard Kernels.supports(info.type) else {
            throw ModelError(.badTensor, "tensor '\(name)' has type \(info.type), which Shoal's kernels do not support yet")
        }
        do {
            return try MatrixView(base: file.data(for: info).baseAddress!, type: info.type, rows: rows, columns: columns)
        } catch {
            throw ModelError(.badTensor, "tensor '\(name)': \(error)")
        }
    }

    /// A projection matrix as the forward pass uses it, repacked for the fast path when `precision` asks for it.
    func linear(_ name: String, rows: Int, columns: Int) throws -> LinearWeight {
        LinearWeight(try matrix(name, rows: rows, columns: columns), precision: precision)
    }

    /// A vector (norm weights, biases) dequantized into owned float storage.
    func vector(_ name: String, count: Int) throws -> [Float] {
        let info = try info(name)
        guard info.elementCount == count else {
            throw ModelError(.badTensor, "tensor '\(name)' has \(info.elementCount) elements, expected \(count)")
        }
        guard Kernels.supports(info.type) else {
            throw ModelError(.badTensor, "tensor '\(name)' has type \(info.type), which Shoal's kernels do not support yet")
        }
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { dst in
            dequantizeRow(info.type, file.data(for: info).baseAddress!, dst.baseAddress!, count: count)
        }
        return out
    }
}
