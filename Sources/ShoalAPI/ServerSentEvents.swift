public import Foundation

/// Server-sent events as OpenAI streams them: `data: {json}\n\n` per chunk, then `data: [DONE]\n\n`.
public enum ServerSentEvents {
    /// The terminating event.
    public static let done = "data: [DONE]\n\n"
    /// The payload of the terminating event.
    public static let donePayload = "[DONE]"

    /// One event carrying `value` as compact JSON.
    /// - Throws: `EncodingError` if `value` cannot be encoded (a non-finite float).
    public static func event(_ value: some Encodable, encoder: JSONEncoder = ServerSentEvents.makeEncoder()) throws -> String {
        let data = try encoder.encode(value)
        return event(data: String(decoding: data, as: UTF8.self))
    }

    /// One event with the given payload; newlines in it become separate `data:` lines.
    public static func event(data: String) -> String {
        var out = ""
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) {
            out += "data: "
            out += line
            out += "\n"
        }
        return out + "\n"
    }

    /// The encoder for API bodies: compact, keys sorted (stable output), `/` not escaped.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// One parsed server-sent event.
public struct ServerSentEvent: Sendable, Equatable {
    public var event: String?
    /// The `data:` lines joined with newlines.
    public var data: String
    public var id: String?

    public init(event: String? = nil, data: String, id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }

    /// Whether this is OpenAI's `data: [DONE]`.
    public var isDone: Bool { data == ServerSentEvents.donePayload }
}

/// An incremental parser of a `text/event-stream` body (the WHATWG rules clients use).
///
/// Feed bytes as they arrive; complete events come out. Lines end with `\n`, `\r\n` or `\r`; a blank
/// line ends an event; lines starting with `:` are comments; events without `data` are dropped.
public struct ServerSentEventParser: Sendable {
    private var line: [UInt8] = []
    private var lastWasCR = false
    private var data: [String] = []
    private var event: String?
    private var id: String?

    public init() {}

    /// Parses more of the stream.
    /// - Returns: The events completed by these bytes.
    public mutating func append(_ bytes: some Sequence<UInt8>) -> [ServerSentEvent] {
        if let events = bytes.withContiguousStorageIfAvailable({ append(contiguous: $0) }) { return events }
        return Array(bytes).withUnsafeBufferPointer { append(contiguous: $0) }
    }

    /// Parses bytes in memory: each run up to a line break is copied into the line at once (a relay parses every
    /// chunk of every stream, and a byte-by-byte walk through a generic sequence costs more than the relay's other work).
    private mutating func append(contiguous bytes: UnsafeBufferPointer<UInt8>) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        var start = 0
        while start < bytes.count {
            if lastWasCR {
                lastWasCR = false
                if bytes[start] == UInt8(ascii: "\n") {
                    start += 1
                    continue
                }
            }
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n"), bytes[end] != UInt8(ascii: "\r") { end += 1 }
            line.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<end]))
            guard end < bytes.count else { break }
            if bytes[end] == UInt8(ascii: "\r") { lastWasCR = true }
            if let event = endLine() { events.append(event) }
            start = end + 1
        }
        return events
    }

    /// Parses more of the stream given as text.
    public mutating func append(_ text: String) -> [ServerSentEvent] {
        append(text.utf8)
    }

    /// Ends the stream: an event not yet closed by a blank line is dropped, as browsers do.
    /// - Returns: Whether unterminated input was left over.
    public mutating func finish() -> Bool {
        defer { self = ServerSentEventParser() }
        return !line.isEmpty || !data.isEmpty
    }

    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            defer {
                data = []
                event = nil
            }
            guard !data.isEmpty else { return nil }
            return ServerSentEvent(event: event, data: data.count == 1 ? data[0] : data.joined(separator: "\n"), id: id)
        }
        if line.first == UInt8(ascii: ":") { return nil }
        // Field and value split on the bytes (a String's Character view is far slower, and this runs per line).
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        var valueStart = colon < line.endIndex ? colon + 1 : colon
        if valueStart < line.endIndex, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let field = String(decoding: line[..<colon], as: UTF8.self)
        let value = String(decoding: line[valueStart...], as: UTF8.self)
        switch field {
        case "data": data.append(value)
        case "event": event = value
        case "id": id = value
        default: break
        }
        return nil
    }
}
