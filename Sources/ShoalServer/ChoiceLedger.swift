internal import ShoalAPI
internal import ShoalEngine

/// Per-choice bookkeeping of one HTTP request: token counts, finish reasons, usage and latency timings,
/// recorded into the metrics once per choice (aborted ones included).
struct ChoiceLedger {
    struct Entry {
        var timing: RequestTiming
        var tokens = 0
        var usage: EngineUsage?
        var finishReason: String?
        var recorded = false
    }

    let metrics: ServerMetrics
    let model: String
    let promptLengths: [Int]
    let n: Int
    private(set) var entries: [Entry]

    init(metrics: ServerMetrics, model: String, promptLengths: [Int], n: Int, submitted: ContinuousClock.Instant) {
        self.metrics = metrics
        self.model = model
        self.promptLengths = promptLengths
        self.n = n
        entries = Array(repeating: Entry(timing: RequestTiming(submitted: submitted)), count: promptLengths.count * n)
    }

    mutating func token(_ choice: Int) {
        entries[choice].timing.token(at: .now)
        entries[choice].tokens += 1
    }

    mutating func finish(_ choice: Int, reason: String, usage: EngineUsage?) {
        guard !entries[choice].recorded else { return }
        entries[choice].timing.finish(at: .now)
        entries[choice].usage = usage
        entries[choice].finishReason = reason
        entries[choice].recorded = true
        metrics.record(model: model, timing: entries[choice].timing, usage: usage, finishReason: reason)
    }

    /// Counts every choice that did not finish as aborted (client gone, engine error).
    mutating func abortUnfinished() {
        for choice in entries.indices where !entries[choice].recorded {
            finish(choice, reason: "abort", usage: nil)
        }
    }

    /// OpenAI's `usage` for the whole request: each prompt counted once, every choice's completion tokens.
    var usage: Usage {
        var cached = 0
        for p in promptLengths.indices {
            cached += entries[p * n].usage?.cachedTokens ?? 0
        }
        let completion = entries.reduce(0) { $0 + ($1.usage?.completionTokens ?? $1.tokens) }
        return Usage(promptTokens: promptLengths.reduce(0, +), completionTokens: completion, cachedTokens: cached)
    }
}

extension FinishReason {
    /// OpenAI's `finish_reason` string.
    var apiValue: String { rawValue }
}
