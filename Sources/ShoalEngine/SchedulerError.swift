/// Why the ``Scheduler`` refused a request or a call.
public struct SchedulerError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// The waiting queue is at `maxWaiting`: answer 429/503 and let the client retry.
        case queueFull
        /// Prompt plus `maxTokens` can never fit in the whole KV cache.
        case exceedsCacheCapacity
        /// Prompt plus `maxTokens` exceeds the model's context length.
        case exceedsContextLength
        /// The request itself is malformed (empty prompt, `maxTokens` below 1, an id already in use).
        case invalidRequest
        /// The configuration is inconsistent.
        case invalidConfiguration
        /// `complete` was given a step that is not the one last scheduled, or got no sampled token for a sequence.
        case invalidStep
    }

    /// What kind of refusal, for mapping to an HTTP status.
    public var code: Code
    /// What was wrong, naming the value or limit.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
