/// The members of a JSON object as the bytes the client sent, in the client's order: for fields whose member order
/// matters (a JSON schema's `properties` order is the order of the output's keys) and which `JSONValue`'s
/// dictionaries would reorder.
public struct RawJSONMembers: Sendable {
    /// Each member's key and its value's bytes (whitespace around the value trimmed).
    public let members: [(key: String, value: [UInt8])]

    /// Reads the members of the object in `bytes`; nil when `bytes` is not one JSON object (the strict decoder
    /// reports what is wrong).
    public init?(_ bytes: some Collection<UInt8>) {
        var reader = Reader(bytes: Array(bytes))
        guard let members = reader.objectMembers(), reader.atEnd else { return nil }
        self.members = members
    }

    /// The raw elements of the JSON array in `bytes`, in order; nil when `bytes` is not one array.
    public static func arrayElements(_ bytes: some Collection<UInt8>) -> [[UInt8]]? {
        var reader = Reader(bytes: Array(bytes))
        guard let elements = reader.arrayElements(), reader.atEnd else { return nil }
        return elements
    }

    /// The raw value of member `key` (the last one if repeated, as JSON decoders do).
    public subscript(key: String) -> [UInt8]? { members.last { $0.key == key }?.value }

    /// The raw value at a path of keys through nested objects.
    public func value(at path: [String]) -> [UInt8]? {
        guard let first = path.first, let value = self[first] else { return nil }
        if path.count == 1 { return value }
        return RawJSONMembers(value)?.value(at: Array(path.dropFirst()))
    }

    private struct Reader {
        let bytes: [UInt8]
        var pos = 0

        var atEnd: Bool {
            mutating get {
                skipSpace()
                return pos == bytes.count
            }
        }

        mutating func skipSpace() {
            while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 {
                pos += 1
            }
        }

        mutating func objectMembers() -> [(key: String, value: [UInt8])]? {
            skipSpace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "{") else { return nil }
            pos += 1
            var members: [(key: String, value: [UInt8])] = []
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") {
                pos += 1
                return members
            }
            while true {
                skipSpace()
                let keyStart = pos
                guard skipString() else { return nil }
                guard let key = decodeString(bytes[keyStart..<pos]) else { return nil }
                skipSpace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { return nil }
                pos += 1
                skipSpace()
                let valueStart = pos
                guard skipValue() else { return nil }
                members.append((key, Array(bytes[valueStart..<pos])))
                skipSpace()
                guard pos < bytes.count else { return nil }
                if bytes[pos] == UInt8(ascii: ",") {
                    pos += 1
                } else if bytes[pos] == UInt8(ascii: "}") {
                    pos += 1
                    return members
                } else {
                    return nil
                }
            }
        }

        mutating func arrayElements() -> [[UInt8]]? {
            skipSpace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "[") else { return nil }
            pos += 1
            var elements: [[UInt8]] = []
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") {
                pos += 1
                return elements
            }
            while true {
                skipSpace()
                let start = pos
                guard skipValue() else { return nil }
                elements.append(Array(bytes[start..<pos]))
                skipSpace()
                guard pos < bytes.count else { return nil }
                if bytes[pos] == UInt8(ascii: ",") {
                    pos += 1
                } else if bytes[pos] == UInt8(ascii: "]") {
                    pos += 1
                    return elements
                } else {
                    return nil
                }
            }
        }

        /// Skips one value (strings with escapes, nested containers, scalars).
        mutating func skipValue() -> Bool {
            guard pos < bytes.count else { return false }
            switch bytes[pos] {
            case UInt8(ascii: "\""):
                return skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while pos < bytes.count {
                    switch bytes[pos] {
                    case UInt8(ascii: "\""):
                        guard skipString() else { return false }
                        continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        if depth == 0 {
                            pos += 1
                            return true
                        }
                    default: break
                    }
                    pos += 1
                }
                return false
            default:
                let start = pos
                while pos < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09].contains(bytes[pos]) {
                    pos += 1
                }
                return pos > start
            }
        }

        mutating func skipString() -> Bool {
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { return false }
            pos += 1
            while pos < bytes.count {
                if bytes[pos] == UInt8(ascii: "\\") {
                    pos += 2
                } else if bytes[pos] == UInt8(ascii: "\"") {
                    pos += 1
                    return true
                } else {
                    pos += 1
                }
            }
            return false
        }

        func decodeString(_ raw: ArraySlice<UInt8>) -> String? {
            // Keys are short; escapes are rare: let the standard decoder handle them.
            if !raw.contains(UInt8(ascii: "\\")) { return String(decoding: raw.dropFirst().dropLast(), as: UTF8.self) }
            return try? JSONDecoderShim.decodeString(Array(raw))
        }
    }
}

import Foundation

private enum JSONDecoderShim {
    static func decodeString(_ raw: [UInt8]) throws -> String {
        try JSONDecoder().decode(String.self, from: Data(raw))
    }
}

extension RawJSONMembers {
    /// The first thing in a request body that a strict reading refuses but `JSONDecoder` would take silently or
    /// misreport: a key given twice in one object (decoders disagree on which value wins, so Shoal takes neither),
    /// or an integer too large for 64 bits. Returns the parameter's path (`messages[0].content`) and a message.
    public static func firstProblem(in bytes: some Collection<UInt8>) -> (param: String, message: String)? {
        problem(Array(bytes), path: "")
    }

    private static func problem(_ value: [UInt8], path: String) -> (param: String, message: String)? {
        guard let first = value.first else { return nil }
        if first == UInt8(ascii: "{"), let object = RawJSONMembers(value) {
            var seen = Set<String>()
            for member in object.members {
                let param = path.isEmpty ? member.key : "\(path).\(member.key)"
                guard seen.insert(member.key).inserted else {
                    return (param, "'\(param)' is given more than once; give each parameter once")
                }
                if let found = problem(member.value, path: param) { return found }
            }
        } else if first == UInt8(ascii: "["), let elements = arrayElements(value) {
            for (index, element) in elements.enumerated() {
                if let found = problem(element, path: "\(path)[\(index)]") { return found }
            }
        } else if first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first),
                  !value.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }),
                  Int64(String(decoding: value, as: UTF8.self)) == nil {
            let param = path.isEmpty ? "body" : path
            return (param, "'\(param)': \(String(decoding: value.prefix(40), as: UTF8.self)) is too large; integers must fit in 64 bits")
        }
        return nil
    }
}
