import Foundation
public import ShoalGGUF
public import ShoalModels
import ShoalStore
import Synchronization

/// One share of a model as a GGUF file of its own: every metadata key of the model, and only the tensors the shard
/// binds (its layers', the embedding for the first stage, the final norm and output head for the last, and any
/// global tensor an architecture reads). A leader streams it to a worker that has no copy of the model, straight
/// from its mapped file; the worker loads it as it would the whole file, with the same shard.
///
/// A tensor-parallel rank's package holds only its slices: the rows or columns of each projection it binds (and
/// its range of the output head), each recorded under `shoal.cut.<tensor>` so that the worker binds the stored
/// tensor as that slice and refuses a package cut for another rank.
public struct ShardPackage: Sendable {
    public let shard: ModelShard
    private let file: GGUFFile
    private let header: [UInt8]
    private let layout: [(source: GGUFTensorInfo, cut: TensorCut?, offset: Int)]
    /// Bytes of the whole package.
    public let byteCount: Int

    /// Lays out the package of `shard` from `file`.
    /// - Throws: `GGUFError` for metadata the writer cannot carry.
    public init(file: GGUFFile, shard: ModelShard) throws {
        var writer = GGUFWriter(alignment: file.alignment)
        for key in file.metadataKeys where key != "general.alignment" {
            if let value = file.metadata[key] { writer.set(key, value) }
        }
        let tied = file.tensor(named: "output.weight") == nil
        let description = try ModelRegistry.describe(file)
        let slices = shard.tensorCount > 1 ? try DecoderModel.layout(of: shard, in: file, description: description) : nil
        var chosen: [(GGUFTensorInfo, TensorCut?)] = []
        for tensor in file.tensors where Self.belongs(tensor.name, to: shard, tiedHead: tied) {
            var dimensions = tensor.dimensions
            let cut = slices?.cut(ofTensor: tensor.name, config: description.config, holdsEmbedding: shard.holdsEmbedding)
            switch cut {
            case .rows(let rows)?: dimensions[1] = rows.count
            case .columns(let columns)?: dimensions[0] = columns.count
            case nil: break
            }
            if let cut { writer.set(TensorCut.metadataKey(tensor.name), cut.metadata) }
            try writer.reserveTensor(name: tensor.name, type: tensor.type, dimensions: dimensions)
            chosen.append((tensor, cut))
        }
        self.shard = shard
        self.file = file
        header = writer.header()
        layout = zip(chosen, writer.tensorLayout).map { ($0.0, $0.1, $1.offset) }
        byteCount = header.count + writer.dataByteCount
    }

    /// Whether the tensor `name` is read by `shard`: a layer's tensors by that layer's stage, the embedding by the
    /// first stage (and by the last when the head is tied to it), the final norm and head by the last; anything
    /// else (a global table an architecture reads) by every stage.
    static func belongs(_ name: String, to shard: ModelShard, tiedHead: Bool) -> Bool {
        if name.hasPrefix("blk.") {
            let index = name.dropFirst(4).prefix { $0.isNumber }
            return Int(index).map { shard.layers.contains($0) } ?? true
        }
        switch name {
        case "token_embd.weight": return shard.holdsEmbedding || (shard.holdsHead && tiedHead)
        case "output.weight", "output_norm.weight": return shard.holdsHead
        default: return true
        }
    }

    /// The package's bytes in order, in pieces of at most `chunk` bytes (the tensors' straight from the mapping).
    public func forEachPiece(chunk: Int = 4 << 20, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try header.withUnsafeBytes { try body($0) }
        var written = header.count
        let zeros = [UInt8](repeating: 0, count: max(file.alignment, 64))
        for (source, cut, offset) in layout {
            var padding = header.count + offset - written
            while padding > 0 {
                let n = min(padding, zeros.count)
                try zeros.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                padding -= n
                written += n
            }
            let data = file.data(for: source)
            let rowBytes = source.dimensions[0] / source.type.blockSize * source.type.blockBytes
            switch cut {
            case nil:
                try Self.stream(data, chunk: chunk, body)
                written += data.count
            case .rows(let rows)?:
                // Consecutive rows: one range of the tensor.
                let piece = UnsafeRawBufferPointer(rebasing: data[(rows.lowerBound * rowBytes)..<(rows.upperBound * rowBytes)])
                try Self.stream(piece, chunk: chunk, body)
                written += piece.count
            case .columns(let columns)?:
                // The same whole blocks of every row, gathered a chunk at a time.
                let start = columns.lowerBound / source.type.blockSize * source.type.blockBytes
                let width = columns.count / source.type.blockSize * source.type.blockBytes
                let rowCount = data.count / max(rowBytes, 1)
                let perChunk = max(1, chunk / max(width, 1))
                var buffer = [UInt8](repeating: 0, count: min(rowCount, perChunk) * width)
                var row = 0
                while row < rowCount {
                    let n = min(perChunk, rowCount - row)
                    buffer.withUnsafeMutableBytes { out in
                        for i in 0..<n {
                            out.baseAddress!.advanced(by: i * width)
                                .copyMemory(from: data.baseAddress! + (row + i) * rowBytes + start, byteCount: width)
                        }
                    }
                    try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<(n * width)])) }
                    row += n
                    written += n * width
                }
            }
        }
    }

    private static func stream(_ data: UnsafeRawBufferPointer, chunk: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var start = 0
        while start < data.count {
            let n = min(chunk, data.count - start)
            try body(UnsafeRawBufferPointer(rebasing: data[start..<(start + n)]))
            start += n
        }
    }

    /// The SHA-256 of the package, lowercase hex.
    public func sha256() throws -> String {
        var hasher = SHA256()
        try forEachPiece { hasher.update($0) }
        return SHA256.hexString(hasher.finalize())
    }

    /// The file name a worker keeps the package under: the model's hash, the shard's stage and its rank.
    public static func fileName(modelSHA256: String, shard: ModelShard) -> String {
        "\(modelSHA256)-layers\(shard.layers.lowerBound)-\(shard.layers.upperBound)"
            + (shard.holdsEmbedding ? "-embedding" : "") + (shard.holdsHead ? "-head" : "")
            + (shard.tensorCount > 1 ? "-rank\(shard.tensorRank)of\(shard.tensorCount)" : "") + ".gguf"
    }
}

/// The leader's side of shard transfers: the packages of one mapped model file, each laid out and hashed once.
public final class ShardSource: @unchecked Sendable {  // guarded by `packages`
    public let file: GGUFFile
    private let packages = Mutex<[ModelShard: (ShardPackage, String)]>([:])

    public init(file: GGUFFile) {
        self.file = file
    }

    /// The package of `shard` and its SHA-256.
    func package(for shard: ModelShard) throws -> (ShardPackage, String) {
        if let known = packages.withLock({ $0[shard] }) { return known }
        let package = try ShardPackage(file: file, shard: shard)
        let made = (package, try package.sha256())
        packages.withLock { $0[shard] = made }
        return made
    }
}
