/// `GET /health`: `{"status": "ok"}`, or why not.
public struct HealthResponse: Codable, Sendable, Equatable {
    /// "ok", "loading", "draining" or "unhealthy".
    public var status: String
    public var message: String?

    public init(status: String, message: String? = nil) {
        self.status = status
        self.message = message
    }
}

/// `GET /version`.
public struct VersionResponse: Codable, Sendable, Equatable {
    public var version: String

    public init(version: String) {
        self.version = version
    }
}
