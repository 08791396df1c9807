/// A router configuration or membership problem (bad URL, unknown pool, malformed rule or config file).
public struct RouterError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }

        /// A configuration value is out of range or malformed.
        public static let invalidConfiguration = Code(name: "invalid_configuration")
        /// A replica URL cannot be used.
        public static let invalidReplica = Code(name: "invalid_replica")
        /// A routing rule or alias cannot be parsed.
        public static let invalidRule = Code(name: "invalid_rule")
        /// A replica could not be reached or answered unexpectedly while being added, or a DNS name did not resolve.
        public static let discoveryFailed = Code(name: "discovery_failed")
        /// No such replica.
        public static let unknownReplica = Code(name: "unknown_replica")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
