import Foundation
import ShoalEngine
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalStore
import Synchronization

/// `shoal worker`: holds one share of a model for a leader and computes it on request.
///
/// It starts empty. A leader connects, proves the link key, and sends `load` (the model's SHA-256 and the shard);
/// the worker binds only that shard's tensors from its own copy of the file (the leader's path when it shares the
/// file system, else a file with the same hash in its model store), then answers `forward` requests until the
/// leader goes away. One leader at a time: a new one (a restarted leader re-forming its group) replaces the old.
/// The bound share outlives the link (only the KV cache goes): a leader that reconnects asking for the same share
/// finds it ready.
public final class WorkerServer: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var threads: Int
        public var key: String
        /// Folders searched for a model file with the leader's hash when its path is not readable here.
        public var modelFolders: [String]
        /// Where shares received from leaders are kept (nil: the first model folder's `shards`; without model
        /// folders this worker asks for no share).
        public var shardFolder: String?
        /// Whether to read the leader's path when it is readable here (a shared file system).
        public var useLeaderPath: Bool

        public init(host: String = "127.0.0.1", port: Int = 0, threads: Int = 1, key: String = "", modelFolders: [String] = [],
                    shardFolder: String? = nil, useLeaderPath: Bool = true) {
            self.host = host
            self.port = port
            self.threads = threads
            self.key = key
            self.modelFolders = modelFolders
            self.shardFolder = shardFolder
            self.useLeaderPath = useLeaderPath
        }

        /// The folder received shares go to, if any.
        var shards: String? { shardFolder ?? modelFolders.first.map { $0 + "/shards" } }
    }

    public let configuration: Configuration
    private let listener: FrameListener
    private let pool: ComputePool
    private let log: @Sendable (String) -> Void
    private let current = Mutex<FrameConnection?>(nil)
    /// Hashes of files already checked, by path, size and modification time.
    private let hashes = Mutex<[String: String]>([:])
    /// The share bound for the last leader, kept when its link drops: a group that re-forms (after this or another
    /// worker's failure, on every retry) finds it bound and does not reload it.
    private let held = Mutex<Held?>(nil)

    private struct Held: @unchecked Sendable {  // the model is used by one session at a time
        var request: WorkerProtocol.LoadRequest
        var path: String
        var file: GGUFFile
        var model: DecoderModel
    }

    /// The port it listens on (the kernel's pick when configured with 0).
    public var port: Int { listener.port }

    /// Binds the listening socket.
    /// - Throws: `ClusterError(.connectionFailed)` when the address cannot be bound.
    public init(configuration: Configuration, log: @escaping @Sendable (String) -> Void) throws {
        self.configuration = configuration
        listener = try FrameListener(host: configuration.host, port: configuration.port)
        pool = ComputePool(threadCount: configuration.threads)
        self.log = log
    }

    /// Accepts leaders until `stop()`; each one is served on a thread of its own.
    public func run() {
        while true {
            let connection: FrameConnection
            do {
                connection = try listener.accept()
            } catch {
                return
            }
            let thread = Thread { [self] in serve(connection) }
            thread.name = "shoal-worker-link"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Stops accepting and drops the current leader.
    public func stop() {
        listener.close()
        current.withLock { $0?.close() }
    }

    private func serve(_ connection: FrameConnection) {
        do {
            try LinkAuthentication.authenticateAsServer(connection, key: configuration.key, version: WorkerProtocol.version,
                                                        deadline: .now + .seconds(10))
        } catch {
            log("refused \(connection.remoteDescription): \(error)")
            connection.close()
            return
        }
        let previous = current.withLock { current -> FrameConnection? in
            defer { current = connection }
            return current
        }
        if let previous {
            log("a new leader replaces \(previous.remoteDescription)")
            previous.close()
        }
        log("leader \(connection.remoteDescription) connected")
        var session = Session()
        let inbox = FrameInbox.reading(connection)
        do {
            while true {
                let frame = try inbox.next(deadline: nil)
                do {
                    try handle(frame, session: &session, connection: connection, inbox: inbox)
                } catch let error as ClusterError {
                    throw error
                } catch {
                    // A request the worker cannot carry out: say why and keep the link.
                    connection.sendError("\(error)")
                }
            }
        } catch {
            log("leader \(connection.remoteDescription) gone: \(error)")
        }
        connection.close()
        current.withLock { if $0 === connection { $0 = nil } }
    }

    private struct Session {
        var file: GGUFFile?
        var model: DecoderModel?
        var cache: PagedKVCache?
        var cacheType = KVCacheType.f32
        var hidden: [Float] = []
        var output: [Float] = []
        /// The leader's shared-memory segment for the all-reduce, when this worker shares its host.
        var shared: SharedReduction?
    }

    private func handle(_ frame: Frame, session: inout Session, connection: FrameConnection, inbox: FrameInbox) throws {
        guard let kind = WorkerProtocol.Kind(rawValue: frame.kind) else {
            throw ClusterError(.protocolViolation, "unknown message kind \(frame.kind)")
        }
        switch kind {
        case .load:
            let request = try WorkerProtocol.LoadRequest.decode(frame.payload)
            session = Session()
            guard let cacheType = KVCacheType(rawValue: request.cacheType) else {
                throw ClusterError(.protocolViolation, "unknown KV cache type '\(request.cacheType)'")
            }
            session.cacheType = cacheType
            let file: GGUFFile, model: DecoderModel, path: String
            if let kept = held.withLock({ $0 }), kept.request == request {
                (file, model, path) = (kept.file, kept.model, kept.path)
                log("still holding \(request.shard) of \(path)")
            } else {
                held.withLock { $0 = nil }
                do {
                    path = try locate(request)
                } catch let missing as ClusterError {
                    // No copy of the model here: use or ask for just this share.
                    guard let shards = configuration.shards else { throw missing }
                    path = try receiveShard(request, into: shards, because: missing.message, connection: connection, inbox: inbox)
                }
                guard let precision = MatmulPrecision(rawValue: request.precision) else {
                    throw ClusterError(.protocolViolation, "unknown precision '\(request.precision)'")
                }
                file = try GGUFFile(path: path, residency: .mapped)
                model = try ModelRegistry.load(file, pool: pool, precision: precision, shard: request.shard)
                held.withLock { $0 = Held(request: request, path: path, file: file, model: model) }
                log("holding \(request.shard) of \(path) (\(model.weightBytes / 1_000_000) MB of weights)")
            }
            session.file = file
            session.model = model
            let reply = WorkerProtocol.LoadReply(
                layerCount: model.config.layerCount, hiddenSize: model.config.hiddenSize,
                vocabularySize: model.config.vocabularySize, logitsWidth: model.logitsWidth,
                cacheBytesPerToken: PagedKVCache.bytesPerToken(layerCount: request.shard.layers.count, kvWidth: model.cacheKVWidth,
                                                               type: cacheType),
                weightBytes: model.weightBytes)
            try connection.send(Frame(kind: WorkerProtocol.Kind.loaded.rawValue, payload: reply.encode()))
        case .allocateCache:
            guard let model = session.model else { throw ClusterError(.protocolViolation, "allocateCache before load") }
            var r = PayloadReader(frame.payload)
            let blocks = Int(try r.readUInt32()), blockSize = Int(try r.readUInt32())
            session.cache = nil
            session.cache = try PagedKVCache(layers: model.shard.layers, kvWidth: model.cacheKVWidth,
                                             blockCount: blocks, blockSize: blockSize, type: session.cacheType)
            try connection.send(Frame(kind: WorkerProtocol.Kind.cacheReady.rawValue))
        case .forward:
            guard let model = session.model, let cache = session.cache else {
                throw ClusterError(.protocolViolation, "forward before load and allocateCache")
            }
            var r = PayloadReader(frame.payload)
            let batch = try WorkerProtocol.decodeBatch(&r)
            session.hidden = try r.readFloats()
            let h = model.config.hiddenSize
            try model.validate(batch, cache: cache)
            let embedsItself = session.hidden.isEmpty && model.shard.holdsEmbedding
            if embedsItself { session.hidden = [Float](repeating: 0, count: batch.tokens.count * h) }
            guard session.hidden.count == batch.tokens.count * h else {
                throw ModelError(.invalidBatch, "forward: \(session.hidden.count) hidden floats for \(batch.tokens.count) tokens of \(h)")
            }
            let clock = ContinuousClock()
            let start = clock.now
            // The last stage returns its logits share; a middle stage's rank 0 the hidden states (its other ranks
            // hold the same numbers after the last all-reduce, and return nothing).
            let width = model.shard.holdsHead ? batch.logitRows.count * model.logitsWidth
                : model.shard.tensorRank == 0 ? batch.tokens.count * h : 0
            if session.output.count < width { session.output = [Float](repeating: 0, count: width) }
            // A tensor-parallel rank sums its partial results with the other ranks': through shared memory on the
            // leader's host (giving up when the leader goes away), else through the leader over the link.
            var reducer: (any PartialSumReducer)?
            var waited: () -> Double = { 0 }
            if model.shard.tensorCount > 1, let shared = session.shared {
                shared.resetWaited()
                reducer = SharedSumReducer(segment: shared) {
                    if inbox.isClosed { throw ClusterError(.closed, "the leader went away during an all-reduce") }
                }
                waited = { shared.waitedSeconds }
            } else if model.shard.tensorCount > 1 {
                let linkReducer = LeaderLinkReducer(connection: connection, inbox: inbox)
                reducer = linkReducer
                waited = { linkReducer.waitedSeconds }
            }
            try session.hidden.withUnsafeMutableBufferPointer { hidden in
                if embedsItself { model.embed(batch, into: hidden.baseAddress!) }
                try model.forward(batch, layers: model.shard.layers, hidden: hidden.baseAddress!, cache: cache, reducer: reducer)
                if model.shard.holdsHead {
                    session.output.withUnsafeMutableBufferPointer { model.head(batch, hidden: hidden.baseAddress!, logits: $0.baseAddress!) }
                }
            }
            // Compute time excludes the waits for the other ranks' sums.
            let seconds = (clock.now - start).seconds - waited()
            var w = PayloadWriter()
            w.writeDouble(seconds)
            w.writeUInt32(UInt32(width))
            let body = model.shard.holdsHead ? session.output : session.hidden
            try body.withUnsafeBytes { bytes in
                try w.bytes.withUnsafeBytes { header in
                    try connection.send(kind: WorkerProtocol.Kind.forwarded.rawValue,
                                        [header, UnsafeRawBufferPointer(rebasing: bytes[0..<(width * 4)])])
                }
            }
        case .attachShared:
            guard let model = session.model, model.shard.tensorCount > 1 else {
                throw ClusterError(.protocolViolation, "attachShared before loading a tensor-parallel shard")
            }
            let offer = try WorkerProtocol.AttachShared.decode(frame.payload)
            session.shared = nil
            var reason = "withdrawn"
            if !offer.path.isEmpty {
                do {
                    guard offer.ranks == model.shard.tensorCount else {
                        throw ClusterError(.protocolViolation, "a segment for \(offer.ranks) ranks, this shard is one of \(model.shard.tensorCount)")
                    }
                    session.shared = try SharedReduction.attach(path: offer.path, nonce: offer.nonce, rank: model.shard.tensorRank,
                                                                ranks: offer.ranks, slotFloats: offer.slotFloats)
                    reason = ""
                    log("all-reduce through shared memory (\(offer.path))")
                } catch {
                    reason = "\(error)"
                }
            }
            var w = PayloadWriter()
            w.writeUInt8(session.shared == nil ? 0 : 1)
            w.writeString(reason)
            try connection.send(Frame(kind: WorkerProtocol.Kind.sharedAttached.rawValue, payload: w.bytes))
        case .loaded, .cacheReady, .forwarded, .partialSum, .reducedSum, .sharedAttached, .needShard, .shardData, .shardEnd:
            throw ClusterError(.protocolViolation, "unexpected \(kind) from the leader")
        }
    }

    /// The share's file kept from an earlier leader, else one received now: answers `needShard`, writes the
    /// `shardData` that follow to a temporary file, and keeps it once its size and SHA-256 match `shardEnd`'s.
    private func receiveShard(_ request: WorkerProtocol.LoadRequest, into folder: String, because reason: String,
                              connection: FrameConnection, inbox: FrameInbox) throws -> String {
        let path = folder + "/" + ShardPackage.fileName(modelSHA256: request.modelSHA256, shard: request.shard)
        if FileManager.default.fileExists(atPath: path) {
            log("using the share received earlier: \(path)")
            return path
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let partial = path + ".partial-\(getpid())"
        guard FileManager.default.createFile(atPath: partial, contents: nil), let handle = FileHandle(forWritingAtPath: partial) else {
            throw ClusterError(.connectionFailed, "cannot create \(partial)")
        }
        var kept = false
        defer {
            try? handle.close()
            if !kept { try? FileManager.default.removeItem(atPath: partial) }
        }
        log("no copy of the model here (\(reason)); receiving \(request.shard) from the leader")
        try connection.send(Frame(kind: WorkerProtocol.Kind.needShard.rawValue, payload: Array(reason.utf8.prefix(1000))))
        var hasher = SHA256()
        var received = 0
        while true {
            let frame = try inbox.next(deadline: .now + .seconds(600))
            switch WorkerProtocol.Kind(rawValue: frame.kind) {
            case .shardData:
                frame.payload.withUnsafeBytes { hasher.update($0) }
                try handle.write(contentsOf: frame.payload)
                received += frame.payload.count
            case .shardEnd:
                var r = PayloadReader(frame.payload)
                let total = Int(clamping: try r.readUInt64()), sha = try r.readString()
                let got = SHA256.hexString(hasher.finalize())
                guard received == total, got == sha else {
                    throw ClusterError(.protocolViolation, "the share arrived as \(received) bytes with sha256 \(got.prefix(12))…, not \(total) with \(sha.prefix(12))…")
                }
                try handle.synchronize()
                try FileManager.default.moveItem(atPath: partial, toPath: path)
                kept = true
                log("received \(request.shard): \(received / 1_000_000) MB, kept as \(path)")
                return path
            default:
                throw ClusterError(.protocolViolation, "expected the share's data, got message kind \(frame.kind)")
            }
        }
    }

    /// A readable file with the leader's hash: its own path, else one in the model folders.
    private func locate(_ request: WorkerProtocol.LoadRequest) throws -> String {
        var candidates = configuration.useLeaderPath ? [request.pathHint] : []
        for folder in configuration.modelFolders {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            candidates += names.filter { $0.hasSuffix(".gguf") }.sorted().map { folder + "/" + $0 }
        }
        var seen: [String] = []
        for path in candidates where FileManager.default.isReadableFile(atPath: path) {
            // Only a file of the right size can have the right hash.
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
            guard size == request.modelBytes else {
                seen.append("\(path) (\(size.map { "\($0)" } ?? "?") bytes, not \(request.modelBytes))")
                continue
            }
            let hash = try sha256(path)
            if hash == request.modelSHA256 { return path }
            seen.append("\(path) (sha256 \(hash.prefix(12))…)")
        }
        throw ClusterError(.protocolViolation,
            "this worker has no model file with sha256 \(request.modelSHA256)" + (seen.isEmpty ? "" : "; it has \(seen.joined(separator: ", "))"))
    }

    private func sha256(_ path: String) throws -> String {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let key = "\(path)|\(attributes[.size] ?? 0)|\((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        if let known = hashes.withLock({ $0[key] }) { return known }
        let hash = try ModelStore().sha256(ofFile: path)
        hashes.withLock { $0[key] = hash }
        return hash
    }
}

/// A tensor-parallel worker's all-reduce: its partial sums go to the leader, which answers with the sums over all
/// ranks (added in rank order there, so every rank gets the same numbers).
final class LeaderLinkReducer: PartialSumReducer {
    let connection: FrameConnection
    let inbox: FrameInbox
    /// Seconds spent waiting for the leader's sums (the other ranks' compute and the network).
    private(set) var waitedSeconds = 0.0

    init(connection: FrameConnection, inbox: FrameInbox) {
        self.connection = connection
        self.inbox = inbox
    }

    func allReduce(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
        let clock = ContinuousClock()
        let start = clock.now
        try WorkerProtocol.sendFloats(UnsafeBufferPointer(start: values, count: count), kind: .partialSum, on: connection)
        // The leader's own step deadline bounds this wait: when it gives up it drops the link, which ends it.
        // The leader may already have sent the next step's batch: it waits in the inbox behind these sums.
        let frame = try inbox.next(kind: WorkerProtocol.Kind.reducedSum.rawValue, deadline: .now + .seconds(600))
        guard frame.kind == WorkerProtocol.Kind.reducedSum.rawValue else {
            throw ClusterError(.protocolViolation, "expected reduced sums, got message kind \(frame.kind)")
        }
        var r = PayloadReader(frame)
        let got = try WorkerProtocol.readFloats(&r, into: values, capacity: count, from: "the leader")
        guard got == count else { throw ClusterError(.protocolViolation, "\(got) reduced sums, expected \(count)") }
        waitedSeconds += (clock.now - start).seconds
    }
}
