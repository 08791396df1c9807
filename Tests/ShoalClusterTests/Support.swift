import Foundation
import Glibc
import ShoalCluster
import Synchronization

/// Runs a blocking `body` on a thread of its own and waits for it without holding a thread of the Swift
/// concurrency pool (a test blocked in `accept` or `receive` on the pool would starve other suites).
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = "shoal-cluster-test"
        thread.start()
    }
}

/// A listener on 127.0.0.1, a port the kernel picked, and both ends of one connection to it.
struct ConnectedPair {
    let listener: FrameListener
    let client: FrameConnection
    let server: FrameConnection

    static func make() async throws -> ConnectedPair {
        let listener = try FrameListener(host: "127.0.0.1", port: 0)
        async let accepted = onOwnThread { try listener.accept() }
        let client = try await onOwnThread {
            try FrameConnection.connect(host: "127.0.0.1", port: listener.port, timeout: .seconds(5))
        }
        return ConnectedPair(listener: listener, client: client, server: try await accepted)
    }

    func close() {
        client.close()
        server.close()
        listener.close()
    }
}

/// A plain blocking TCP client that writes whatever bytes a test wants, valid frames or not.
final class RawClient: @unchecked Sendable {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else { throw ClusterError(.connectionFailed, "raw connect failed: errno \(errno)") }
    }

    func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    func close() { Glibc.close(fd) }
}

/// The 12-byte frame header as the wire format defines it, written out by hand.
func header(magic: [UInt8] = Array("SHLF".utf8), kind: UInt16, count: UInt32) -> [UInt8] {
    magic + [UInt8(kind & 0xFF), UInt8(kind >> 8), 0, 0]
        + [UInt8(count & 0xFF), UInt8((count >> 8) & 0xFF), UInt8((count >> 16) & 0xFF), UInt8(count >> 24)]
}

/// `count` bytes of a fixed pattern that differs between neighbouring positions.
func patternBytes(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &+ $0 >> 8) }
}

/// Lowercase hex.
func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// Tells when another thread is blocked in a given system call, by reading `/proc/<pid>/task/<tid>/syscall`,
/// so a test can close a socket under a thread that is really waiting in `recv` or `accept`.
final class BlockedThreadProbe: Sendable {
    /// `/proc/<pid>/task/<tid>` of the watched thread, once known.
    private let threadPath = Mutex<String?>(nil)

    /// Records the calling thread as the one to watch; call it just before the blocking call.
    func enter() {
        let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")
        threadPath.withLock { $0 = path.map { "/proc/" + $0 } ?? "" }
    }

    /// Waits (yielding the CPU between looks, up to 10 s) until the watched thread is blocked in system call
    /// `number` (x86-64 numbering: 45 `recvfrom`, 43 `accept`).
    /// - Returns: true once it is, false on timeout, nil when `/proc` cannot say.
    func waitUntilBlocked(inSyscall number: Int) -> Bool? {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let path = threadPath.withLock({ $0 }) {
                guard let text = try? String(contentsOfFile: path + "/syscall", encoding: .utf8) else {
                    return nil
                }
                if text.hasPrefix("\(number) ") { return true }
            }
            sched_yield()
        }
        return false
    }
}
