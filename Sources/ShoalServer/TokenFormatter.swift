internal import ShoalAPI
internal import ShoalEngine
internal import ShoalTokenizers

/// Renders tokens and their log-probabilities in the OpenAI shapes.
struct TokenFormatter: Sendable {
    let tokenizer: any Tokenizer

    /// The token's text; a token that is not valid UTF-8 on its own (part of a character) is written as
    /// `bytes:\xe2\x80`, as vLLM does.
    func text(of id: Int32) -> String {
        let bytes = tokenizer.bytes(of: id, skipSpecial: false)
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return "bytes:" + bytes.map { "\\x" + String($0, radix: 16, uppercase: false).leftPadded(to: 2) }.joined()
    }

    /// JSON cannot hold -inf or NaN: vLLM writes -9999.0 instead.
    static func clamp(_ logprob: Float) -> Float {
        logprob.isNaN ? -9999 : max(logprob, -9999)
    }

    /// The alternatives of a token with the chosen one among them (vLLM returns it even when it is not in the top N).
    private func alternatives(of token: GeneratedToken, limit: Int) -> [TokenLogprob] {
        var top = Array(token.topLogprobs.prefix(limit))
        if !top.contains(where: { $0.id == token.id }) {
            top.append(TokenLogprob(id: token.id, logprob: token.logprob))
        }
        return top
    }

    /// The completions `top_logprobs` entry of one token.
    func completionTop(_ token: GeneratedToken, limit: Int) -> OrderedLogprobs {
        OrderedLogprobs(alternatives(of: token, limit: limit).map { (text(of: $0.id), Self.clamp($0.logprob)) })
    }

    /// The chat `logprobs.content` entry of one token.
    func chatEntry(_ token: GeneratedToken, limit: Int) -> ChatTokenLogprob {
        ChatTokenLogprob(
            token: text(of: token.id), logprob: Self.clamp(token.logprob),
            bytes: tokenizer.bytes(of: token.id, skipSpecial: false),
            topLogprobs: token.topLogprobs.prefix(limit).map {
                ChatTopLogprob(token: text(of: $0.id), logprob: Self.clamp($0.logprob),
                               bytes: tokenizer.bytes(of: $0.id, skipSpecial: false))
            })
    }
}

/// Builds a completions `logprobs` object token by token, keeping `text_offset` in step with the text.
struct CompletionLogprobsBuilder {
    private(set) var logprobs = CompletionLogprobs()
    /// Unicode scalars of the choice's text so far (what `text_offset` counts).
    private(set) var offset = 0

    init(offset: Int = 0) {
        self.offset = offset
    }

    /// An echoed prompt token: text and offset, no log-probability.
    mutating func appendPrompt(_ text: String) {
        logprobs.tokens.append(text)
        logprobs.tokenLogprobs.append(nil)
        logprobs.topLogprobs.append(nil)
        logprobs.textOffset.append(offset)
        offset += text.unicodeScalars.count
    }

    /// A generated token; `emitted` is the text it released (may be empty while bytes are held back).
    mutating func append(_ token: GeneratedToken, emitted: String, formatter: TokenFormatter, limit: Int) {
        logprobs.tokens.append(formatter.text(of: token.id))
        logprobs.tokenLogprobs.append(TokenFormatter.clamp(token.logprob))
        logprobs.topLogprobs.append(formatter.completionTop(token, limit: limit))
        logprobs.textOffset.append(offset)
        offset += emitted.unicodeScalars.count
    }

    /// Text released without a token of its own (the trailing text at the end).
    mutating func advance(by text: String) {
        offset += text.unicodeScalars.count
    }

    /// Returns the entries gathered since the last call and starts over (streaming).
    mutating func take() -> CompletionLogprobs {
        defer { logprobs = CompletionLogprobs() }
        return logprobs
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
