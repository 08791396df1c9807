internal import ShoalGrammar

/// Parses JSON into `JSONValue` with `JSONText`'s one-pass parser, no `Decoder` in between.
///
/// `JSONDecoder().decode(JSONValue.self, ...)` has to guess each value's type by trying the others first, and
/// every wrong guess throws; the router reads every request body and the first chunk of every stream, so it
/// parses with this instead. Accepts exactly RFC 8259 JSON (UTF-8, at most `maxDepth` levels of nesting) whose
/// numbers fit a `Double`; a duplicated object key keeps its first value, as `JSONDecoder` does (so the router
/// reads a request the way the replica behind it will).
extension JSONValue {
    /// Why bytes are not one JSON value.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        /// Byte offset of the problem; nil for a number too large for a `Double`, found after the text was read.
        public var offset: Int?
        public var reason: String
        public var description: String { offset.map { "\(reason) at byte \($0)" } ?? reason }

        public init(offset: Int?, reason: String) {
            self.offset = offset
            self.reason = reason
        }
    }

    /// The deepest nesting of arrays and objects accepted (as `JSONDecoder`'s).
    public static var maxDepth: Int { JSONText.maxDepth }

    /// Parses `bytes` as one JSON value, with only whitespace around it.
    public static func parse(_ bytes: some Collection<UInt8>) throws(ParseError) -> JSONValue {
        let text: JSONText.Value
        do {
            text = try JSONText.parse(bytes)
        } catch {
            throw ParseError(offset: error.offset, reason: error.reason)
        }
        return try JSONValue(text)
    }

    private init(_ text: JSONText.Value) throws(ParseError) {
        switch text {
        case .null: self = .null
        case .bool(let value): self = .bool(value)
        case .string(let value): self = .string(value)
        case .number(let written):
            guard let value = Double(written), value.isFinite else {
                throw ParseError(offset: nil, reason: "number \(written) out of range")
            }
            self = .number(value)
        case .array(let elements):
            var values: [JSONValue] = []
            values.reserveCapacity(elements.count)
            for element in elements { values.append(try JSONValue(element)) }
            self = .array(values)
        case .object(let members):
            var values: [String: JSONValue] = [:]
            values.reserveCapacity(members.count)
            for member in members where values[member.key] == nil { values[member.key] = try JSONValue(member.value) }
            self = .object(values)
        }
    }
}
