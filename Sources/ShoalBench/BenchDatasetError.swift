/// A dataset that cannot be used: a file that is not ShareGPT JSON or JSONL, or one with nothing to send.
package struct BenchDatasetError: Error, CustomStringConvertible, Equatable {
    package enum Code: Sendable, Equatable {
        /// Neither a JSON document nor JSON lines.
        case malformed
        /// No conversation has a human turn followed by a gpt turn (that fits the length limits).
        case empty
    }

    package var code: Code
    package var message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
}
