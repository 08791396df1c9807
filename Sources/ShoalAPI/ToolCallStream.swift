import Foundation

/// Reads a streamed tool-calling answer (`ToolCalling`'s JSON form) as it grows and says what to send the client:
/// the text of `{"response": ...}` as content as soon as it is decoded, and for `{"tool_calls": [...]}` each call's
/// name once it is complete, then its arguments' JSON text in fragments as they arrive (OpenAI's `delta.tool_calls`;
/// concatenated, the fragments are exactly the arguments of the whole answer).
public struct ToolCallStream: Sendable {
    public enum Event: Sendable, Equatable {
        case content(String)
        case callStarted(index: Int, name: String)
        case arguments(index: Int, fragment: String)
    }

    private var bytes: [UInt8] = []
    private var position = 0
    /// Open containers (`{` or `[`), outermost first.
    private var containers: [UInt8] = []
    private var inString = false
    private var escaped = false
    private var stringStart = 0
    /// Per open object, whether the next string is a key, and its last key.
    private var expectingKey: [Bool] = []
    private var keys: [String?] = []
    /// Calls started so far.
    private var calls = 0
    /// Where the response string's content starts, and how many of its scalars were sent.
    private var responseStart: Int?
    private var responseSent = 0
    private var responseDone = false
    /// The arguments value being streamed: where it starts, how much was sent, and whether it is a container.
    private var argumentsStart: Int?
    private var argumentsSent = 0

    public init() {}

    /// Takes the next piece of generated text; returns what it completes.
    public mutating func append(_ text: String) -> [Event] {
        bytes += Array(text.utf8)
        var events: [Event] = []
        while position < bytes.count {
            step(bytes[position], &events)
            position += 1
        }
        if let start = argumentsStart, position > argumentsSent {
            events.append(.arguments(index: calls - 1, fragment: String(decoding: bytes[max(start, argumentsSent)..<position], as: UTF8.self)))
            argumentsSent = position
        }
        if let start = responseStart, !responseDone { sendResponse(from: start, upTo: position, &events) }
        return events
    }

    private mutating func step(_ byte: UInt8, _ events: inout [Event]) {
        if inString {
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString = false
                stringEnded(at: position, &events)
            }
            return
        }
        switch byte {
        case UInt8(ascii: "\""):
            valueStarts(at: position)
            inString = true
            stringStart = position
            if containers.count == 1, expectingKey.last == false, keys.last == "response", responseStart == nil {
                responseStart = position + 1
            }
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            valueStarts(at: position)
            containers.append(byte)
            expectingKey.append(byte == UInt8(ascii: "{"))
            keys.append(nil)
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            // A call's object closing while a scalar argument value is open ends that value.
            if containers.count == 3, let start = argumentsStart { finishArguments(start: start, end: position, &events) }
            containers.removeLast()
            expectingKey.removeLast()
            keys.removeLast()
            if containers.count == 3, let start = argumentsStart {
                // The arguments object closed: send the rest of it, this brace included.
                finishArguments(start: start, end: position + 1, &events)
            }
        case UInt8(ascii: ","):
            if containers.count == 3, let start = argumentsStart { finishArguments(start: start, end: position, &events) }
            if let last = containers.last, last == UInt8(ascii: "{") { expectingKey[expectingKey.count - 1] = true }
        case UInt8(ascii: ":"):
            if !expectingKey.isEmpty { expectingKey[expectingKey.count - 1] = false }
        default:
            if byte > 0x20 { valueStarts(at: position) }
        }
    }

    /// A value (not a key) begins at `at`: the start of a call's arguments when its key was `arguments`.
    private mutating func valueStarts(at: Int) {
        guard containers.count == 3, argumentsStart == nil, expectingKey.last == false,
              keys.last == "arguments", containers == [UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "{")] else { return }
        argumentsStart = at
        argumentsSent = at
    }

    private mutating func stringEnded(at end: Int, _ events: inout [Event]) {
        let raw = bytes[stringStart...end]
        guard let last = expectingKey.last else { return }
        if last {
            // A key.
            let key = try? JSONDecoder().decode(String.self, from: Data(raw))
            keys[keys.count - 1] = key
            return
        }
        if containers.count == 1, keys.last == "response" {
            // The response's text ends here.
            sendResponse(from: stringStart + 1, upTo: end, &events)
            responseDone = true
        } else if containers.count == 3, keys.last == "name", containers[1] == UInt8(ascii: "["),
                  let name = try? JSONDecoder().decode(String.self, from: Data(raw)) {
            events.append(.callStarted(index: calls, name: name))
            calls += 1
            argumentsStart = nil
        }
    }

    private mutating func finishArguments(start: Int, end: Int, _ events: inout [Event]) {
        if end > argumentsSent {
            events.append(.arguments(index: calls - 1, fragment: String(decoding: bytes[max(start, argumentsSent)..<end], as: UTF8.self)))
        }
        argumentsStart = nil
        argumentsSent = 0
    }

    /// Sends the decoded response text up to `upTo` (exclusive), stopping before an escape that is not complete.
    private mutating func sendResponse(from start: Int, upTo end: Int, _ events: inout [Event]) {
        var cut = end
        var i = start
        while i < end {
            if bytes[i] == UInt8(ascii: "\\") {
                let length = i + 1 < end && bytes[i + 1] == UInt8(ascii: "u") ? 6 : 2
                if i + length > end { cut = i; break }
                // A high surrogate must wait for its low half.
                if length == 6, let unit = UInt16(String(decoding: bytes[(i + 2)..<(i + 6)], as: UTF8.self), radix: 16),
                   (0xD800..<0xDC00).contains(unit), i + 12 > end {
                    cut = i
                    break
                }
                i += length
            } else {
                i += 1
            }
        }
        guard cut > start, let text = try? JSONDecoder().decode(String.self, from: Data([UInt8(ascii: "\"")] + bytes[start..<cut] + [UInt8(ascii: "\"")])) else { return }
        let scalars = Array(text.unicodeScalars)
        if scalars.count > responseSent {
            var piece = String.UnicodeScalarView()
            piece.append(contentsOf: scalars[responseSent...])
            events.append(.content(String(piece)))
            responseSent = scalars.count
        }
    }
}
