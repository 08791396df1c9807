/// How the HTTP server listens and what it admits.
public struct ServerConfiguration: Sendable {
    /// Address to bind; the default keeps the server local.
    public var host: String
    /// Port to bind; 0 picks a free one (tests).
    public var port: Int
    /// Accepted `Authorization: Bearer` keys; empty means no authentication.
    public var apiKeys: [String]
    /// Largest request body accepted (413 above it).
    public var maxBodyBytes: Int
    /// /health turns 503 when an engine step has run longer than this (a stuck loop).
    public var healthStepDeadline: Duration
    /// How long a graceful shutdown waits for running requests before cancelling them.
    public var shutdownTimeout: Duration
    /// `Retry-After` seconds sent with 429 and 503.
    public var retryAfterSeconds: Int
    /// Reported by `/version`.
    public var version: String
    /// The `Server` response header, if any.
    public var serverName: String?
    /// A connection must deliver each request head within this of opening or of its previous response ending
    /// (so idle keep-alive connections close after it too), else it is closed.
    public var headerTimeout: Duration = .seconds(60)
    /// A request's body must arrive within this of its head, else the connection is closed.
    public var bodyTimeout: Duration = .seconds(60)
    /// How often `/dashboard` samples the engines.
    public var dashboardInterval: Duration = .seconds(2)

    public init(
        host: String = "127.0.0.1", port: Int = 8080, apiKeys: [String] = [], maxBodyBytes: Int = 8 << 20,
        healthStepDeadline: Duration = .seconds(60), shutdownTimeout: Duration = .seconds(30),
        retryAfterSeconds: Int = 1, version: String = "0.0.0", serverName: String? = "shoal"
    ) {
        self.host = host
        self.port = port
        self.apiKeys = apiKeys
        self.maxBodyBytes = maxBodyBytes
        self.healthStepDeadline = healthStepDeadline
        self.shutdownTimeout = shutdownTimeout
        self.retryAfterSeconds = retryAfterSeconds
        self.version = version
        self.serverName = serverName
    }

    /// Checks every value.
    /// - Throws: `ServerConfigurationError` naming the setting that is wrong.
    public func validate() throws {
        func check(_ ok: Bool, _ setting: String, _ message: String) throws {
            if !ok { throw ServerConfigurationError(setting: setting, message: "\(setting) \(message)") }
        }
        try check(!host.isEmpty, "host", "must not be empty")
        try check((0...65535).contains(port), "port", "must be between 0 and 65535, got \(port)")
        try check(!apiKeys.contains(where: \.isEmpty), "apiKeys", "must not contain an empty key")
        try check(!apiKeys.contains { $0.contains(where: \.isWhitespace) }, "apiKeys", "must not contain whitespace")
        try check(maxBodyBytes > 0, "maxBodyBytes", "must be positive, got \(maxBodyBytes)")
        try check(healthStepDeadline > .zero, "healthStepDeadline", "must be positive")
        try check(shutdownTimeout >= .zero, "shutdownTimeout", "must not be negative")
        try check(headerTimeout > .zero, "headerTimeout", "must be positive")
        try check(bodyTimeout > .zero, "bodyTimeout", "must be positive")
        try check(dashboardInterval > .zero, "dashboardInterval", "must be positive")
        try check(retryAfterSeconds >= 0, "retryAfterSeconds", "must not be negative, got \(retryAfterSeconds)")
    }
}

/// A `ServerConfiguration` value out of range.
public struct ServerConfigurationError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable {
        let name: String
        public static let invalidValue = Code(name: "invalidValue")
    }
    public let code: Code
    /// The setting's name, e.g. `port`.
    public let setting: String
    public let message: String
    public var description: String { message }

    init(setting: String, message: String) {
        code = .invalidValue
        self.setting = setting
        self.message = message
    }
}
