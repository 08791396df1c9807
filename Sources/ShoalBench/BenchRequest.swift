/// One request of a benchmark run: the prompt to send and how many tokens to ask for.
package struct BenchRequest: Sendable, Equatable {
    /// The completion prompt.
    package var prompt: String
    /// The prompt's length in tokens as the dataset estimates it (the server's `usage` replaces it when it comes).
    package var promptTokens: Int
    /// `max_tokens` of the request.
    package var maxTokens: Int
    /// The OpenAI `user` field (prefix groups send one so that a router can keep a user on one replica).
    package var user: String?

    package init(prompt: String, promptTokens: Int, maxTokens: Int, user: String? = nil) {
        self.prompt = prompt
        self.promptTokens = promptTokens
        self.maxTokens = maxTokens
        self.user = user
    }
}
