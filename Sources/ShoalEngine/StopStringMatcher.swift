/// Holds back text that might be the start of a stop string; reports a stop with the text before it.
///
/// Matching is on UTF-8 bytes, so it sees through grapheme clusters ("\r\n" contains "\n"). Among the stop
/// strings complete in the text, the one that starts first wins (the longest on a tie).
public struct StopStringMatcher: Sendable {
    /// The non-empty stop strings.
    public let stops: [String]
    private let patterns: [[UInt8]]
    private let longest: Int
    private var pending: [UInt8] = []
    /// Whether a stop string was found; later `append`s return nothing.
    public private(set) var stopped = false

    public init(stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }
        patterns = self.stops.map { Array($0.utf8) }
        longest = patterns.map(\.count).max() ?? 0
    }

    /// Adds generated text.
    /// - Returns: the text that can be shown now, and whether a stop string was completed (then `emit` is
    ///   the text before it and everything after is dropped).
    /// - Complexity: O((held + text) × total stop length).
    public mutating func append(_ text: String) -> (emit: String, stopped: Bool) {
        guard !stopped else { return ("", true) }
        guard !patterns.isEmpty else { return (text, false) }
        // Only the held-back tail and the new text can contain a new match.
        pending.append(contentsOf: text.utf8)
        var matchStart: Int?
        var matchLength = 0
        for pattern in patterns {
            if let start = firstOccurrence(of: pattern),
               matchStart.map({ start < $0 || (start == $0 && pattern.count > matchLength) }) ?? true
            {
                matchStart = start
                matchLength = pattern.count
            }
        }
        if let matchStart {
            stopped = true
            let emit = String(decoding: pending[..<matchStart], as: UTF8.self)
            pending.removeAll()
            return (emit, true)
        }
        // Hold back the longest tail that begins some stop string.
        let hold = heldLength()
        let cut = pending.count - hold
        let emit = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeSubrange(..<cut)
        return (emit, false)
    }

    /// Releases the text still held back (generation ended without a stop); empty after a stop.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return stopped ? "" : String(decoding: pending, as: UTF8.self)
    }

    private func firstOccurrence(of pattern: [UInt8]) -> Int? {
        guard pattern.count <= pending.count else { return nil }
        var i = 0
        while i + pattern.count <= pending.count {
            if pending[i] == pattern[0] {
                var k = 1
                while k < pattern.count, pending[i + k] == pattern[k] { k += 1 }
                if k == pattern.count { return i }
            }
            i += 1
        }
        return nil
    }

    /// Length of the longest suffix of `pending` that is a proper prefix of a stop string.
    private func heldLength() -> Int {
        var length = min(longest - 1, pending.count)
        while length > 0 {
            let start = pending.count - length
            for pattern in patterns where pattern.count > length {
                var k = 0
                while k < length, pending[start + k] == pattern[k] { k += 1 }
                if k == length { return length }
            }
            length -= 1
        }
        return 0
    }
}
