extension Duration {
    /// The longest duration a config value may ask for (about 31 years), so huge numbers fail instead of trapping.
    static let longestConfigured: Double = 1e9

    /// Parses `500ms`, `10s`, `1.5m` or `2h`; nil for anything else, including a bare number or a negative one.
    init?(configText text: String) {
        let trimmed = text.trimmingSpaces
        let units = [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)]
        guard let (suffix, scale) = units.first(where: { trimmed.hasSuffix($0.0) }),
              let value = Double(trimmed.dropLast(suffix.count)) else { return nil }
        self.init(configSeconds: value * scale)
    }

    /// `seconds` as a duration; nil when it is negative, not finite or longer than `longestConfigured`.
    init?(configSeconds seconds: Double) {
        guard seconds.isFinite, seconds >= 0, seconds <= Self.longestConfigured else { return nil }
        self = .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    /// Milliseconds, as `init(configText:)` parses them back (`1500ms`).
    var configText: String {
        let (seconds, attoseconds) = components
        return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)ms"
    }
}
