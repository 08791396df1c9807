internal import Foundation

/// A DNS name whose addresses are replicas: `dns://NAME:PORT?model=M&interval=10s`.
///
/// The router re-resolves `name` (A and AAAA records) every `interval`; each address becomes the replica
/// `http://ADDRESS:PORT` (IPv6 in brackets). On Kubernetes, point it at a headless Service.
public struct DiscoveryTarget: Sendable, Hashable, CustomStringConvertible {
    /// The host name to resolve.
    public var name: String
    public var port: Int
    /// The model every discovered replica serves; nil asks each replica's `/v1/models`, as `--replica` does.
    public var model: String?
    /// Time between two resolutions.
    public var interval: Duration
    /// A resolution taking longer than this counts as failed.
    public var timeout: Duration

    public static let defaultInterval: Duration = .seconds(10)
    public static let defaultTimeout: Duration = .seconds(5)

    public init(name: String, port: Int, model: String? = nil, interval: Duration = Self.defaultInterval,
                timeout: Duration = Self.defaultTimeout) {
        self.name = name
        self.port = port
        self.model = model
        self.interval = interval
        self.timeout = timeout
    }

    private static let form = "dns://NAME:PORT[?model=M&interval=10s]"

    /// Parses `dns://NAME:PORT[?model=M&interval=10s&timeout=5s]`; durations look like `500ms`, `10s` or `1m`.
    /// - Throws: `RouterError` (`invalidConfiguration`) naming the part that is wrong.
    public init(parsing text: String) throws {
        func failure(_ problem: String) -> RouterError {
            RouterError(.invalidConfiguration, "'\(text)' \(problem); expected \(Self.form)")
        }
        let trimmed = text.trimmingSpaces
        guard trimmed.lowercased().hasPrefix("dns://") else { throw failure("must start with dns://") }
        let rest = trimmed.dropFirst("dns://".count)
        let query = rest.firstIndex(of: "?").map { rest[rest.index(after: $0)...] }
        var authority = rest.prefix { $0 != "?" }
        while authority.hasSuffix("/") { authority.removeLast() }
        guard !authority.contains("/") else { throw failure("has a path") }

        let host: Substring
        let portText: Substring?
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { throw failure("has a malformed name") }
            portText = after.isEmpty ? nil : after.dropFirst()
        } else {
            let colon = authority.lastIndex(of: ":")
            host = authority[..<(colon ?? authority.endIndex)]
            portText = colon.map { authority[authority.index(after: $0)...] }
            guard !host.contains(where: { " @#[]:".contains($0) }) else { throw failure("has a malformed name '\(host)'") }
        }
        guard !host.isEmpty else { throw failure("has no name") }
        guard let portText, !portText.isEmpty else { throw failure("has no port") }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw failure("has port '\(portText)'; it must be in 1...65535")
        }
        self.init(name: String(host), port: port)

        for item in (query ?? "").split(separator: "&") {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0])
            let value = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
            switch key {
            case "model":
                guard !value.isEmpty else { throw failure("has an empty model") }
                model = value
            case "interval", "timeout":
                guard let duration = Duration(configText: value), duration > .zero else {
                    throw failure("has \(key) '\(value)'; use a positive duration like 500ms, 10s or 1m")
                }
                if key == "interval" { interval = duration } else { timeout = duration }
            default:
                throw failure("has an unknown parameter '\(key)' (known: model, interval, timeout)")
            }
        }
    }

    /// - Throws: `RouterError` when a field is out of range.
    public func validate() throws {
        guard !name.isEmpty else { throw RouterError(.invalidConfiguration, "discovery name must not be empty") }
        guard (1...65535).contains(port) else {
            throw RouterError(.invalidConfiguration, "discovery of \(name): port must be in 1...65535")
        }
        guard interval > .zero, timeout > .zero else {
            throw RouterError(.invalidConfiguration, "discovery of \(name): interval and timeout must be positive")
        }
        if let model, model.isEmpty { throw RouterError(.invalidConfiguration, "discovery of \(name): empty model") }
    }

    /// The `dns://` form of this target.
    public var description: String {
        var parameters: [String] = []
        if let model {
            parameters.append("model=" + (model.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? model))
        }
        if interval != Self.defaultInterval { parameters.append("interval=\(interval.configText)") }
        if timeout != Self.defaultTimeout { parameters.append("timeout=\(timeout.configText)") }
        return "dns://\(hostPort)" + (parameters.isEmpty ? "" : "?" + parameters.joined(separator: "&"))
    }

    /// `NAME:PORT`, the label of this target's metrics.
    var hostPort: String {
        (name.contains(":") ? "[\(name)]" : name) + ":\(port)"
    }

    /// The replica at `address` (an IPv4 or IPv6 literal) on this target's port.
    func replica(at address: String) -> ReplicaID {
        ReplicaID("http://" + (address.contains(":") ? "[\(address)]" : address) + ":\(port)")
    }
}
