/// Parses the Prometheus text exposition format (version 0.0.4), as `/metrics` of a replica serves it.
///
/// `# HELP`, `# TYPE` and other comments and blank lines are skipped; each sample line is
/// `name{label="value",...} value [timestamp]`, with `\\`, `\"` and `\n` escaped in label values and values
/// written as numbers, `+Inf`, `-Inf` or `NaN`. Histograms come out as their `_bucket` (with `le`), `_sum` and
/// `_count` samples.
package enum PrometheusTextParser {
    /// - Returns: the samples in the order they appear.
    /// - Throws: `PrometheusParseError` naming the first line that is not a sample.
    /// - Complexity: O(n) in the text's length.
    package static func parse(_ text: String) throws(PrometheusParseError) -> [PrometheusSample] {
        var samples: [PrometheusSample] = []
        var number = 0
        for line in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            var bytes = Array(line)
            while let last = bytes.last, last == UInt8(ascii: "\r") || isSpace(last) { bytes.removeLast() }
            var reader = LineReader(bytes: bytes, line: number)
            reader.skipSpaces()
            if reader.atEnd || reader.peek == UInt8(ascii: "#") { continue }
            samples.append(try reader.sample())
        }
        return samples
    }

    /// Parses a sample value: a decimal or exponent number, `+Inf`, `-Inf`, `Inf` or `NaN` (any case).
    package static func value(_ text: String) -> Double? {
        switch text.lowercased() {
        case "+inf", "inf": return .infinity
        case "-inf": return -.infinity
        case "nan": return .nan
        default:
            guard let first = text.utf8.first,
                  first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return nil }
            return Double(text)
        }
    }

    fileprivate static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }
}

/// A cursor over one line's bytes.
private struct LineReader {
    let bytes: [UInt8]
    let line: Int
    var index = 0

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[index] }

    mutating func skipSpaces() {
        while let byte = peek, PrometheusTextParser.isSpace(byte) { index += 1 }
    }

    func fail(_ code: PrometheusParseError.Code, _ message: String) -> PrometheusParseError {
        PrometheusParseError(code, line: line, message)
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` (`colons`) or `[a-zA-Z_][a-zA-Z0-9_]*`.
    mutating func name(colons: Bool, what: String) throws(PrometheusParseError) -> String {
        let start = index
        while let byte = peek {
            let letter = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || byte == UInt8(ascii: "_")
                || (colons && byte == UInt8(ascii: ":"))
            let digit = (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            guard letter || (digit && index > start) else { break }
            index += 1
        }
        guard index > start else {
            throw fail(.malformedSample, "expected a \(what) at column \(index + 1)")
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(PrometheusParseError) {
        guard peek == byte else { throw fail(.malformedSample, "expected \(what) at column \(index + 1)") }
        index += 1
    }

    /// A double-quoted label value with `\\`, `\"` and `\n` unescaped (any other escape is kept as written).
    mutating func quoted() throws(PrometheusParseError) -> String {
        try expect(UInt8(ascii: "\""), "a quoted label value")
        var value: [UInt8] = []
        while let byte = peek {
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: value, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = peek else { break }
                index += 1
                switch escaped {
                case UInt8(ascii: "n"): value.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "\\"), UInt8(ascii: "\""): value.append(escaped)
                default: value += [byte, escaped]
                }
            default:
                value.append(byte)
            }
        }
        throw fail(.malformedSample, "a label value is not closed by a double quote")
    }

    mutating func labels() throws(PrometheusParseError) -> [String: String] {
        var labels: [String: String] = [:]
        try expect(UInt8(ascii: "{"), "{")
        while true {
            skipSpaces()
            if peek == UInt8(ascii: "}") {
                index += 1
                return labels
            }
            let key = try name(colons: false, what: "label name")
            skipSpaces()
            try expect(UInt8(ascii: "="), "= after the label name \(key)")
            skipSpaces()
            labels[key] = try quoted()
            skipSpaces()
            if peek == UInt8(ascii: ",") {
                index += 1
            } else if peek != UInt8(ascii: "}") {
                throw fail(.malformedSample, "expected , or } after the label \(key) at column \(index + 1)")
            }
        }
    }

    /// The next run of non-space bytes.
    mutating func token() -> String {
        let start = index
        while let byte = peek, !PrometheusTextParser.isSpace(byte) { index += 1 }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    mutating func sample() throws(PrometheusParseError) -> PrometheusSample {
        let metric = try name(colons: true, what: "metric name")
        skipSpaces()
        let labels = peek == UInt8(ascii: "{") ? try self.labels() : [:]
        skipSpaces()
        let text = token()
        guard !text.isEmpty else { throw fail(.malformedSample, "the sample \(metric) has no value") }
        guard let value = PrometheusTextParser.value(text) else {
            throw fail(.invalidValue, "the value of \(metric) is not a number: \(text)")
        }
        skipSpaces()
        if !atEnd {
            let timestamp = token()
            guard Int64(timestamp) != nil else {
                throw fail(.malformedSample, "unexpected text after the value of \(metric): \(timestamp)")
            }
            skipSpaces()
            guard atEnd else { throw fail(.malformedSample, "unexpected text after the timestamp of \(metric)") }
        }
        return PrometheusSample(name: metric, labels: labels, value: value)
    }
}
