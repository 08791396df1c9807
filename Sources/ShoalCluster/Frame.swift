/// One message on a worker link: a kind and the payload bytes.
///
/// On the wire a frame is a 12-byte header followed by the payload:
///
///     "SHLF" (4 bytes) | kind (u16 LE) | reserved (u16, zero) | payload length (u32 LE) | payload
///
/// Kinds `0xFF00...0xFFFF` are reserved for the transport (the link handshake and error frames);
/// the worker protocol's own kinds are below `0xFF00`.
public struct Frame: Sendable {
    /// What the payload is; the worker protocol's kinds are below `Frame.firstReservedKind`.
    public var kind: UInt16
    /// The payload bytes, at most `Frame.maxPayloadCount` of them.
    public var payload: [UInt8]

    /// Makes a frame.
    public init(kind: UInt16, payload: [UInt8] = []) {
        self.kind = kind
        self.payload = payload
    }

    /// The most payload bytes one frame may carry (1 GiB); longer frames are a protocol violation.
    public static let maxPayloadCount = 1 << 30
    /// The first kind reserved for the transport; kinds from here to `0xFFFF` are not the worker protocol's.
    public static let firstReservedKind: UInt16 = 0xFF00
    /// The kind of an error frame: a one-line UTF-8 reason, after which the sender closes the link.
    public static let errorKind: UInt16 = 0xFFFF

    /// The size of the header in bytes.
    static let headerCount = 12
    /// "SHLF" read as a little-endian u32.
    static let magic: UInt32 = 0x464C_4853

    /// Writes the 12-byte header for a payload of `count` bytes at `p`.
    static func writeHeader(kind: UInt16, count: Int, to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: kind.littleEndian, toByteOffset: 4, as: UInt16.self)
        p.storeBytes(of: UInt16(0), toByteOffset: 6, as: UInt16.self)
        p.storeBytes(of: UInt32(truncatingIfNeeded: count).littleEndian, toByteOffset: 8, as: UInt32.self)
    }

    /// Reads the 12-byte header at `p`.
    /// - Returns: the kind and the payload length.
    /// - Throws: `ClusterError.Code.protocolViolation` for a wrong magic or a payload over `maxPayloadCount`.
    static func readHeader(_ p: UnsafeRawPointer, peer: String) throws -> (kind: UInt16, count: Int) {
        let magic = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        guard magic == Self.magic else {
            throw ClusterError(.protocolViolation, "\(peer) sent a frame that does not start with \"SHLF\" (got 0x\(String(magic, radix: 16)))")
        }
        let kind = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        let count = Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        guard count <= maxPayloadCount else {
            throw ClusterError(.protocolViolation, "\(peer) sent a frame of \(count) bytes, more than the limit of \(maxPayloadCount)")
        }
        return (kind, count)
    }
}
