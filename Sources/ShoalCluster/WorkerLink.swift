import Foundation
public import ShoalModels

/// The leader's end of the link to one worker: connects, proves the key, has the worker load its shard and
/// allocate its cache, then carries `forward` requests. After a failure it can be re-formed (`connect()` again),
/// after which the worker's KV cache is empty.
public final class WorkerLink: @unchecked Sendable {  // used by one executor thread at a time
    /// Where the worker listens now (a restarted local worker may come back on another port).
    public let endpoint: @Sendable () -> (host: String, port: Int)?
    public let key: String
    public let request: WorkerProtocol.LoadRequest
    /// How long the handshake, load and each step may take.
    public let timeout: Duration
    /// Where the share comes from for a worker without a copy of the model (nil: such a worker is refused).
    public let shards: ShardSource?
    private var connection: FrameConnection?
    private var cacheShape: (blocks: Int, blockSize: Int)?
    /// The worker's answer to `load`, once connected.
    public private(set) var reply: WorkerProtocol.LoadReply?
    /// Seconds the worker reported computing in the last `forward`.
    public private(set) var lastComputeSeconds = 0.0

    public init(endpoint: @escaping @Sendable () -> (host: String, port: Int)?, key: String,
                request: WorkerProtocol.LoadRequest, timeout: Duration, shards: ShardSource? = nil) {
        self.endpoint = endpoint
        self.key = key
        self.request = request
        self.timeout = timeout
        self.shards = shards
    }

    /// "rank/stage description (host:port)".
    public var name: String {
        let address = endpoint().map { "\($0.host):\($0.port)" } ?? "not listening"
        return "worker \(address) (\(request.shard))"
    }

    public var isConnected: Bool { connection != nil }

    /// Connects, authenticates, loads the shard and, when a cache shape is known, allocates the cache.
    /// - Throws: `ClusterError` naming the worker and what failed.
    public func connect() throws {
        close()
        guard let (host, port) = endpoint() else {
            throw ClusterError(.connectionFailed, "\(name): the worker is not listening")
        }
        let deadline = ContinuousClock.now + timeout
        let connection = try FrameConnection.connect(host: host, port: port, timeout: min(timeout, .seconds(5)))
        do {
            try LinkAuthentication.authenticateAsClient(connection, key: key, version: WorkerProtocol.version, deadline: deadline)
            // Loading a shard (hashing the file, repacking) may take longer than one step.
            try connection.send(Frame(kind: WorkerProtocol.Kind.load.rawValue, payload: request.encode()))
            var loaded = try receive(connection, expect: nil, deadline: deadline + .seconds(120))
            if loaded.kind == WorkerProtocol.Kind.needShard.rawValue {
                try sendShard(on: connection, because: String(decoding: loaded.payload, as: UTF8.self))
                loaded = try receive(connection, expect: .loaded, deadline: .now + .seconds(120))
            }
            guard loaded.kind == WorkerProtocol.Kind.loaded.rawValue else {
                throw ClusterError(.protocolViolation, "\(name): expected loaded, got message kind \(loaded.kind)")
            }
            reply = try WorkerProtocol.LoadReply.decode(loaded.payload)
            self.connection = connection
            if let cacheShape { try allocateCache(blockCount: cacheShape.blocks, blockSize: cacheShape.blockSize) }
        } catch {
            connection.close()
            self.connection = nil
            throw error
        }
    }

    /// Streams the worker its share of the model (it has no copy): the package's bytes, then their count and hash.
    private func sendShard(on connection: FrameConnection, because reason: String) throws {
        guard let shards else {
            throw ClusterError(.connectionFailed, "\(name): \(reason), and this leader does not send shares")
        }
        let (package, sha) = try shards.package(for: request.shard)
        try package.forEachPiece { piece in
            try connection.send(kind: WorkerProtocol.Kind.shardData.rawValue, [piece])
        }
        var w = PayloadWriter()
        w.writeUInt64(UInt64(package.byteCount))
        w.writeString(sha)
        try connection.send(Frame(kind: WorkerProtocol.Kind.shardEnd.rawValue, payload: w.bytes))
    }

    /// Has the worker allocate `blockCount` blocks (remembered for re-forming).
    public func allocateCache(blockCount: Int, blockSize: Int) throws {
        cacheShape = (blockCount, blockSize)
        guard let connection else { throw ClusterError(.closed, "\(name): not connected") }
        var w = PayloadWriter()
        w.writeUInt32(UInt32(blockCount))
        w.writeUInt32(UInt32(blockSize))
        _ = try call(connection, .allocateCache, w.bytes, expect: .cacheReady, deadline: .now + timeout)
    }

    /// Sends a `forward` of `batch` with `hidden` (tokens x hidden floats; empty for a rank that embeds itself).
    public func sendForward(_ batch: ForwardBatch, hidden: UnsafeBufferPointer<Float>) throws {
        var w = PayloadWriter()
        WorkerProtocol.encode(batch, into: &w)
        w.writeUInt32(UInt32(hidden.count))
        try w.bytes.withUnsafeBytes { header in
            try connected().send(kind: WorkerProtocol.Kind.forward.rawValue, [header, UnsafeRawBufferPointer(hidden)])
        }
    }

    /// Receives the next frame, which must be of `kind` (an error frame throws the worker's message).
    func receiveFrame(expect kind: WorkerProtocol.Kind) throws -> Frame {
        try receive(try connected(), expect: kind, deadline: .now + timeout)
    }

    /// Receives a tensor-parallel rank's partial sums into `output` (exactly `count` floats).
    public func receivePartialSum(into output: UnsafeMutablePointer<Float>, count: Int) throws {
        try partialSumFloats(try receiveFrame(expect: .partialSum), into: output, count: count)
    }

    /// Receives the next frame, a rank's `partialSum` or its `forwarded` reply, for a leader relaying the
    /// all-reduce of ranks it is not one of.
    func receivePartialSumOrForwarded() throws -> Frame {
        let frame = try receive(try connected(), expect: nil, deadline: .now + timeout)
        guard frame.kind == WorkerProtocol.Kind.partialSum.rawValue || frame.kind == WorkerProtocol.Kind.forwarded.rawValue else {
            throw ClusterError(.protocolViolation, "\(name): expected partial sums or a forward reply, got message kind \(frame.kind)")
        }
        return frame
    }

    /// The floats of a `forwarded` frame already received (see `receivePartialSumOrForwarded`), into `output`.
    func forwardedFloats(_ frame: Frame, into output: UnsafeMutablePointer<Float>, capacity: Int) throws -> Int {
        var r = PayloadReader(frame)
        lastComputeSeconds = try r.readDouble()
        return try WorkerProtocol.readFloats(&r, into: output, capacity: capacity, from: name)
    }

    /// The floats of a `partialSum` frame already received, into `output` (exactly `count`).
    func partialSumFloats(_ frame: Frame, into output: UnsafeMutablePointer<Float>, count: Int) throws {
        var r = PayloadReader(frame)
        let got = try WorkerProtocol.readFloats(&r, into: output, capacity: count, from: name)
        guard got == count else { throw ClusterError(.protocolViolation, "\(name): \(got) partial sums, expected \(count)") }
    }

    /// Sends the all-reduced sums back to a tensor-parallel rank.
    public func sendReducedSum(_ values: UnsafeBufferPointer<Float>) throws {
        try WorkerProtocol.sendFloats(values, kind: .reducedSum, on: connected())
    }

    /// Offers the worker a shared-memory segment for the all-reduce (an empty path withdraws the offer).
    /// - Returns: nil when the worker attached, else its reason (it then exchanges sums over the link).
    func offerShared(_ offer: WorkerProtocol.AttachShared) throws -> String? {
        let frame = try call(try connected(), .attachShared, offer.encode(), expect: .sharedAttached, deadline: .now + timeout)
        var r = PayloadReader(frame.payload)
        let attached = try r.readUInt8() != 0
        let reason = try r.readString()
        return attached ? nil : reason
    }

    /// Whether the worker has sent something (an error, a reply, or the link's close); never blocks or consumes it.
    var hasPendingInput: Bool { connection?.hasPendingInput() ?? true }

    /// The error the worker sent or the link's close, when it has sent something in the middle of a step.
    func pendingError() -> (any Error)? {
        guard let connection, connection.hasPendingInput() else { return nil }
        do {
            let frame = try receive(connection, expect: .forwarded, deadline: .now + .milliseconds(100))
            return ClusterError(.protocolViolation, "\(name): an early reply (message kind \(frame.kind)) during an all-reduce")
        } catch {
            return error
        }
    }

    private func connected() throws -> FrameConnection {
        guard let connection else { throw ClusterError(.closed, "\(name): not connected") }
        return connection
    }

    /// Drops the connection (the worker then drops its KV cache; it keeps the shard for a reconnect).
    public func close() {
        connection?.close()
        connection = nil
    }

    private func call(_ connection: FrameConnection, _ kind: WorkerProtocol.Kind, _ payload: [UInt8],
                      expect: WorkerProtocol.Kind, deadline: ContinuousClock.Instant) throws -> Frame {
        try connection.send(Frame(kind: kind.rawValue, payload: payload))
        return try receive(connection, expect: expect, deadline: deadline)
    }

    private func receive(_ connection: FrameConnection, expect: WorkerProtocol.Kind?, deadline: ContinuousClock.Instant) throws -> Frame {
        let frame: Frame
        do {
            frame = try connection.receive(deadline: deadline)
        } catch let error as ClusterError {
            throw ClusterError(error.code, "\(name): \(error.message)")
        }
        if let expect, frame.kind != expect.rawValue {
            throw ClusterError(.protocolViolation, "\(name): expected \(expect), got message kind \(frame.kind)")
        }
        return frame
    }
}
