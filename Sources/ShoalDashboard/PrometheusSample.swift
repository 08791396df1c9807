/// One sample of a Prometheus text exposition: `name{label="value",...} value`.
package struct PrometheusSample: Sendable, Equatable {
    /// The series name as written, with its suffix (`vllm:generation_tokens_total`, `..._bucket`).
    package var name: String
    /// Label values, unescaped.
    package var labels: [String: String]
    package var value: Double

    package init(name: String, labels: [String: String] = [:], value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }
}
