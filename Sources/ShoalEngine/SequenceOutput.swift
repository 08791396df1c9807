public import ShoalTokenizers
import ShoalGrammar

/// Turns one sequence's logits into client-visible output: samples a token, decides whether it ends the
/// sequence (end-of-sequence token, stop token id, stop string) and releases only text that is safe to show
/// (complete UTF-8, nothing that might still become a stop string).
///
/// Shared by `TextGenerator` and `EngineCore`, so the CLI and the server stop and stream identically.
public struct SequenceOutput: Sendable {
    /// What one sampled token means for the client.
    public enum Decision: Sendable {
        /// Show this token; generation goes on (unless `max_tokens` is reached).
        case token(GeneratedToken)
        /// Show this token, then stop: a stop string ended inside it (its `text` is cut before the stop string).
        case tokenThenStop(GeneratedToken)
        /// The token is an end-of-sequence or stop token id: show nothing of it and stop.
        case stop(id: Int32)
        /// The output constraint cannot go on (a grammar too large to run); the request fails with this message.
        case failed(String)
    }

    private var sampler: Sampler
    public private(set) var history: TokenHistory
    private var detokenizer: StreamingDetokenizer
    private var stops: StopStringMatcher
    private let stopIDs: Set<Int32>
    private let endIDs: Set<Int32>
    /// The grammar the output follows, at the state after the tokens so far.
    public private(set) var constraint: OutputConstraint?

    public init(params: SamplingParams, prompt: [Int32], tokenizer: any Tokenizer, vocabularySize: Int) {
        sampler = Sampler(params: params, vocabularySize: vocabularySize)
        history = TokenHistory(prompt: prompt)
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        stops = StopStringMatcher(stops: params.stop)
        stopIDs = Set(params.stopTokenIDs)
        endIDs = params.ignoreEOS ? [] : tokenizer.endOfTurnIDs
        constraint = params.constraint
    }

    /// Samples from `logits` (used as scratch) and classifies the result.
    public mutating func next(logits: UnsafeMutableBufferPointer<Float>) -> Decision {
        var allowed: [UInt64]?
        if let constraint {
            do { allowed = try constraint.compiled.allowedTokens(in: constraint.state) } catch { return .failed(error.message) }
        }
        let sampled = sampler.sample(logits: logits, context: history, allowed: allowed)
        history.append(sampled.id)
        if endIDs.contains(sampled.id) || stopIDs.contains(sampled.id) { return .stop(id: sampled.id) }
        // The grammar is complete when nothing may follow: stop here rather than spend a step on the end token.
        var complete = false
        if var constraint {
            do { constraint.state = try constraint.compiled.next(constraint.state, token: sampled.id) } catch {
                return .failed(error.message)
            }
            if constraint.compiled.isDead(constraint.state) {
                return .failed("the output constraint allows no token here")
            }
            complete = constraint.compiled.mustEnd(constraint.state)
            self.constraint = constraint
        }
        let (piece, stopped) = stops.append(detokenizer.append(sampled.id))
        let token = GeneratedToken(id: sampled.id, text: piece, logprob: sampled.logprob, topLogprobs: sampled.topLogprobs)
        return stopped || complete ? .tokenThenStop(token) : .token(token)
    }

    /// Text still held back when the sequence ends without a stop string, plus whether releasing it hit one.
    public mutating func finish() -> (text: String, stopped: Bool) {
        if stops.stopped { return ("", true) }
        let flushed = stops.append(detokenizer.finish())
        return (flushed.emit + (flushed.stopped ? "" : stops.finish()), flushed.stopped)
    }
}
