import Foundation

/// Holds back text that might be the start of a stop string; reports a stop with the text before it.
public struct StopStringMatcher: Sendable {
    public let stops: [String]
    private var pending = ""
    public private(set) var stopped = false

    public init(stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }
    }

    /// Adds generated text. Returns the text that is safe to show and whether a stop string was hit
    /// (then `emit` is the text before it, and everything after is dropped).
    public mutating func append(_ text: String) -> (emit: String, stopped: Bool) {
        guard !stopped else { return ("", true) }
        guard !stops.isEmpty else { return (text, false) }
        pending += text
        // The earliest stop string wins.
        var earliest: String.Index?
        for stop in stops {
            if let range = pending.range(of: stop), earliest.map({ range.lowerBound < $0 }) ?? true {
                earliest = range.lowerBound
            }
        }
        if let earliest {
            stopped = true
            let emit = String(pending[..<earliest])
            pending = ""
            return (emit, true)
        }
        // Hold back the longest tail of `pending` that begins some stop string.
        var hold = 0
        for stop in stops {
            var length = min(stop.count - 1, pending.count)
            while length > hold {
                if stop.hasPrefix(pending.suffix(length)) {
                    hold = length
                    break
                }
                length -= 1
            }
        }
        let cut = pending.index(pending.endIndex, offsetBy: -hold)
        let emit = String(pending[..<cut])
        pending = String(pending[cut...])
        return (emit, false)
    }

    /// Releases whatever is still held back (generation ended without a stop).
    public mutating func finish() -> String {
        defer { pending = "" }
        return stopped ? "" : pending
    }
}
