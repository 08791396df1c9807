/// OpenAI's `usage`.
public struct Usage: Codable, Sendable, Equatable {
    /// `prompt_tokens_details`.
    public struct PromptTokensDetails: Codable, Sendable, Equatable {
        /// Prompt tokens served from the prefix cache.
        public var cachedTokens: Int

        public init(cachedTokens: Int) {
            self.cachedTokens = cachedTokens
        }

        enum CodingKeys: String, CodingKey {
            case cachedTokens = "cached_tokens"
        }
    }

    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    public var promptTokensDetails: PromptTokensDetails?

    public init(promptTokens: Int, completionTokens: Int, cachedTokens: Int?) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        totalTokens = promptTokens + completionTokens
        promptTokensDetails = cachedTokens.map { PromptTokensDetails(cachedTokens: $0) }
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
        case promptTokensDetails = "prompt_tokens_details"
    }
}
