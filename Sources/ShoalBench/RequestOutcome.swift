/// What one streamed request measured. Times are seconds, measured from when the request was due to be sent
/// (its arrival, or later when it had to wait for a free slot under `--max-concurrency`).
package struct RequestOutcome: Sendable, Equatable {
    /// Time to the first chunk with text; nil when none came.
    package var ttft: Double?
    /// Every gap between two chunks with text (inter-token latencies, several tokens a chunk counting once).
    package var itls: [Double] = []
    /// From due to the end of the stream (end-to-end latency).
    package var latency: Double = 0
    /// Chunks with text.
    package var chunks = 0
    /// `usage.completion_tokens` of the final chunk, when the server sent one.
    package var usageCompletionTokens: Int?
    /// `usage.prompt_tokens`, when the server sent one.
    package var usagePromptTokens: Int?
    /// The dataset's estimate of the prompt length (used when there is no usage).
    package var estimatedPromptTokens = 0
    /// Seconds from the start of the run to when the request was due.
    package var startTime: Double = 0
    /// Seconds the request waited for a free slot after its arrival (0 without `--max-concurrency`).
    package var queueTime: Double = 0
    /// Why it failed; nil when it succeeded.
    package var error: String?

    package init(ttft: Double? = nil, itls: [Double] = [], latency: Double = 0, chunks: Int = 0,
                 usageCompletionTokens: Int? = nil, usagePromptTokens: Int? = nil, estimatedPromptTokens: Int = 0,
                 startTime: Double = 0, queueTime: Double = 0, error: String? = nil) {
        self.ttft = ttft
        self.itls = itls
        self.latency = latency
        self.chunks = chunks
        self.usageCompletionTokens = usageCompletionTokens
        self.usagePromptTokens = usagePromptTokens
        self.estimatedPromptTokens = estimatedPromptTokens
        self.startTime = startTime
        self.queueTime = queueTime
        self.error = error
    }

    package var succeeded: Bool { error == nil }

    /// Output tokens: the server's usage, else the chunks counted.
    package var outputTokens: Int { usageCompletionTokens ?? chunks }

    /// Prompt tokens: the server's usage, else the dataset's estimate.
    package var promptTokens: Int { usagePromptTokens ?? estimatedPromptTokens }

    /// Time per output token after the first, vLLM's TPOT: `(latency - ttft) / (outputTokens - 1)`; nil with fewer
    /// than two output tokens.
    package var tpot: Double? {
        guard let ttft, outputTokens > 1 else { return nil }
        return (latency - ttft) / Double(outputTokens - 1)
    }
}
