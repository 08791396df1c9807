/// The handshake that opens every worker link: both sides prove they hold the shared link key (HMAC-SHA256 over
/// two fresh nonces), and the client checks that the worker speaks its protocol version.
///
/// It runs right after connect and accept, before any other frame, so a peer without the key is dropped before
/// it can send a tensor. The frames, all with kinds reserved for the transport:
///
///     server -> client  hello  0xFF01  version (u32 LE) | server nonce (32 bytes)
///     client -> server  proof  0xFF02  client nonce (32 bytes) | HMAC(key, "client" | server nonce | client nonce)
///     server -> client  accept 0xFF03  HMAC(key, "server" | server nonce | client nonce)
///
/// A side that refuses the other sends an error frame (`Frame.errorKind`) with a one-line reason and closes the
/// connection. The labels keep a proof from being reflected back; the nonces keep one from being replayed.
/// An empty key is allowed (and still exchanged), for links that only need the version check.
public enum LinkAuthentication {
    static let helloKind: UInt16 = 0xFF01
    static let proofKind: UInt16 = 0xFF02
    static let acceptKind: UInt16 = 0xFF03
    static let nonceCount = 32

    /// Runs the worker's side of the handshake on a connection just accepted.
    ///
    /// On failure the client is told why (when it is worth telling) and the connection is closed.
    /// - Parameters:
    ///   - connection: the accepted connection, on which nothing was sent or received yet.
    ///   - key: the shared link key.
    ///   - version: the worker protocol version this side speaks.
    ///   - deadline: when to give up on the client.
    /// - Throws: `ClusterError` with `.authenticationFailed` when the client's proof is wrong, `.protocolViolation`
    ///   for an unexpected frame, or the connection's errors (`.timedOut`, `.closed`, or `.connectionFailed` with
    ///   the client's text when it refused the link, for example over the version).
    public static func authenticateAsServer(
        _ connection: FrameConnection, key: String, version: UInt32, deadline: ContinuousClock.Instant
    ) throws {
        do {
            let serverNonce = makeNonce()
            var hello = PayloadWriter(capacity: 4 + nonceCount)
            hello.writeUInt32(version)
            hello.writeBytes(serverNonce)
            try connection.send(Frame(kind: helloKind, payload: hello.bytes))

            let proof = try connection.receive(deadline: deadline)
            guard proof.kind == proofKind, proof.payload.count == 2 * nonceCount else {
                connection.sendError("worker refused the connection: expected the link handshake's proof")
                throw ClusterError(.protocolViolation,
                    "\(connection.remoteDescription) sent a frame of kind 0x\(String(proof.kind, radix: 16)) and "
                        + "\(proof.payload.count) bytes instead of the link handshake's proof")
            }
            let clientNonce = Array(proof.payload[0..<nonceCount])
            let clientCode = Array(proof.payload[nonceCount...])
            let expected = code(key: key, label: "client", serverNonce, clientNonce)
            guard HMACSHA256.constantTimeEqual(clientCode, expected) else {
                connection.sendError("worker refused the connection: wrong link key")
                throw ClusterError(.authenticationFailed,
                    "\(connection.remoteDescription) could not prove the link key; connection dropped")
            }
            try connection.send(Frame(kind: acceptKind, payload: code(key: key, label: "server", serverNonce, clientNonce)))
        } catch {
            connection.close()
            throw error
        }
    }

    /// Runs the client's side of the handshake on a connection just made to a worker.
    ///
    /// On failure the connection is closed.
    /// - Parameters:
    ///   - connection: the new connection, on which nothing was sent or received yet.
    ///   - key: the shared link key.
    ///   - version: the worker protocol version this side speaks.
    ///   - deadline: when to give up on the worker.
    /// - Throws: `ClusterError` with `.versionMismatch` naming both versions, `.authenticationFailed` when the
    ///   worker refused the key (the message is the worker's reason) or could not prove the key itself,
    ///   `.protocolViolation` for an unexpected frame, or the connection's errors (`.timedOut`, `.closed`).
    public static func authenticateAsClient(
        _ connection: FrameConnection, key: String, version: UInt32, deadline: ContinuousClock.Instant
    ) throws {
        let peer = connection.remoteDescription
        do {
            let hello = try connection.receive(deadline: deadline)
            guard hello.kind == helloKind else {
                throw ClusterError(.protocolViolation,
                    "\(peer) opened with a frame of kind 0x\(String(hello.kind, radix: 16)) instead of the link handshake's hello")
            }
            var reader = PayloadReader(hello.payload)
            let serverVersion = try reader.readUInt32()
            guard serverVersion == version else {
                connection.sendError("client refused the connection: it speaks worker protocol version \(version), not \(serverVersion)")
                throw ClusterError(.versionMismatch,
                    "\(peer) speaks worker protocol version \(serverVersion), this side speaks version \(version)")
            }
            let serverNonce = try reader.readBytes(count: nonceCount)
            guard reader.isAtEnd else {
                throw ClusterError(.protocolViolation, "\(peer) sent a link handshake hello with \(reader.remaining) extra bytes")
            }

            let clientNonce = makeNonce()
            var proof = PayloadWriter(capacity: 2 * nonceCount)
            proof.writeBytes(clientNonce)
            proof.writeBytes(code(key: key, label: "client", serverNonce, clientNonce))
            try connection.send(Frame(kind: proofKind, payload: proof.bytes))

            let accept: Frame
            do {
                accept = try connection.receive(deadline: deadline)
            } catch let error as ClusterError where error.code == .connectionFailed {
                throw ClusterError(.authenticationFailed, "\(peer): \(error.message)")
            }
            guard accept.kind == acceptKind else {
                throw ClusterError(.protocolViolation,
                    "\(peer) answered the link handshake's proof with a frame of kind 0x\(String(accept.kind, radix: 16))")
            }
            guard HMACSHA256.constantTimeEqual(accept.payload, code(key: key, label: "server", serverNonce, clientNonce)) else {
                throw ClusterError(.authenticationFailed, "\(peer) could not prove the link key; connection dropped")
            }
        } catch {
            connection.close()
            throw error
        }
    }

    /// HMAC(key, label | server nonce | client nonce).
    static func code(key: String, label: String, _ serverNonce: [UInt8], _ clientNonce: [UInt8]) -> [UInt8] {
        var hmac = HMACSHA256(key: Array(key.utf8))
        hmac.update(Array(label.utf8))
        hmac.update(serverNonce)
        hmac.update(clientNonce)
        return hmac.finalize()
    }

    /// 32 bytes from the system's cryptographic random source.
    static func makeNonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var nonce: [UInt8] = []
        nonce.reserveCapacity(nonceCount)
        for _ in 0..<(nonceCount / 8) {
            withUnsafeBytes(of: generator.next() as UInt64) { nonce.append(contentsOf: $0) }
        }
        return nonce
    }
}
