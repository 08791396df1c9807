import Foundation
import ShoalCluster
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalTestSupport
import Testing

/// The GGUF file of one share that a leader streams to a worker without the model.
struct ShardPackageTests {
    static func bytes(_ package: ShardPackage) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try package.forEachPiece(chunk: 1000) { bytes.append(contentsOf: $0) }
        return bytes
    }

    @Test(arguments: [MatmulPrecision.exact, .fast])
    func aRanksPackageHoldsOnlyItsSlicesAndComputesWhatTheWholeFileDoes(precision: MatmulPrecision) throws {
        var tiny = TinyModel()
        tiny.feedForward = 128
        let file = try GGUFFile(bytes: try tiny.serialized())
        let prompt: [Int32] = [104, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100]
        for rank in 0..<2 {
            let shard = ModelShard(layers: 0..<tiny.layers, holdsEmbedding: true, holdsHead: true, tensorRank: rank, tensorCount: 2)
            let package = try ShardPackage(file: file, shard: shard)
            let bytes = try Self.bytes(package)
            #expect(bytes.count == package.byteCount)
            #expect(bytes.count < file.fileSize, "rank \(rank): \(bytes.count) of \(file.fileSize) bytes")
            let packaged = try GGUFFile(bytes: bytes)
            // Its projections are stored cut, and say how.
            let query = try #require(packaged.tensor(named: "blk.0.attn_q.weight"))
            #expect(query.dimensions == [tiny.hidden, tiny.hidden / 2])
            #expect(packaged.metadata[TensorCut.metadataKey("blk.0.ffn_down.weight")].flatMap(TensorCut.init(metadata:))
                    == .columns(rank == 0 ? 0..<64 : 64..<128))
            let fromPackage = try ModelRegistry.load(packaged, pool: ComputePool(threadCount: 1), precision: precision, shard: shard)
            let fromFile = try ModelRegistry.load(file, pool: ComputePool(threadCount: 1), precision: precision, shard: shard)
            let rows = Array(0..<prompt.count)
            // Without the all-reduce each rank's logits are its own partial computation: the same bytes, the same bits.
            #expect(try TensorParallelNumericsTests.logits(fromPackage, ids: prompt, rows: rows, reducer: nil)
                    == TensorParallelNumericsTests.logits(fromFile, ids: prompt, rows: rows, reducer: nil))
            // The package of one rank is refused as another's.
            let other = ModelShard(layers: 0..<tiny.layers, holdsEmbedding: true, holdsHead: true, tensorRank: 1 - rank, tensorCount: 2)
            #expect(throws: ModelError.self) { try ModelRegistry.load(packaged, pool: ComputePool(threadCount: 1), shard: other) }
        }
    }

    /// Qwen2's q/k/v biases are cut with their projections' rows, and a rank computes from its package exactly
    /// what it computes from the whole file.
    @Test func aRanksPackageCutsBiasesWithTheirRows() throws {
        let file = try GGUFFile(path: Fixtures.url("architectures/qwen2/model-Q8_0.gguf").path)
        let prompt: [Int32] = [5, 17, 99, 230, 31, 8, 77]
        let layers = try ModelRegistry.describe(file).config.layerCount
        for rank in 0..<2 {
            let shard = ModelShard(layers: 0..<layers, holdsEmbedding: true, holdsHead: true, tensorRank: rank, tensorCount: 2)
            let packaged = try GGUFFile(bytes: try Self.bytes(try ShardPackage(file: file, shard: shard)))
            let bias = try #require(packaged.tensor(named: "blk.0.attn_q.bias"))
            #expect(bias.dimensions == [128], "rank \(rank): half of the 4 query heads of 64")
            let fromPackage = try ModelRegistry.load(packaged, pool: ComputePool(threadCount: 1), shard: shard)
            let fromFile = try ModelRegistry.load(file, pool: ComputePool(threadCount: 1), shard: shard)
            let rows = Array(0..<prompt.count)
            #expect(try TensorParallelNumericsTests.logits(fromPackage, ids: prompt, rows: rows, reducer: nil)
                    == TensorParallelNumericsTests.logits(fromFile, ids: prompt, rows: rows, reducer: nil))
        }
    }

    @Test func aStagesPackageHoldsItsLayersWhole() throws {
        let tiny = TinyModel()
        let file = try GGUFFile(bytes: try tiny.serialized())
        let shard = ModelShard(layers: 1..<2, holdsEmbedding: false, holdsHead: true)
        let packaged = try GGUFFile(bytes: try Self.bytes(try ShardPackage(file: file, shard: shard)))
        #expect(packaged.tensor(named: "blk.0.attn_q.weight") == nil)
        #expect(packaged.tensor(named: "blk.1.attn_q.weight")?.dimensions == file.tensor(named: "blk.1.attn_q.weight")?.dimensions)
        #expect(!packaged.metadataKeys.contains { $0.hasPrefix("shoal.cut.") })
        _ = try ModelRegistry.load(packaged, pool: ComputePool(threadCount: 1), shard: shard)
    }
}
