/// Turns a host name into the addresses it stands for: what DNS discovery asks each interval.
///
/// `SystemAddressResolver` asks the system (`getaddrinfo`); tests inject scripted ones.
public protocol AddressResolver: Sendable {
    /// The IPv4 and IPv6 addresses of `name` as numeric literals (`10.0.0.5`, `fd00::5`).
    ///
    /// A call that is cancelled (the router shutting down, a resolution timing out) must return promptly.
    /// - Throws: when the name cannot be resolved (unknown name, no answer).
    func addresses(of name: String) async throws -> [String]
}
