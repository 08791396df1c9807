import Foundation
package import ShoalAPI

extension JSONValue {
    /// The value as JSON text with sorted keys (pretty-printed for people, compact for files).
    package func text(pretty: Bool = true) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
