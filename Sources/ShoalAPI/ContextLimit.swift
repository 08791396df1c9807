/// The check that prompt plus completion fit the model's context, with vLLM's wording.
public enum ContextLimit {
    /// - Parameters:
    ///   - promptTokens: The prompt's length in tokens.
    ///   - maxTokens: The requested completion length.
    ///   - contextLength: The model's maximum context length.
    ///   - input: What the prompt is called in the message: "messages" (chat) or "prompt" (completions).
    /// - Throws: `APIError` (400, code `context_length_exceeded`) naming the limit and both lengths.
    public static func check(promptTokens: Int, maxTokens: Int, contextLength: Int, input: String) throws(APIError) {
        if promptTokens >= contextLength {
            throw APIError(.contextLengthExceeded,
                "This model's maximum context length is \(contextLength) tokens. However, your request has "
                    + "\(promptTokens) input tokens. Please reduce the length of the input \(input).",
                param: input)
        }
        if promptTokens + maxTokens > contextLength {
            throw APIError(.contextLengthExceeded,
                "This model's maximum context length is \(contextLength) tokens. However, you requested "
                    + "\(promptTokens + maxTokens) tokens (\(promptTokens) in the \(input), \(maxTokens) in the "
                    + "completion). Please reduce the length of the \(input) or completion.",
                param: "max_tokens")
        }
    }
}
