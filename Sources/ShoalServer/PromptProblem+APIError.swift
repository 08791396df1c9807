public import ShoalAPI
public import ShoalEngine

extension APIError {
    /// The OpenAI error for a prompt that `PromptLimits` refused, with vLLM's wording for context lengths: the one
    /// place where the engine's prompt problems become HTTP answers.
    /// - Parameters:
    ///   - input: what the prompt is called in the message: "prompt" (completions) or "messages" (chat).
    ///   - param: the field at fault (`prompt[1]` for the second of several prompts).
    public init(_ problem: PromptProblem, input: String, param: String) {
        switch problem {
        case .empty:
            self = .invalid(param, "\(param) must not be empty")
        case .tokenOutsideVocabulary(let id, let size):
            self = .invalid(param, "\(param): token id \(id) is outside the vocabulary (0..<\(size))")
        case .fillsContext(let prompt, let context):
            self.init(.contextLengthExceeded,
                "This model's maximum context length is \(context) tokens. However, your request has "
                    + "\(prompt) input tokens. Please reduce the length of the input \(input).",
                param: param)
        case .exceedsContext(let prompt, let maxTokens, let context):
            let (sum, overflow) = prompt.addingReportingOverflow(maxTokens)
            self.init(.contextLengthExceeded,
                "This model's maximum context length is \(context) tokens. However, you requested "
                    + "\(overflow ? "more than \(Int.max)" : String(sum)) tokens (\(prompt) in the \(input), \(maxTokens) in the "
                    + "completion). Please reduce the length of the \(input) or completion.",
                param: "max_tokens")
        }
    }
}
