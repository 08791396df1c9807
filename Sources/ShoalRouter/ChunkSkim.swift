package import ShoalAPI

/// What the stream relay needs from one upstream chunk, read straight from its bytes without building a JSON tree:
/// the generated token ids, the finish reason, whether it carries usage, and the chunk without the token id fields
/// the router asked for on the client's behalf.
///
/// It reads any JSON, but understands only the plain shape of a completion or chat chunk (an object whose `choices`
/// are objects, `token_ids` arrays of integers, `finish_reason` a string or null). Anything else (an `error`,
/// escaped keys, a malformed body) returns nil, and the relay decodes the chunk in full instead.
package struct ChunkSkim {
    /// The chunk's `id`, `created` and `model`, read only when asked for (the relay keeps the first chunk's).
    package var id: JSONValue?
    package var created: JSONValue?
    package var model: JSONValue?
    package var generated: [Int32] = []
    package var promptIDs: [Int32]?
    package var finishReason: String?
    package var hasUsage = false
    /// The chunk as the client gets it (the input unchanged when nothing was stripped).
    package var output: [UInt8] = []

    /// Reads `data`; strips `prompt_token_ids` and `token_ids` (at the top and in each choice) when `stripIDs`;
    /// reads `id`, `created` and `model` when `readsHeader`.
    package init?(_ data: String, stripIDs: Bool, readsHeader: Bool = false) {
        var text = data
        guard let skim = text.withUTF8({ ChunkSkim(bytes: $0, stripIDs: stripIDs, readsHeader: readsHeader) }) else {
            return nil
        }
        self = skim
    }

    private init?(bytes: UnsafeBufferPointer<UInt8>, stripIDs: Bool, readsHeader: Bool) {
        var reader = JSONSkimReader(bytes)
        guard let top = try? reader.object(), (try? reader.end()) != nil else { return nil }
        var stripped = false
        var kept: [JSONSkimReader.Member] = []
        var choicesOutput: [UInt8]?
        for member in top {
            guard let key = reader.key(member) else { return nil }
            switch key {
            case "error":
                return nil
            case "id" where readsHeader, "created" where readsHeader, "model" where readsHeader:
                guard let value = try? JSONValue.parse(UnsafeBufferPointer(rebasing: bytes[member.value])) else {
                    return nil
                }
                if key == "id" { id = value } else if key == "created" { created = value } else { model = value }
            case "usage":
                hasUsage = bytes[member.value.lowerBound] != UInt8(ascii: "n")
            case "prompt_token_ids":
                guard let ids = reader.integers(member.value) else { return nil }
                promptIDs = ids
                if stripIDs {
                    stripped = true
                    continue
                }
            case "choices":
                switch readChoices(&reader, member, stripIDs: stripIDs) {
                case .notUnderstood: return nil
                case .unchanged: break
                case .rewritten(let bytes):
                    stripped = true
                    choicesOutput = bytes
                }
            default:
                break
            }
            kept.append(member)
        }
        guard stripped else {
            output = Array(bytes)
            return
        }
        output.reserveCapacity(bytes.count)
        output.append(UInt8(ascii: "{"))
        for (index, member) in kept.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            if let choicesOutput, reader.key(member) == "choices" {
                output.append(contentsOf: bytes[member.key.lowerBound - 1..<member.value.lowerBound])
                output.append(contentsOf: choicesOutput)
            } else {
                output.append(contentsOf: bytes[member.key.lowerBound - 1..<member.value.upperBound])
            }
        }
        output.append(UInt8(ascii: "}"))
    }

    private enum Choices {
        case notUnderstood
        case unchanged
        /// The array without the stripped id fields.
        case rewritten([UInt8])
    }

    /// Reads the `choices` array, and rewrites it without the id fields when `stripIDs`.
    private mutating func readChoices(_ reader: inout JSONSkimReader, _ member: JSONSkimReader.Member,
                                      stripIDs: Bool) -> Choices {
        guard let elements = try? reader.array(at: member.value) else { return .notUnderstood }
        var out: [UInt8] = [UInt8(ascii: "[")]
        var changed = false
        for (index, element) in elements.enumerated() {
            guard let fields = try? reader.object(at: element) else { return .notUnderstood }
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "{"))
            var first = true
            for field in fields {
                guard let key = reader.key(field) else { return .notUnderstood }
                switch key {
                case "token_ids":
                    guard let ids = reader.integers(field.value) else { return .notUnderstood }
                    generated += ids
                    if stripIDs {
                        changed = true
                        continue
                    }
                case "prompt_token_ids":
                    guard let ids = reader.integers(field.value) else { return .notUnderstood }
                    promptIDs = ids
                    if stripIDs {
                        changed = true
                        continue
                    }
                case "finish_reason":
                    if reader.bytes[field.value.lowerBound] == UInt8(ascii: "\"") {
                        guard let reason = reader.plainString(field.value) else { return .notUnderstood }
                        finishReason = reason
                    }
                default:
                    break
                }
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                out.append(contentsOf: reader.bytes[field.key.lowerBound - 1..<field.value.upperBound])
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        return changed ? .rewritten(out) : .unchanged
    }
}

/// A JSON reader that finds the byte ranges of values without decoding them (RFC 8259 syntax).
struct JSONSkimReader {
    /// An object member: the key's bytes between its quotes, and the value's bytes.
    struct Member {
        var key: Range<Int>
        var value: Range<Int>
    }

    struct Malformed: Error {}

    let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The key as text, or nil when it holds an escape (keys are compared as written, never unescaped).
    func key(_ member: Member) -> String? {
        plainString(member.key.lowerBound - 1..<member.key.upperBound + 1)
    }

    /// A string value without escapes, or nil.
    func plainString(_ range: Range<Int>) -> String? {
        guard range.count >= 2, bytes[range.lowerBound] == UInt8(ascii: "\"") else { return nil }
        let inner = bytes[range.lowerBound + 1..<range.upperBound - 1]
        guard !inner.contains(UInt8(ascii: "\\")) else { return nil }
        return String(decoding: UnsafeBufferPointer(rebasing: inner), as: UTF8.self)
    }

    /// An array of integers that fit Int32, or nil.
    func integers(_ range: Range<Int>) -> [Int32]? {
        var i = range.lowerBound
        guard i < range.upperBound, bytes[i] == UInt8(ascii: "[") else { return nil }
        i += 1
        var values: [Int32] = []
        var current: Int64 = 0, digits = 0, negative = false
        while i < range.upperBound {
            let byte = bytes[i]
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                current = current * 10 + Int64(byte - UInt8(ascii: "0"))
                digits += 1
                if digits > 10 { return nil }
            case UInt8(ascii: "-"):
                guard digits == 0, !negative else { return nil }
                negative = true
            case UInt8(ascii: ","), UInt8(ascii: "]"):
                if digits > 0 {
                    guard let value = Int32(exactly: negative ? -current : current) else { return nil }
                    values.append(value)
                } else if byte == UInt8(ascii: ",") || negative || !values.isEmpty {
                    return nil
                }
                current = 0
                digits = 0
                negative = false
                if byte == UInt8(ascii: "]") { return i == range.upperBound - 1 ? values : nil }
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                break
            default:
                return nil
            }
            i += 1
        }
        return nil
    }

    /// The members of the object that starts at the current position.
    mutating func object() throws -> [Member] {
        skipSpace()
        return try objectMembers()
    }

    /// The members of the object whose value spans `range`.
    mutating func object(at range: Range<Int>) throws -> [Member] {
        position = range.lowerBound
        return try objectMembers()
    }

    /// The element ranges of the array whose value spans `range`.
    mutating func array(at range: Range<Int>) throws -> [Range<Int>] {
        position = range.lowerBound
        try expect(UInt8(ascii: "["))
        var elements: [Range<Int>] = []
        skipSpace()
        if peek() == UInt8(ascii: "]") {
            position += 1
            return elements
        }
        while true {
            skipSpace()
            let start = position
            try skipValue()
            elements.append(start..<position)
            skipSpace()
            let next = try take()
            if next == UInt8(ascii: "]") { return elements }
            guard next == UInt8(ascii: ",") else { throw Malformed() }
        }
    }

    /// Checks that only white space follows.
    mutating func end() throws {
        skipSpace()
        guard position == bytes.count else { throw Malformed() }
    }

    private mutating func objectMembers() throws -> [Member] {
        try expect(UInt8(ascii: "{"))
        var members: [Member] = []
        skipSpace()
        if peek() == UInt8(ascii: "}") {
            position += 1
            return members
        }
        while true {
            skipSpace()
            let keyStart = position
            try skipString()
            let key = keyStart + 1..<position - 1
            skipSpace()
            try expect(UInt8(ascii: ":"))
            skipSpace()
            let valueStart = position
            try skipValue()
            members.append(Member(key: key, value: valueStart..<position))
            skipSpace()
            let next = try take()
            if next == UInt8(ascii: "}") { return members }
            guard next == UInt8(ascii: ",") else { throw Malformed() }
        }
    }

    private mutating func skipValue() throws {
        guard let byte = peek() else { throw Malformed() }
        switch byte {
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "{"):
            _ = try objectMembers()
        case UInt8(ascii: "["):
            _ = try array(at: position..<bytes.count)
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            for word in ["true", "false", "null"] where bytes[position...].starts(with: word.utf8) {
                position += word.utf8.count
                return
            }
            throw Malformed()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = position
            while position < bytes.count, Self.isNumberByte(bytes[position]) { position += 1 }
            guard position > start else { throw Malformed() }
        default:
            throw Malformed()
        }
    }

    private mutating func skipString() throws {
        try expect(UInt8(ascii: "\""))
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if byte == UInt8(ascii: "\\") {
                position += 1
            } else if byte == UInt8(ascii: "\"") {
                return
            } else if byte < 0x20 {
                throw Malformed()
            }
        }
        throw Malformed()
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
             UInt8(ascii: "e"), UInt8(ascii: "E"): true
        default: false
        }
    }

    private func peek() -> UInt8? {
        position < bytes.count ? bytes[position] : nil
    }

    private mutating func take() throws -> UInt8 {
        guard position < bytes.count else { throw Malformed() }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard try take() == byte else { throw Malformed() }
    }

    private mutating func skipSpace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r"): position += 1
            default: return
            }
        }
    }
}
