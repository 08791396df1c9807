import Foundation
package import ShoalAPI

/// `--sweep concurrency=1,2,4,8` or `--sweep request-rate=1,2,4,inf`: one run per level of one load parameter,
/// saved together in one JSON document that `scripts/plot-bench` draws.
package struct BenchSweep: Sendable, Equatable {
    package enum Parameter: String, Sendable {
        case concurrency
        case requestRate = "request-rate"

        /// The field of each level's result that holds the level (vLLM's names).
        package var resultField: String {
            switch self {
            case .concurrency: "max_concurrency"
            case .requestRate: "request_rate"
            }
        }
    }

    package var parameter: Parameter
    /// The levels, in the order given.
    package var values: [Double]

    package init(parameter: Parameter, values: [Double]) {
        self.parameter = parameter
        self.values = values
    }

    /// Parses `NAME=V1,V2,...`.
    /// - Throws: `BenchSweep.ParseError` saying what is wrong.
    package init(parsing text: String) throws {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let parameter = Parameter(rawValue: parts[0].replacingOccurrences(of: "_", with: "-")) else {
            throw ParseError(message: "--sweep '\(text)': expected concurrency=1,2,4 or request-rate=1,2,4")
        }
        var values: [Double] = []
        for item in parts[1].split(separator: ",", omittingEmptySubsequences: false) {
            let word = item.trimmingCharacters(in: .whitespaces)
            switch parameter {
            case .concurrency:
                guard let value = Int(word), value >= 1 else {
                    throw ParseError(message: "--sweep '\(text)': concurrency levels are whole numbers of at least 1, not '\(word)'")
                }
                values.append(Double(value))
            case .requestRate:
                guard let value = Double(word), value > 0, !value.isNaN else {
                    throw ParseError(message: "--sweep '\(text)': request rates are positive numbers or inf, not '\(word)'")
                }
                values.append(value)
            }
        }
        guard !values.isEmpty else { throw ParseError(message: "--sweep '\(text)': no levels") }
        self.init(parameter: parameter, values: values)
    }

    package struct ParseError: Error, CustomStringConvertible, Equatable {
        package var message: String
        package var description: String { message }
    }

    /// The sweep's JSON: what was swept, and every level's saved result (per-request arrays included).
    package func document(results: [BenchResult]) -> JSONValue {
        let first = results.first?.settings
        return .object([
            "label": .string(first?.label ?? ""),
            "model_id": .string(first?.modelID ?? ""),
            "base_url": .string(first?.baseURL ?? ""),
            "date": .string(first?.date ?? ""),
            "sweep_parameter": .string(parameter.resultField),
            "sweep_values": .array(values.map(BenchSettings.json(rate:))),
            "results": .array(results.map { .object($0.savedResult()) }),
        ])
    }

    /// `<label>-sweep-<parameter>-<model>-<date>.json`.
    package func defaultFileName(settings: BenchSettings) -> String {
        let model = settings.modelID.split(separator: "/").last.map(String.init) ?? settings.modelID
        return "\(settings.label)-sweep-\(parameter.rawValue)-\(model)-\(settings.date).json"
    }
}
