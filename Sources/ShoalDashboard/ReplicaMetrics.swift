/// What the dashboard reads from one scrape of a replica's `/metrics`: the engine gauges and the counters and
/// histogram that rates and percentiles are computed from (by differences between two scrapes).
package struct ReplicaMetrics: Sendable, Equatable {
    package var running: Double = 0
    package var waiting: Double = 0
    /// KV-cache use, 0...1 (the fullest model's when several are summed); nil when not exported.
    package var kvCacheUsage: Double?
    /// Prefix-cache hits and lookups, in tokens.
    package var prefixCacheHits: Double = 0
    package var prefixCacheQueries: Double = 0
    package var promptTokens: Double = 0
    package var generationTokens: Double = 0
    /// Requests finished for any reason, and those of them aborted.
    package var finishedRequests: Double = 0
    package var abortedRequests: Double = 0
    package var timeToFirstToken: HistogramBuckets?

    package init(running: Double = 0, waiting: Double = 0, kvCacheUsage: Double? = nil, prefixCacheHits: Double = 0,
                 prefixCacheQueries: Double = 0, promptTokens: Double = 0, generationTokens: Double = 0,
                 finishedRequests: Double = 0, abortedRequests: Double = 0, timeToFirstToken: HistogramBuckets? = nil) {
        self.running = running
        self.waiting = waiting
        self.kvCacheUsage = kvCacheUsage
        self.prefixCacheHits = prefixCacheHits
        self.prefixCacheQueries = prefixCacheQueries
        self.promptTokens = promptTokens
        self.generationTokens = generationTokens
        self.finishedRequests = finishedRequests
        self.abortedRequests = abortedRequests
        self.timeToFirstToken = timeToFirstToken
    }

    /// Reads the vLLM series of a scrape.
    /// - Parameters:
    ///   - samples: the parsed `/metrics`.
    ///   - model: only the series with this `model_name`; nil sums over every model.
    package init(samples: [PrometheusSample], model: String? = nil) {
        func matches(_ sample: PrometheusSample) -> Bool {
            model.map { sample.labels[VLLMMetricName.modelLabel] == $0 } ?? true
        }
        /// The samples of the first of `names` present (vLLM's aliases must not be counted twice).
        func series(_ names: [String]) -> [PrometheusSample] {
            for name in names {
                let found = samples.filter { $0.name == name && matches($0) && !$0.value.isNaN }
                if !found.isEmpty { return found }
            }
            return []
        }
        func sum(_ names: [String]) -> Double { series(names).reduce(0) { $0 + $1.value } }
        running = sum(VLLMMetricName.running)
        waiting = sum(VLLMMetricName.waiting)
        kvCacheUsage = series(VLLMMetricName.kvCacheUsage).map(\.value).max()
        prefixCacheHits = sum(VLLMMetricName.prefixCacheHits)
        prefixCacheQueries = sum(VLLMMetricName.prefixCacheQueries)
        promptTokens = sum(VLLMMetricName.promptTokens)
        generationTokens = sum(VLLMMetricName.generationTokens)
        let finished = series(VLLMMetricName.requestSuccess)
        finishedRequests = finished.reduce(0) { $0 + $1.value }
        abortedRequests = finished.filter { $0.labels[VLLMMetricName.finishedReasonLabel] == "abort" }
            .reduce(0) { $0 + $1.value }
        timeToFirstToken = HistogramBuckets(samples: samples, name: VLLMMetricName.timeToFirstToken, matching: matches)
    }

    /// The models a scrape has series for (`model_name` labels), sorted.
    package static func models(in samples: [PrometheusSample]) -> [String] {
        Array(Set(samples.compactMap { $0.labels[VLLMMetricName.modelLabel] })).sorted()
    }
}
