import Glibc
import Synchronization

/// A TCP connection that carries `Frame`s, over a blocking POSIX socket with Nagle's algorithm off.
///
/// One thread may send while another receives; two sends at once are serialised, two receives at once are not
/// allowed. `close()` may be called from any thread and wakes a thread blocked in `receive` or `send`.
/// Run `LinkAuthentication` on a new connection before anything else.
public final class FrameConnection: @unchecked Sendable {
    /// The socket; its descriptor outlives a concurrent `close()` until the last call using it returns.
    private let socket: SocketDescriptor
    /// Serialises senders so that two frames never interleave on the wire.
    private let sendLock = Mutex<Void>(())
    /// Bytes received but not yet returned: `readBuffer[readStart..<readEnd]`. Used by the receiving thread only.
    private let readBuffer: UnsafeMutableRawPointer
    private var readStart = 0
    private var readEnd = 0
    private static let readBufferCapacity = 64 * 1024

    /// The peer's address as "host:port" ("[host]:port" for IPv6).
    public let remoteDescription: String

    /// Wraps a connected socket, taking ownership of it.
    init(connected fd: Int32) {
        SocketDescriptor.setNoDelay(fd)
        socket = SocketDescriptor(fd)
        remoteDescription = SocketDescriptor.peerDescription(fd)
        readBuffer = UnsafeMutableRawPointer.allocate(byteCount: Self.readBufferCapacity, alignment: 64)
    }

    deinit {
        readBuffer.deallocate()
    }

    /// Connects to a worker, trying each address `host` resolves to (IPv4 and IPv6) until one answers.
    /// - Parameters:
    ///   - host: a name or a numeric IPv4 or IPv6 address.
    ///   - port: the TCP port.
    ///   - timeout: how long the whole attempt (all addresses) may take.
    /// - Returns: the connection, with Nagle's algorithm off.
    /// - Throws: `ClusterError` with `.connectionFailed` (naming `host:port` and the reason) or `.timedOut`.
    public static func connect(host: String, port: Int, timeout: Duration) throws -> FrameConnection {
        let deadline = ContinuousClock.now + timeout
        return try SocketDescriptor.withAddresses(host: host, port: port, passive: false) { list in
            var lastError = "no address"
            var address: UnsafeMutablePointer<addrinfo>? = list
            while let a = address {
                address = a.pointee.ai_next
                let fd = Glibc.socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), a.pointee.ai_protocol)
                if fd < 0 {
                    lastError = SocketDescriptor.errorText(errno)
                    continue
                }
                switch connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen, deadline: deadline) {
                case .connected:
                    return FrameConnection(connected: fd)
                case .failed(let code):
                    Glibc.close(fd)
                    lastError = SocketDescriptor.errorText(code)
                case .timedOut:
                    Glibc.close(fd)
                    throw ClusterError(.timedOut, "connecting to \(host):\(port) timed out after \(timeout)")
                }
            }
            throw ClusterError(.connectionFailed, "cannot connect to \(host):\(port): \(lastError)")
        }
    }

    private enum ConnectOutcome {
        case connected
        case failed(Int32)
        case timedOut
    }

    /// Connects `fd` without blocking past `deadline`, then makes it blocking again.
    private static func connect(
        _ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t, deadline: ContinuousClock.Instant
    ) -> ConnectOutcome {
        SocketDescriptor.setBlocking(fd, false)
        defer { SocketDescriptor.setBlocking(fd, true) }
        if Glibc.connect(fd, address, length) == 0 { return .connected }
        guard errno == EINPROGRESS || errno == EINTR else { return .failed(errno) }
        while true {
            guard let milliseconds = Self.milliseconds(until: deadline) else { return .timedOut }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&p, 1, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                return .failed(errno)
            }
            if ready == 0 { continue }
            var error: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0 { return .failed(errno) }
            return error == 0 ? .connected : .failed(error)
        }
    }

    /// The milliseconds to pass to `poll` to wait until `deadline` (rounded up, so the wait is never short),
    /// -1 for no deadline, or nil once it has passed.
    static func milliseconds(until deadline: ContinuousClock.Instant?) -> Int32? {
        guard let deadline else { return -1 }
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { return nil }
        let (seconds, attoseconds) = left.components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }

    // MARK: Sending

    /// Sends one frame whose payload is the concatenation of `parts`, with one `sendmsg` of header and parts
    /// (looping only if the kernel takes part of it).
    /// - Parameters:
    ///   - kind: the frame kind; the worker protocol's kinds are below `Frame.firstReservedKind`.
    ///   - parts: the payload pieces, at most `Frame.maxPayloadCount` bytes together.
    /// - Throws: `ClusterError` with `.protocolViolation` for a payload over the limit, `.closed` when the
    ///   connection is closed or the peer reset it, `.connectionFailed` for another socket error.
    public func send(kind: UInt16, _ parts: [UnsafeRawBufferPointer]) throws {
        var total = 0
        for part in parts { total += part.count }
        guard total <= Frame.maxPayloadCount else {
            throw ClusterError(.protocolViolation, "a frame of \(total) bytes is over the limit of \(Frame.maxPayloadCount)")
        }
        guard let fd = socket.acquire() else { throw closedError() }
        defer { socket.release() }
        try sendLock.withLock { _ in
            try withUnsafeTemporaryAllocation(byteCount: Frame.headerCount, alignment: 8) { header in
                Frame.writeHeader(kind: kind, count: total, to: header.baseAddress!)
                try withUnsafeTemporaryAllocation(of: iovec.self, capacity: parts.count + 1) { iov in
                    iov[0] = iovec(iov_base: header.baseAddress!, iov_len: Frame.headerCount)
                    var count = 1
                    for part in parts where part.count > 0 {
                        iov[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: part.baseAddress!), iov_len: part.count)
                        count += 1
                    }
                    try sendAll(fd, iov.baseAddress!, count)
                }
            }
        }
    }

    /// Sends one frame.
    /// - Throws: as `send(kind:_:)`.
    public func send(_ frame: Frame) throws {
        try frame.payload.withUnsafeBytes { try send(kind: frame.kind, [$0]) }
    }

    /// Sends an error frame with a one-line reason (newlines become spaces, at most 1000 bytes), ignoring
    /// failures: the caller closes the connection next. The peer's `receive` throws with this text.
    public func sendError(_ message: String) {
        var text = Array(message.utf8.prefix(1000))
        for i in text.indices where text[i] == UInt8(ascii: "\n") || text[i] == UInt8(ascii: "\r") {
            text[i] = UInt8(ascii: " ")
        }
        try? text.withUnsafeBytes { try send(kind: Frame.errorKind, [$0]) }
    }

    /// Writes all of `iov[0..<count]`, advancing past partial writes.
    private func sendAll(_ fd: Int32, _ iov: UnsafeMutablePointer<iovec>, _ count: Int) throws {
        var first = 0
        while first < count {
            var message = msghdr()
            message.msg_iov = iov + first
            message.msg_iovlen = min(count - first, 1024)  // IOV_MAX on Linux
            let sent = sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
            if sent < 0 {
                if errno == EINTR { continue }
                throw socketError(errno, doing: "sending to")
            }
            var left = sent
            while first < count, left >= iov[first].iov_len {
                left -= iov[first].iov_len
                first += 1
            }
            if left > 0 {
                iov[first].iov_base = iov[first].iov_base! + left
                iov[first].iov_len -= left
            }
        }
    }

    // MARK: Receiving

    /// Reads exactly one frame.
    ///
    /// If the deadline passes or the stream turns out malformed after part of a frame has arrived, the
    /// connection can no longer find the next frame's start and is closed.
    /// - Parameter deadline: when to give up, for the whole frame; nil waits forever.
    /// - Returns: the frame (kinds `0xFF00...0xFFFE` included).
    /// - Throws: `ClusterError` with `.timedOut` when the deadline passes, `.closed` when the peer closed the
    ///   connection or `close()` was called, `.protocolViolation` for a bad magic or length, and
    ///   `.connectionFailed` whose message is the peer's text when the peer sent an error frame.
    /// - Complexity: one `recv` for a small frame that has arrived whole; the payload is copied once.
    public func receive(deadline: ContinuousClock.Instant?) throws -> Frame {
        guard let fd = socket.acquire() else { throw closedError() }
        defer { socket.release() }
        var headerTaken = false
        do {
            if readEnd - readStart < Frame.headerCount {
                try fill(fd, count: Frame.headerCount, deadline: deadline)
            }
            let (kind, count) = try Frame.readHeader(readBuffer + readStart, peer: remoteDescription)
            readStart += Frame.headerCount
            headerTaken = true
            let payload = try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                let buffered = min(readEnd - readStart, count)
                if buffered > 0 {
                    buffer.baseAddress!.initialize(from: (readBuffer + readStart).assumingMemoryBound(to: UInt8.self), count: buffered)
                    readStart += buffered
                }
                initialized = buffered
                while initialized < count {
                    initialized += try receiveSome(fd, buffer.baseAddress! + initialized, count - initialized, deadline: deadline, midFrame: true)
                }
            }
            if readStart == readEnd {
                readStart = 0
                readEnd = 0
            }
            if kind == Frame.errorKind {
                throw ClusterError(.connectionFailed, String(decoding: payload.prefix(1000), as: UTF8.self))
            }
            return Frame(kind: kind, payload: payload)
        } catch let error as ClusterError {
            if error.code == .protocolViolation || (error.code == .timedOut && (headerTaken || readEnd > readStart)) {
                socket.close()
            }
            throw error
        }
    }

    /// Whether a frame, or the peer's close, is waiting to be received; never blocks. For the receiving thread.
    public func hasPendingInput() -> Bool {
        if readEnd > readStart { return true }
        guard let fd = socket.acquire() else { return true }
        defer { socket.release() }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) > 0
    }

    /// Buffers at least `count` bytes (at most the buffer's capacity), receiving as much as is available.
    private func fill(_ fd: Int32, count: Int, deadline: ContinuousClock.Instant?) throws {
        if readStart > 0 {
            let buffered = readEnd - readStart
            if buffered > 0 { readBuffer.copyMemory(from: readBuffer + readStart, byteCount: buffered) }
            readStart = 0
            readEnd = buffered
        }
        while readEnd < count {
            readEnd += try receiveSome(fd, readBuffer + readEnd, Self.readBufferCapacity - readEnd, deadline: deadline, midFrame: readEnd > 0)
        }
    }

    /// One `recv` of up to `count` bytes into `p`, waiting with `poll` until `deadline`.
    /// - Returns: how many bytes arrived (at least 1).
    private func receiveSome(
        _ fd: Int32, _ p: UnsafeMutableRawPointer, _ count: Int, deadline: ContinuousClock.Instant?, midFrame: Bool
    ) throws -> Int {
        let flags = deadline == nil ? Int32(0) : Int32(MSG_DONTWAIT)
        while true {
            let n = recv(fd, p, count, flags)
            if n > 0 { return n }
            if n == 0 {
                if socket.isClosed { throw closedError() }
                throw ClusterError(.closed, midFrame
                    ? "\(remoteDescription) closed the connection in the middle of a frame"
                    : "\(remoteDescription) closed the connection")
            }
            switch errno {
            case EINTR:
                continue
            case EAGAIN, EWOULDBLOCK:
                guard let milliseconds = Self.milliseconds(until: deadline) else {
                    throw ClusterError(.timedOut, "no frame from \(remoteDescription) before the deadline")
                }
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&descriptor, 1, milliseconds) < 0, errno != EINTR {
                    throw socketError(errno, doing: "waiting for")
                }
            default:
                throw socketError(errno, doing: "receiving from")
            }
        }
    }

    // MARK: Closing

    /// Closes the connection; idempotent and safe from any thread. A thread blocked in `receive` or `send`
    /// wakes and throws `.closed`.
    public func close() {
        socket.close()
    }

    private func closedError() -> ClusterError {
        ClusterError(.closed, "the connection to \(remoteDescription) is closed")
    }

    private func socketError(_ code: Int32, doing action: String) -> ClusterError {
        if socket.isClosed { return closedError() }
        if code == ECONNRESET || code == EPIPE {
            return ClusterError(.closed, "\(remoteDescription) reset the connection")
        }
        return ClusterError(.connectionFailed, "\(action) \(remoteDescription) failed: \(SocketDescriptor.errorText(code))")
    }
}
