package import ShoalAPI

/// What a benchmark run was asked to do, as its result records it.
package struct BenchSettings: Sendable, Equatable {
    /// vLLM's `--label`: the first part of the result's file name.
    package var label: String
    package var modelID: String
    package var baseURL: String
    /// `random`, `prefix_repetition` or `sharegpt` (vLLM's spellings).
    package var datasetName: String
    /// Requests per second; `.infinity` sends them all at once (within the concurrency cap).
    package var requestRate: Double
    package var burstiness: Double
    /// Requests in flight at most; nil for no cap.
    package var maxConcurrency: Int?
    package var seed: UInt64
    /// Which `pXX_` fields the result has.
    package var percentiles: [Double]
    package var goodput: GoodputObjectives?
    /// When the run started, `yyyyMMdd-HHmmss` (vLLM's `date`).
    package var date: String

    package init(label: String = "shoal", modelID: String, baseURL: String, datasetName: String = "random",
                 requestRate: Double = .infinity, burstiness: Double = 1, maxConcurrency: Int? = nil, seed: UInt64 = 1,
                 percentiles: [Double] = [50, 90, 99], goodput: GoodputObjectives? = nil, date: String = "") {
        self.label = label
        self.modelID = modelID
        self.baseURL = baseURL
        self.datasetName = datasetName
        self.requestRate = requestRate
        self.burstiness = burstiness
        self.maxConcurrency = maxConcurrency
        self.seed = seed
        self.percentiles = percentiles
        self.goodput = goodput
        self.date = date
    }

    /// A rate as vLLM writes it: a number, or the string `inf`.
    package static func json(rate: Double) -> JSONValue {
        rate.isFinite ? .number(rate) : .string("inf")
    }

    /// A rate as Python prints a float (`20.0`, `0.5`, `inf`), for file names like vLLM's.
    package static func text(rate: Double) -> String {
        rate.isFinite ? "\(rate)" : "inf"
    }
}
