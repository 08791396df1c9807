internal import Prometheus
internal import ShoalEngine
internal import Synchronization

/// The Prometheus series of the server, named as vLLM names them so dashboards, autoscalers and the
/// Gateway API Inference Extension (which reads `vllm:num_requests_waiting`, `vllm:num_requests_running` and
/// `vllm:kv_cache_usage_perc`) work unchanged. Every series has a `model_name` label.
///
/// Gauges and engine counters are read from `EngineStats` at scrape time; latency histograms and the
/// finished-request counter are recorded by the HTTP layer per engine request (each of `n` choices counts).
final class ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    /// Engine counters as last scraped, per model, so Prometheus counters grow by the difference.
    private let lastStats = Mutex<[String: EngineStats]>([:])

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    enum Name {
        static let running = "vllm:num_requests_running"
        static let waiting = "vllm:num_requests_waiting"
        static let kvCacheUsage = "vllm:kv_cache_usage_perc"
        static let gpuCacheUsage = "vllm:gpu_cache_usage_perc"
        static let prefixQueries = "vllm:prefix_cache_queries"
        static let prefixHits = "vllm:prefix_cache_hits"
        static let promptTokens = "vllm:prompt_tokens"
        static let generationTokens = "vllm:generation_tokens"
        static let preemptions = "vllm:num_preemptions"
        static let success = "vllm:request_success"
        static let ttft = "vllm:time_to_first_token"
        static let itl = "vllm:inter_token_latency"
        static let tpot = "vllm:time_per_output_token"
        static let e2e = "vllm:e2e_request_latency"
        static let queue = "vllm:request_queue_time"
        static let prefillTime = "vllm:request_prefill_time"
        static let decodeTime = "vllm:request_decode_time"
        static let inferenceTime = "vllm:request_inference_time"
        static let requestPromptTokens = "vllm:request_prompt_tokens"
        static let requestGenerationTokens = "vllm:request_generation_tokens"
        static let gpuPrefixQueries = "vllm:gpu_prefix_cache_queries"
        static let gpuPrefixHits = "vllm:gpu_prefix_cache_hits"
        static let cacheConfig = "vllm:cache_config_info"
        static let parallelSteps = "shoal:model_parallel_steps"
        static let parallelCompute = "shoal:model_parallel_compute_seconds"
        static let parallelNetwork = "shoal:model_parallel_network_seconds"
        static let parallelStraggler = "shoal:model_parallel_straggler_seconds"
    }

    // vLLM's buckets.
    private static let ttftBuckets: [Double] = [
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
        80.0, 160.0, 640.0, 2560.0,
    ]
    private static let tokenLatencyBuckets: [Double] = [
        0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
    ]
    private static let requestLatencyBuckets: [Double] = [
        0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0,
        960.0, 1920.0, 7680.0,
    ]

    private func gauge(_ name: String, _ help: String, model: String) -> Gauge {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help),
            labels: [("model_name", model)])
    }

    private func counter(_ name: String, _ help: String, labels: [(String, String)]) -> Counter {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: name, unitName: "total", helpText: help), labels: labels)
    }

    private func histogram(_ name: String, _ help: String, buckets: [Double], model: String,
                           unit: String = "seconds") -> ValueHistogram {
        registry.makeValueHistogram(
            descriptor: MetricNameDescriptor(metricName: name, unitName: unit, helpText: help),
            labels: [("model_name", model)], buckets: buckets)
    }

    /// Token-count buckets as vLLM makes them, 1, 2, 5, 10, 20, 50, ..., up to 1,000,000: the same for every model
    /// (vLLM stops at its one model's context, but Prometheus wants one set of buckets per series name, and one
    /// `shoal serve` may serve models of different contexts).
    static let tokenCountBuckets = tokenCountBuckets(upTo: 1_000_000)

    static func tokenCountBuckets(upTo limit: Int) -> [Double] {
        var buckets: [Double] = []
        var exponent = 1.0
        while true {
            for mantissa in [1.0, 2.0, 5.0] {
                let value = mantissa * exponent
                guard value <= Double(max(limit, 1)) else { return buckets }
                buckets.append(value)
            }
            exponent *= 10
        }
    }

    private func tokenHistogram(_ name: String, _ help: String, model: String) -> ValueHistogram {
        histogram(name, help, buckets: Self.tokenCountBuckets, model: model, unit: "")
    }

    /// Creates every series of a model at zero, so dashboards see them before the first request (and `rate()` sees
    /// the first requests' increase). `update` does it too, for models that finish loading after the server starts.
    func register(model: String) {
        update(model: model, stats: EngineStats())
    }

    private func registerSeries(model: String) {
        for reason in ["stop", "length", "abort"] {
            _ = counter(Name.success, Help.success, labels: [("model_name", model), ("finished_reason", reason)])
        }
        _ = histogram(Name.ttft, Help.ttft, buckets: Self.ttftBuckets, model: model)
        _ = histogram(Name.itl, Help.itl, buckets: Self.tokenLatencyBuckets, model: model)
        _ = histogram(Name.tpot, Help.tpot, buckets: Self.tokenLatencyBuckets, model: model)
        _ = histogram(Name.e2e, Help.e2e, buckets: Self.requestLatencyBuckets, model: model)
        _ = histogram(Name.queue, Help.queue, buckets: Self.requestLatencyBuckets, model: model)
        for (name, help) in [(Name.prefillTime, Help.prefillTime), (Name.decodeTime, Help.decodeTime),
                             (Name.inferenceTime, Help.inferenceTime)] {
            _ = histogram(name, help, buckets: Self.requestLatencyBuckets, model: model)
        }
        _ = tokenHistogram(Name.requestPromptTokens, Help.requestPromptTokens, model: model)
        _ = tokenHistogram(Name.requestGenerationTokens, Help.requestGenerationTokens, model: model)
    }

    /// Sets the gauges and advances the counters from an engine snapshot.
    func update(model: String, stats: EngineStats) {
        if stats.kvBlockSize > 0 {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(metricName: Name.cacheConfig, helpText: Help.cacheConfig),
                labels: [("model_name", model), ("block_size", "\(stats.kvBlockSize)"),
                         ("num_gpu_blocks", "\(stats.kvBlocksTotal)"), ("cache_dtype", stats.kvCacheType)]
            ).set(1.0)
        }
        gauge(Name.running, Help.running, model: model).set(Double(stats.running))
        gauge(Name.waiting, Help.waiting, model: model).set(Double(stats.waiting))
        gauge(Name.kvCacheUsage, Help.kvCacheUsage, model: model).set(stats.kvCacheUsage)
        gauge(Name.gpuCacheUsage, Help.gpuCacheUsage, model: model).set(stats.kvCacheUsage)
        let (previous, isNew) = lastStats.withLock { last in
            defer { last[model] = stats }
            return (last[model] ?? EngineStats(), last[model] == nil)
        }
        if isNew { registerSeries(model: model) }
        let labels = [("model_name", model)]
        for (name, help) in [(Name.prefixQueries, Help.prefixQueries), (Name.prefixHits, Help.prefixHits),
                             (Name.gpuPrefixQueries, Help.gpuPrefixQueries), (Name.gpuPrefixHits, Help.gpuPrefixHits),
                             (Name.promptTokens, Help.promptTokens), (Name.generationTokens, Help.generationTokens),
                             (Name.preemptions, Help.preemptions)] {
            _ = counter(name, help, labels: labels)
        }
        func advance(_ name: String, _ help: String, _ now: Int, _ before: Int) {
            // A counter only grows; if the engine's count went back (a restarted engine), count from zero.
            let delta = now >= before ? now - before : now
            if delta > 0 { counter(name, help, labels: labels).increment(by: Int64(delta)) }
        }
        advance(Name.prefixQueries, Help.prefixQueries, stats.prefixCacheQueries, previous.prefixCacheQueries)
        advance(Name.prefixHits, Help.prefixHits, stats.prefixCacheHits, previous.prefixCacheHits)
        advance(Name.gpuPrefixQueries, Help.gpuPrefixQueries, stats.prefixCacheQueries, previous.prefixCacheQueries)
        advance(Name.gpuPrefixHits, Help.gpuPrefixHits, stats.prefixCacheHits, previous.prefixCacheHits)
        advance(Name.promptTokens, Help.promptTokens, stats.promptTokens, previous.promptTokens)
        advance(Name.generationTokens, Help.generationTokens, stats.generationTokens, previous.generationTokens)
        advance(Name.preemptions, Help.preemptions, stats.preemptions, previous.preemptions)
        updateProfile(model: model, now: stats.profile, before: previous.profile)
    }

    /// Advances the per-process time split of a split model's steps (nothing for one process).
    private func updateProfile(model: String, now: ExecutorProfile, before: ExecutorProfile) {
        guard !now.parts.isEmpty else { return }
        let steps = now.steps >= before.steps ? now.steps - before.steps : now.steps
        let stepCounter = counter(Name.parallelSteps, Help.parallelSteps, labels: [("model_name", model)])
        if steps > 0 { stepCounter.increment(by: Int64(steps)) }
        for part in now.parts {
            let labels = [("model_name", model), ("part", part.role)]
            let previous = before.parts.first { $0.role == part.role }
            for (name, help, value, old) in [
                (Name.parallelCompute, Help.parallelCompute, part.computeSeconds, previous?.computeSeconds ?? 0),
                (Name.parallelNetwork, Help.parallelNetwork, part.networkSeconds, previous?.networkSeconds ?? 0),
                (Name.parallelStraggler, Help.parallelStraggler, part.stragglerSeconds, previous?.stragglerSeconds ?? 0),
            ] {
                let series = counter(name, help, labels: labels)
                let delta = value >= old ? value - old : value
                if delta > 0 { series.increment(by: delta) }
            }
        }
    }

    /// Records one finished (or aborted) engine request. `usage` (absent for requests that never finished) gives
    /// its token counts and the engine's time from arrival to first step (`queueSeconds`), which splits the
    /// request's time as vLLM does: queued, prefill (first step to first token), decode (first token to the end),
    /// inference (first step to the end).
    func record(model: String, timing: RequestTiming, usage: EngineUsage?, finishReason: String) {
        let queueSeconds = usage?.queueSeconds
        counter(Name.success, Help.success, labels: [("model_name", model), ("finished_reason", finishReason)])
            .increment()
        if let ttft = timing.timeToFirstToken {
            histogram(Name.ttft, Help.ttft, buckets: Self.ttftBuckets, model: model).record(ttft)
        }
        if let queueSeconds {
            histogram(Name.queue, Help.queue, buckets: Self.requestLatencyBuckets, model: model).record(queueSeconds)
        }
        let itl = histogram(Name.itl, Help.itl, buckets: Self.tokenLatencyBuckets, model: model)
        for gap in timing.interTokenGaps { itl.record(gap) }
        if let tpot = timing.timePerOutputToken {
            histogram(Name.tpot, Help.tpot, buckets: Self.tokenLatencyBuckets, model: model).record(tpot)
        }
        histogram(Name.e2e, Help.e2e, buckets: Self.requestLatencyBuckets, model: model).record(timing.endToEnd)
        guard let usage else { return }
        tokenHistogram(Name.requestPromptTokens, Help.requestPromptTokens, model: model).record(Double(usage.promptTokens))
        tokenHistogram(Name.requestGenerationTokens, Help.requestGenerationTokens, model: model)
            .record(Double(usage.completionTokens))
        if let queueSeconds {
            if let ttft = timing.timeToFirstToken {
                histogram(Name.prefillTime, Help.prefillTime, buckets: Self.requestLatencyBuckets, model: model)
                    .record(max(0, ttft - queueSeconds))
            }
            histogram(Name.inferenceTime, Help.inferenceTime, buckets: Self.requestLatencyBuckets, model: model)
                .record(max(0, timing.endToEnd - queueSeconds))
        }
        if let decode = timing.decodeSeconds {
            histogram(Name.decodeTime, Help.decodeTime, buckets: Self.requestLatencyBuckets, model: model).record(decode)
        }
    }

    /// The Prometheus text exposition of the registry.
    func render(engines: [String: any InferenceEngine]) -> String {
        for (name, engine) in engines { update(model: name, stats: engine.stats()) }
        return registry.emitToString()
    }

    enum Help {
        static let running = "Number of requests in model execution batches."
        static let waiting = "Number of requests waiting to be processed."
        static let kvCacheUsage = "KV-cache usage. 1 means 100 percent usage."
        static let gpuCacheUsage = "KV-cache usage (alias of vllm:kv_cache_usage_perc). 1 means 100 percent usage."
        static let prefixQueries = "Prefix cache queries, in terms of number of queried tokens."
        static let prefixHits = "Prefix cache hits, in terms of number of cached tokens."
        static let promptTokens = "Number of prefill tokens processed."
        static let generationTokens = "Number of generation tokens processed."
        static let preemptions = "Cumulative number of preemptions from the engine."
        static let success = "Count of finished requests, by finish reason (stop, length, abort)."
        static let ttft = "Histogram of time to first token in seconds."
        static let itl = "Histogram of inter-token latency in seconds."
        static let tpot = "Histogram of time per output token in seconds."
        static let e2e = "Histogram of end to end request latency in seconds."
        static let queue = "Histogram of time spent in the WAITING phase for request."
        static let prefillTime = "Histogram of time spent in the PREFILL phase for request (first step to first token)."
        static let decodeTime = "Histogram of time spent in the DECODE phase for request (first token to the end)."
        static let inferenceTime = "Histogram of time spent in the RUNNING phase for request (first step to the end)."
        static let requestPromptTokens = "Number of prefill tokens processed, per request."
        static let requestGenerationTokens = "Number of generation tokens processed, per request."
        static let gpuPrefixQueries = "Prefix cache queries in tokens (alias of vllm:prefix_cache_queries)."
        static let gpuPrefixHits = "Prefix cache hits in tokens (alias of vllm:prefix_cache_hits)."
        static let cacheConfig = "Information of the KV cache: block size (tokens), blocks, and how keys and values are stored."
        static let parallelSteps = "Steps a split model (tensor or pipeline parallel) has run."
        static let parallelCompute = "Seconds each process of a split model spent computing its share of the steps."
        static let parallelNetwork = "Seconds each process of a split model spent on the network (sending, receiving)."
        static let parallelStraggler = "Seconds each process of a split model waited for slower processes (their sums)."
    }
}

/// When one engine request's events arrived, for the latency histograms.
struct RequestTiming: Sendable {
    let submitted: ContinuousClock.Instant
    private(set) var firstEvent: ContinuousClock.Instant?
    private(set) var lastToken: ContinuousClock.Instant?
    private(set) var tokens = 0
    private(set) var interTokenGaps: [Double] = []
    private(set) var finished: ContinuousClock.Instant?

    init(submitted: ContinuousClock.Instant) {
        self.submitted = submitted
    }

    mutating func token(at now: ContinuousClock.Instant) {
        if firstEvent == nil { firstEvent = now }
        if let lastToken { interTokenGaps.append((now - lastToken).seconds) }
        lastToken = now
        tokens += 1
    }

    mutating func finish(at now: ContinuousClock.Instant) {
        if firstEvent == nil { firstEvent = now }
        finished = now
    }

    var timeToFirstToken: Double? { firstEvent.map { ($0 - submitted).seconds } }
    /// First token to the end.
    var decodeSeconds: Double? {
        guard let firstEvent, let finished else { return nil }
        return (finished - firstEvent).seconds
    }
    var endToEnd: Double { ((finished ?? .now) - submitted).seconds }
    var timePerOutputToken: Double? {
        guard tokens > 1, let firstEvent, let lastToken else { return nil }
        return (lastToken - firstEvent).seconds / Double(tokens - 1)
    }
}
