public import ShoalKernels
public import ShoalModels

/// The messages between a leader (`shoal serve`, `generate` or `bench` with model parallelism) and a
/// `shoal worker`, after `LinkAuthentication`'s handshake. Every request gets exactly one reply frame (or an error
/// frame with a one-line reason); all numbers are little-endian.
///
///     load           leader -> worker  model sha256 | model bytes | path hint | precision | shard
///     loaded         worker -> leader  layer count | hidden size | vocabulary | logits width | KV bytes per token | weight bytes
///     allocateCache  leader -> worker  block count | block size
///     cacheReady     worker -> leader  (empty)
///     forward        leader -> worker  tokens | positions | sequences (start, count, block table) | logit rows | hidden
///     forwarded      worker -> leader  compute seconds | hidden (a middle stage) or logits rows (the last stage)
///     partialSum     worker -> leader  a tensor-parallel rank's partial sums (after attention output, after down)
///     reducedSum     leader -> worker  the sums over all ranks, added in rank order
///     attachShared   leader -> worker  segment path | nonce (16 bytes) | ranks | slot floats
///     sharedAttached worker -> leader  1 and an empty reason, or 0 and why not (the sums then go over the link)
///     needShard      worker -> leader  (instead of `loaded`) why it has no copy of the model: send the share
///     shardData      leader -> worker  the next bytes of the share's GGUF file (`ShardPackage`)
///     shardEnd       leader -> worker  its byte count | its sha256; the worker checks both, keeps the file, loads
///                                      it and answers `loaded`
public enum WorkerProtocol {
    /// Bumped on any change to the messages; a worker of another version is refused in the handshake.
    public static let version: UInt32 = 3

    /// Frame kinds of the messages.
    public enum Kind: UInt16, Sendable {
        case load = 1
        case loaded = 2
        case allocateCache = 3
        case cacheReady = 4
        case forward = 5
        case forwarded = 6
        case partialSum = 7
        case reducedSum = 8
        case attachShared = 9
        case sharedAttached = 10
        case needShard = 11
        case shardData = 12
        case shardEnd = 13
    }

    /// The leader's offer of a shared-memory segment for the tensor-parallel all-reduce (see `SharedReduction`).
    struct AttachShared: Equatable {
        var path: String
        var nonce: [UInt8]
        var ranks: Int
        var slotFloats: Int

        func encode() -> [UInt8] {
            var w = PayloadWriter()
            w.writeString(path)
            for byte in nonce { w.writeUInt8(byte) }
            w.writeUInt32(UInt32(ranks))
            w.writeUInt32(UInt32(slotFloats))
            return w.bytes
        }

        static func decode(_ payload: [UInt8]) throws -> AttachShared {
            var r = PayloadReader(payload)
            let path = try r.readString()
            var nonce: [UInt8] = []
            for _ in 0..<16 { nonce.append(try r.readUInt8()) }
            let ranks = Int(try r.readUInt32()), slotFloats = Int(try r.readUInt32())
            guard (2...64).contains(ranks), (1...(1 << 24)).contains(slotFloats) else {
                throw ClusterError(.protocolViolation, "attachShared: \(ranks) ranks of \(slotFloats)-float slots")
            }
            return AttachShared(path: path, nonce: nonce, ranks: ranks, slotFloats: slotFloats)
        }
    }

    /// Sends `values` as a u32 count and raw little-endian floats, in one frame of `kind`.
    static func sendFloats(_ values: UnsafeBufferPointer<Float>, kind: Kind, on connection: FrameConnection) throws {
        var count = UInt32(values.count).littleEndian
        try withUnsafeBytes(of: &count) { header in
            try connection.send(kind: kind.rawValue, [header, UnsafeRawBufferPointer(values)])
        }
    }

    /// Reads a u32 count and that many floats straight into `output` (no intermediate array).
    static func readFloats(_ r: inout PayloadReader, into output: UnsafeMutablePointer<Float>, capacity: Int, from peer: String) throws -> Int {
        let count = Int(try r.readUInt32())
        guard count <= capacity, r.remaining == count * 4 else {
            throw ClusterError(.protocolViolation, "\(peer): a reply of \(r.remaining) bytes for \(count) floats (room for \(capacity))")
        }
        r.bytes.withUnsafeBytes { bytes in
            UnsafeMutableRawPointer(output).copyMemory(from: bytes.baseAddress! + r.offset, byteCount: count * 4)
        }
        return count
    }

    /// What the leader asks a worker to hold.
    public struct LoadRequest: Sendable, Equatable {
        /// Lowercase hex SHA-256 of the model file: the worker must hold the same bytes.
        public var modelSHA256: String
        /// Size of the model file: candidates of another size are not hashed.
        public var modelBytes: Int
        /// Where the leader's copy is (used when the worker shares the leader's file system).
        public var pathHint: String
        public var precision: String
        public var shard: ModelShard
        /// How the worker's KV cache stores keys and values (a ``KVCacheType`` raw value).
        public var cacheType: String

        public init(modelSHA256: String, modelBytes: Int, pathHint: String, precision: String, shard: ModelShard,
                    cacheType: String = KVCacheType.f32.rawValue) {
            self.modelSHA256 = modelSHA256
            self.modelBytes = modelBytes
            self.pathHint = pathHint
            self.precision = precision
            self.shard = shard
            self.cacheType = cacheType
        }

        func encode() -> [UInt8] {
            var w = PayloadWriter()
            w.writeString(modelSHA256)
            w.writeUInt64(UInt64(modelBytes))
            w.writeString(pathHint)
            w.writeString(precision)
            w.writeUInt32(UInt32(shard.layers.lowerBound))
            w.writeUInt32(UInt32(shard.layers.upperBound))
            w.writeUInt8(shard.holdsEmbedding ? 1 : 0)
            w.writeUInt8(shard.holdsHead ? 1 : 0)
            w.writeUInt32(UInt32(shard.tensorRank))
            w.writeUInt32(UInt32(shard.tensorCount))
            w.writeString(cacheType)
            return w.bytes
        }

        static func decode(_ payload: [UInt8]) throws -> LoadRequest {
            var r = PayloadReader(payload)
            let sha = try r.readString()
            let bytes = Int(clamping: try r.readUInt64())
            let path = try r.readString(), precision = try r.readString()
            let lo = Int(try r.readUInt32()), hi = Int(try r.readUInt32())
            let embedding = try r.readUInt8() != 0, head = try r.readUInt8() != 0
            let rank = Int(try r.readUInt32()), ranks = Int(try r.readUInt32())
            let cacheType = try r.readString()
            guard lo <= hi else { throw ClusterError(.protocolViolation, "load: layer range \(lo)..<\(hi) is reversed") }
            return LoadRequest(modelSHA256: sha, modelBytes: bytes, pathHint: path, precision: precision,
                               shard: ModelShard(layers: lo..<hi, holdsEmbedding: embedding, holdsHead: head,
                                                 tensorRank: rank, tensorCount: ranks),
                               cacheType: cacheType)
        }
    }

    /// What a worker reports once its shard is bound.
    public struct LoadReply: Sendable, Equatable {
        public var layerCount: Int
        public var hiddenSize: Int
        public var vocabularySize: Int
        /// Floats per logits row the worker returns (its share of the vocabulary).
        public var logitsWidth: Int
        /// KV-cache bytes per token of this shard.
        public var cacheBytesPerToken: Int
        /// Bytes of weights the shard holds.
        public var weightBytes: Int

        func encode() -> [UInt8] {
            var w = PayloadWriter()
            for value in [layerCount, hiddenSize, vocabularySize, logitsWidth, cacheBytesPerToken, weightBytes] {
                w.writeUInt64(UInt64(value))
            }
            return w.bytes
        }

        static func decode(_ payload: [UInt8]) throws -> LoadReply {
            var r = PayloadReader(payload)
            var values: [Int] = []
            for _ in 0..<6 { values.append(Int(clamping: try r.readUInt64())) }
            return LoadReply(layerCount: values[0], hiddenSize: values[1], vocabularySize: values[2],
                             logitsWidth: values[3], cacheBytesPerToken: values[4], weightBytes: values[5])
        }
    }

    /// The batch part of a `forward` message (the hidden states follow as a float array).
    static func encode(_ batch: ForwardBatch, into w: inout PayloadWriter) {
        w.writeInt32s(batch.tokens)
        w.writeInt32s(batch.positions)
        w.writeUInt32(UInt32(batch.sequences.count))
        for sequence in batch.sequences {
            w.writeUInt32(UInt32(sequence.start))
            w.writeUInt32(UInt32(sequence.count))
            w.writeInt32s(sequence.blockTable)
        }
        w.writeInt32s(batch.logitRows.map { Int32($0) })
    }

    static func decodeBatch(_ r: inout PayloadReader) throws -> ForwardBatch {
        let tokens = try r.readInt32s()
        let positions = try r.readInt32s()
        let count = Int(try r.readUInt32())
        guard count <= tokens.count else { throw ClusterError(.protocolViolation, "forward: \(count) sequences for \(tokens.count) tokens") }
        var sequences: [ForwardBatch.Sequence] = []
        for _ in 0..<count {
            let start = Int(try r.readUInt32()), length = Int(try r.readUInt32())
            sequences.append(.init(start: start, count: length, blockTable: try r.readInt32s()))
        }
        let rows = try r.readInt32s().map { Int($0) }
        return ForwardBatch(tokens: tokens, positions: positions, sequences: sequences, logitRows: rows)
    }
}
