import Glibc

/// A listening TCP socket that accepts `FrameConnection`s.
public final class FrameListener: @unchecked Sendable {
    private let socket: SocketDescriptor
    /// The port the listener is bound to (the kernel's choice when it was made with port 0).
    public let port: Int

    /// Binds and listens.
    /// - Parameters:
    ///   - host: the address to listen on ("127.0.0.1", "0.0.0.0", "::", or a name); the first address it
    ///     resolves to that can be bound is used.
    ///   - port: the TCP port, or 0 to let the kernel pick one (read it from `port`).
    /// - Throws: `ClusterError.Code.connectionFailed` naming `host:port` and the reason.
    public init(host: String, port: Int) throws {
        let fd = try SocketDescriptor.withAddresses(host: host, port: port, passive: true) { list -> Int32 in
            var lastError = "no address"
            var address: UnsafeMutablePointer<addrinfo>? = list
            while let a = address {
                address = a.pointee.ai_next
                let fd = Glibc.socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), a.pointee.ai_protocol)
                if fd < 0 {
                    lastError = SocketDescriptor.errorText(errno)
                    continue
                }
                var on: Int32 = 1
                _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
                if bind(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0, listen(fd, SOMAXCONN) == 0 {
                    return fd
                }
                lastError = SocketDescriptor.errorText(errno)
                Glibc.close(fd)
            }
            throw ClusterError(.connectionFailed, "cannot listen on \(host):\(port): \(lastError)")
        }
        socket = SocketDescriptor(fd)
        self.port = SocketDescriptor.localPort(fd)
    }

    /// Waits for the next connection.
    /// - Returns: the connection, with Nagle's algorithm off; run `LinkAuthentication.authenticateAsServer` on it
    ///   before anything else.
    /// - Throws: `ClusterError` with `.closed` once `close()` was called (also from another thread while this
    ///   one waits), `.connectionFailed` for another socket error.
    public func accept() throws -> FrameConnection {
        guard let fd = socket.acquire() else { throw closedError() }
        defer { socket.release() }
        while true {
            let connection = Glibc.accept(fd, nil, nil)
            if connection >= 0 {
                _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
                if socket.isClosed {
                    Glibc.close(connection)
                    throw closedError()
                }
                return FrameConnection(connected: connection)
            }
            let code = errno
            if socket.isClosed { throw closedError() }
            switch code {
            case EINTR, ECONNABORTED, EPROTO, EPERM, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH:
                continue
            default:
                throw ClusterError(.connectionFailed, "accepting on port \(port) failed: \(SocketDescriptor.errorText(code))")
            }
        }
    }

    /// Stops listening; idempotent and safe from any thread. A thread blocked in `accept` wakes and throws `.closed`.
    public func close() {
        socket.close()
    }

    private func closedError() -> ClusterError {
        ClusterError(.closed, "the listener on port \(port) is closed")
    }
}
