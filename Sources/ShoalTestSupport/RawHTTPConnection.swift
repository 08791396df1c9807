import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 connection over a plain socket, for tests that must see the connection itself (keep-alive: two
/// requests on one connection). Reads block for at most `timeout` seconds, so a test fails instead of hanging.
public final class RawHTTPConnection {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// One response: status, header fields by lowercased name, and the body (chunked encoding undone).
    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: String
    }

    private let socket: Int32
    private var buffered: [UInt8] = []

    public init(port: Int, timeout: Int = 10) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(description: "socket() failed") }
        var wait = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(socket)
            throw Failure(description: "connect to port \(port) failed")
        }
    }

    deinit { close(socket) }

    /// Sends a POST of `json` to `path`.
    public func post(_ path: String, json: String) throws {
        let body = Array(json.utf8)
        let head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        try write(Array(head.utf8) + body)
    }

    /// Sends `text` as it is (a request in pieces, or a broken one).
    public func send(raw text: String) throws {
        try write(Array(text.utf8))
    }

    /// Blocks until the server closes the connection (the read timeout still applies).
    /// - Throws: `Failure` when bytes arrive instead, or the read times out.
    public func waitForClose() throws {
        guard buffered.isEmpty else { throw Failure(description: "unread bytes before the end") }
        var chunk = [UInt8](repeating: 0, count: 4096)
        let n = recv(socket, &chunk, chunk.count, 0)
        if n == 0 { return }
        if n < 0, errno == ECONNRESET { return }
        throw Failure(description: n > 0 ? "the server sent \(n) bytes instead of closing" : "read timed out")
    }

    /// Reads one whole response.
    public func readResponse() throws -> Response {
        let headText = String(decoding: try readUntil(Array("\r\n\r\n".utf8)), as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        guard !lines.isEmpty else { throw Failure(description: "empty response head") }
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw Failure(description: "bad status line") }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body: [UInt8] = []
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            while true {
                let sizeLine = String(decoding: try readUntil(Array("\r\n".utf8)), as: UTF8.self)
                guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
                    throw Failure(description: "bad chunk size '\(sizeLine)'")
                }
                let chunk = try read(count: size + 2)
                if size == 0 { break }
                body += chunk.prefix(size)
            }
        } else if let length = headers["content-length"].flatMap({ Int($0) }) {
            body = try read(count: length)
        } else {
            throw Failure(description: "response without a length")
        }
        return Response(status: status, headers: headers, body: String(decoding: body, as: UTF8.self))
    }

    /// Whether the server has closed the connection (a read finds its end).
    public var isClosedByPeer: Bool {
        guard buffered.isEmpty else { return false }
        var byte: UInt8 = 0
        return recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
    }

    private func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send failed") }
            sent += n
        }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        let n = recv(socket, &chunk, chunk.count, 0)
        guard n > 0 else { throw Failure(description: n == 0 ? "connection closed by the server" : "read timed out") }
        buffered += chunk.prefix(n)
    }

    private func readUntil(_ terminator: [UInt8]) throws -> [UInt8] {
        while true {
            if let range = buffered.firstRange(of: terminator) {
                let out = Array(buffered[..<range.lowerBound])
                buffered.removeSubrange(..<range.upperBound)
                return out
            }
            try fill()
        }
    }

    private func read(count: Int) throws -> [UInt8] {
        while buffered.count < count { try fill() }
        let out = Array(buffered.prefix(count))
        buffered.removeFirst(count)
        return out
    }
}
