internal import ShoalTokenizers

/// What a model accepts as a prompt: the one check of prompt ids and `max_tokens` against the vocabulary and the
/// context. The engine (`EngineCore.submit`), the one-sequence generator (`TextGenerator`) and the HTTP endpoints
/// (which check first, to name the field at fault) all run this check; the HTTP layer turns its `PromptProblem`
/// into an OpenAI error body in one place (`APIError(_:input:param:)`).
public struct PromptLimits: Sendable, Equatable {
    /// Ids from 0 up to this (exclusive) are tokens.
    public var vocabularySize: Int
    /// The longest prompt plus output.
    public var contextLength: Int

    public init(vocabularySize: Int, contextLength: Int) {
        self.vocabularySize = vocabularySize
        self.contextLength = contextLength
    }

    /// - Throws: the first `PromptProblem` of the prompt: empty, an id outside the vocabulary, the prompt alone
    ///   filling the context, or prompt plus `maxTokens` exceeding it.
    public func check(_ prompt: [Int32], maxTokens: Int) throws(PromptProblem) {
        guard !prompt.isEmpty else { throw .empty }
        if let bad = prompt.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
            throw .tokenOutsideVocabulary(bad, vocabularySize: vocabularySize)
        }
        if prompt.count >= contextLength { throw .fillsContext(promptTokens: prompt.count, contextLength: contextLength) }
        let (total, overflow) = prompt.count.addingReportingOverflow(maxTokens)
        if overflow || total > contextLength {
            throw .exceedsContext(promptTokens: prompt.count, maxTokens: maxTokens, contextLength: contextLength)
        }
    }
}

/// Why a prompt cannot be run (`PromptLimits.check`).
public enum PromptProblem: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case tokenOutsideVocabulary(Int32, vocabularySize: Int)
    /// The prompt leaves no room for a single output token.
    case fillsContext(promptTokens: Int, contextLength: Int)
    /// Prompt plus the requested output exceed the context.
    case exceedsContext(promptTokens: Int, maxTokens: Int, contextLength: Int)

    /// Whether the problem is the prompt's length (HTTP: `context_length_exceeded`) rather than its content.
    public var isContextLength: Bool {
        switch self {
        case .empty, .tokenOutsideVocabulary: false
        case .fillsContext, .exceedsContext: true
        }
    }

    public var description: String {
        switch self {
        case .empty: "the prompt is empty"
        case .tokenOutsideVocabulary(let id, let size): "prompt token id \(id) is outside the vocabulary (0..<\(size))"
        case .fillsContext(let prompt, let context):
            "the prompt's \(prompt) tokens leave no room for output in the context length of \(context) tokens"
        case .exceedsContext(let prompt, let maxTokens, let context):
            "the prompt's \(prompt) tokens plus max_tokens \(maxTokens) exceed the context length of \(context) tokens"
        }
    }
}

extension InferenceEngine {
    /// The limits prompts for this engine are checked against (`tokenizer` ids, `contextLength`).
    public var promptLimits: PromptLimits {
        PromptLimits(vocabularySize: tokenizer.vocabularySize, contextLength: contextLength)
    }
}
