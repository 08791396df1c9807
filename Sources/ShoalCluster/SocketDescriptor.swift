import Glibc
import Synchronization

/// A socket's descriptor that one thread may close while others are blocked using it.
///
/// `close()` shuts the socket down at once, which wakes a thread blocked in `recv`, `poll`, `sendmsg` or
/// `accept`; the descriptor itself is closed only when no operation holds it any more, so its number cannot
/// be reused by another file while a blocked call still refers to it.
final class SocketDescriptor: Sendable {
    private struct State {
        var fd: Int32
        var closed = false
        var users = 0
    }

    private let state: Mutex<State>

    /// Takes ownership of `fd`.
    init(_ fd: Int32) {
        state = Mutex(State(fd: fd))
    }

    deinit {
        state.withLock { state in
            if state.fd >= 0 {
                Glibc.close(state.fd)
                state.fd = -1
            }
        }
    }

    /// Whether `close()` was called.
    var isClosed: Bool { state.withLock { $0.closed } }

    /// Returns the descriptor for one operation, or nil once closed; pair each non-nil result with `release()`.
    func acquire() -> Int32? {
        state.withLock { state in
            if state.closed { return nil }
            state.users += 1
            return state.fd
        }
    }

    /// Ends an operation begun by `acquire()`.
    func release() {
        state.withLock { state in
            state.users -= 1
            if state.closed, state.users == 0, state.fd >= 0 {
                Glibc.close(state.fd)
                state.fd = -1
            }
        }
    }

    /// Shuts the socket down (waking blocked calls) and closes it once no operation holds it; idempotent.
    func close() {
        state.withLock { state in
            if state.closed { return }
            state.closed = true
            _ = shutdown(state.fd, Int32(SHUT_RDWR))
            if state.users == 0 {
                Glibc.close(state.fd)
                state.fd = -1
            }
        }
    }

    /// The text of an `errno` value.
    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    /// Turns off Nagle's algorithm: small frames go out at once instead of waiting for an acknowledgement.
    static func setNoDelay(_ fd: Int32) {
        var on: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Makes `fd` blocking or non-blocking.
    static func setBlocking(_ fd: Int32, _ blocking: Bool) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0 else { return }
        _ = fcntl(fd, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK)
    }

    /// "host:port" (IPv6 as "[host]:port") for an IPv4 or IPv6 socket address.
    static func describe(_ address: UnsafePointer<sockaddr>) -> String {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { a in
                var ip = a.pointee.sin_addr
                return "\(numericHost(AF_INET, &ip)):\(UInt16(bigEndian: a.pointee.sin_port))"
            }
        case AF_INET6:
            return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a in
                var ip = a.pointee.sin6_addr
                return "[\(numericHost(AF_INET6, &ip))]:\(UInt16(bigEndian: a.pointee.sin6_port))"
            }
        default:
            return "unknown address"
        }
    }

    /// An IPv4 or IPv6 address in numeric form.
    private static func numericHost(_ family: Int32, _ address: UnsafeRawPointer) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(INET6_ADDRSTRLEN) + 1) { text in
            guard let p = inet_ntop(family, address, text.baseAddress, socklen_t(text.count)) else { return "?" }
            return String(cString: p)
        }
    }

    /// The address of the peer of a connected socket, as `describe` writes it.
    static func peerDescription(_ fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
                getpeername(fd, a, &length) == 0 ? describe(a) : "unknown peer"
            }
        }
    }

    /// The local port a socket is bound to, or 0.
    static func localPort(_ fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &storage) { p -> Int in
            let ok = p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
            guard ok else { return 0 }
            switch Int32(p.pointee.ss_family) {
            case AF_INET:
                return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            case AF_INET6:
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            default:
                return 0
            }
        }
    }

    /// Resolves `host:port` to stream socket addresses (IPv4 and IPv6), calling `body` with the list.
    /// - Throws: `ClusterError.Code.connectionFailed` when the name does not resolve.
    static func withAddresses<T>(
        host: String, port: Int, passive: Bool, _ body: (UnsafeMutablePointer<addrinfo>) throws -> T
    ) throws -> T {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = passive ? AI_PASSIVE : 0
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &list)
        guard status == 0, let list else {
            let reason = status == EAI_SYSTEM ? errorText(errno) : String(cString: gai_strerror(status))
            throw ClusterError(.connectionFailed, "cannot resolve \(host):\(port): \(reason)")
        }
        defer { freeaddrinfo(list) }
        return try body(list)
    }
}
