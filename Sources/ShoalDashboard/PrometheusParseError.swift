/// A line of a Prometheus text exposition that does not parse.
package struct PrometheusParseError: Error, Sendable, Equatable, CustomStringConvertible {
    package struct Code: Hashable, Sendable {
        let name: String
        /// The line is not `name{labels} value [timestamp]`.
        package static let malformedSample = Code(name: "malformedSample")
        /// The value is not a number, `+Inf`, `-Inf` or `NaN`.
        package static let invalidValue = Code(name: "invalidValue")
    }

    package let code: Code
    /// 1-based line number.
    package let line: Int
    package let message: String

    package init(_ code: Code, line: Int, _ message: String) {
        self.code = code
        self.line = line
        self.message = message
    }

    package var description: String { "line \(line): \(message)" }
}
