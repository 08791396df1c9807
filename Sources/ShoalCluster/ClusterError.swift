/// An error on a link between the router and a worker, with one line saying what went wrong.
public struct ClusterError: Error, CustomStringConvertible, Sendable {
    /// What kind of problem it was.
    public enum Code: Sendable, Hashable {
        /// The peer could not be reached, refused the link, or sent an error frame.
        case connectionFailed
        /// A deadline passed before the connection or the frame arrived.
        case timedOut
        /// The connection was closed, by the peer (end of stream, reset) or by `close()`.
        case closed
        /// A peer could not prove that it holds the shared link key.
        case authenticationFailed
        /// The two sides speak different versions of the worker protocol.
        case versionMismatch
        /// The peer sent bytes that are not a valid frame or payload.
        case protocolViolation
    }

    /// What kind of problem it was.
    public let code: Code
    /// One line naming what went wrong (and, where known, the peer).
    public let message: String

    /// Makes an error with a code and a message naming what was wrong.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
