internal import Foundation
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Resolves names with the system resolver, `getaddrinfo` (the hosts file, then DNS A and AAAA records).
///
/// `getaddrinfo` blocks, so each lookup runs on a thread of its own, off the NIO event loops and the Swift
/// concurrency pool. A cancelled lookup returns at once with `CancellationError`; its thread finishes in the
/// background and its answer is dropped.
public struct SystemAddressResolver: AddressResolver {
    public init() {}

    /// - Throws: `RouterError` (`discoveryFailed`) with `getaddrinfo`'s reason, or `CancellationError`.
    public func addresses(of name: String) async throws -> [String] {
        let lookup = OneShotAnswer<[String]>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                guard lookup.park(continuation) else { return }
                let thread = Thread { lookup.finish(Result { try Self.lookUp(name) }) }
                thread.name = "shoal-dns"
                thread.start()
            }
        } onCancel: {
            lookup.finish(.failure(CancellationError()))
        }
    }

    /// The blocking lookup: unique addresses in the order `getaddrinfo` gave them.
    static func lookUp(_ name: String) throws -> [String] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
        hints.ai_socktype = SOCK_STREAM
        #else
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, nil, &hints, &list)
        guard status == 0 else {
            throw RouterError(.discoveryFailed, "cannot resolve '\(name)': \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var addresses: [String] = []
        var next = list
        while let info = next?.pointee {
            if let address = numericHost(info.ai_addr, family: info.ai_family), !addresses.contains(address) {
                addresses.append(address)
            }
            next = info.ai_next
        }
        return addresses
    }

    private static func numericHost(_ address: UnsafeMutablePointer<sockaddr>?, family: Int32) -> String? {
        guard let address else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let size = socklen_t(buffer.count)
        return buffer.withUnsafeMutableBufferPointer { text -> String? in
            let written: UnsafePointer<CChar>?
            switch family {
            case AF_INET:
                written = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { ipv4 in
                    var raw = ipv4.pointee.sin_addr
                    return inet_ntop(AF_INET, &raw, text.baseAddress, size)
                }
            case AF_INET6:
                written = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { ipv6 in
                    var raw = ipv6.pointee.sin6_addr
                    return inet_ntop(AF_INET6, &raw, text.baseAddress, size)
                }
            default:
                return nil
            }
            return written.map { String(cString: $0) }
        }
    }
}
