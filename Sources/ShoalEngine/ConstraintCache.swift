public import ShoalGrammar
public import ShoalTokenizers
import Synchronization

/// Compiled output constraints for one model, by grammar text: a schema, expression or grammar that many requests
/// share is parsed once, and its automaton states and token masks serve them all. The vocabulary is read from the
/// tokenizer on first use.
public final class ConstraintCache: Sendable {
    private let tokenizer: any Tokenizer
    private let capacity: Int
    private let state = Mutex<State>(State())

    private struct State: ~Copyable {
        var vocabulary: ConstraintVocabulary?
        var compiled: [String: CompiledConstraint] = [:]
        /// Grammar texts, least recently used first.
        var order: [String] = []
    }

    /// - Parameter capacity: compiled constraints kept (least recently used ones are dropped).
    public init(tokenizer: any Tokenizer, capacity: Int = 16) {
        self.tokenizer = tokenizer
        self.capacity = capacity
    }

    /// The constraint for GBNF `grammar`, compiled on first use.
    /// - Throws: `GrammarError` for a grammar that does not parse or cannot run.
    public func compile(_ grammar: String) throws(GrammarError) -> CompiledConstraint {
        let tokenizer = tokenizer
        let capacity = capacity
        return try state.withLock { (state: inout State) throws(GrammarError) -> CompiledConstraint in
            if let known = state.compiled[grammar] {
                state.order.removeAll { $0 == grammar }
                state.order.append(grammar)
                return known
            }
            let vocabulary = state.vocabulary ?? Self.vocabulary(of: tokenizer)
            state.vocabulary = vocabulary
            let compiled = try CompiledConstraint(grammar: try Grammar(gbnf: grammar), vocabulary: vocabulary)
            state.compiled[grammar] = compiled
            state.order.append(grammar)
            if state.order.count > capacity { state.compiled[state.order.removeFirst()] = nil }
            return compiled
        }
    }

    /// Every token's bytes (none for special and control tokens); end-of-sequence and end-of-turn tokens end.
    static func vocabulary(of tokenizer: any Tokenizer) -> ConstraintVocabulary {
        let ends = tokenizer.endOfTurnIDs.union(tokenizer.eosID.map { [$0] } ?? [])
        let bytes = (0..<tokenizer.vocabularySize).map { tokenizer.bytes(of: Int32($0), skipSpecial: true) }
        return ConstraintVocabulary(tokenBytes: bytes, endTokens: ends.sorted())
    }
}
