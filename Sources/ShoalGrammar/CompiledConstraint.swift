import Synchronization

/// A model's vocabulary as the grammar matcher reads it: every token's bytes, sorted so that tokens sharing a
/// prefix are neighbours (a mask walk reuses the prefix's state and skips every token under a dead prefix, the
/// way a walk over a trie would). Built once per tokenizer.
public final class ConstraintVocabulary: Sendable {
    /// Tokens in the vocabulary (ids `0 ..< size`).
    public let size: Int
    /// Tokens that end generation (end of sequence, end of turn): allowed exactly where the grammar may end.
    public let endTokens: [Int32]
    /// Token ids with bytes, sorted by their bytes.
    let order: [Int32]
    /// `offsets[i] ..< offsets[i + 1]`: token `order[i]`'s bytes in `bytes`.
    let offsets: [Int32]
    let bytes: [UInt8]
    /// Bytes token `order[i]` shares with token `order[i - 1]`.
    let sharedPrefix: [Int32]
    /// Per token id, its index in `order` (-1: no bytes, or an end token).
    let position: [Int32]
    let longest: Int

    /// - Parameters:
    ///   - tokenBytes: each token id's bytes as it appears in text; empty for tokens that never appear in
    ///     constrained output (control and special tokens).
    ///   - endTokens: the ids that end generation.
    public init(tokenBytes: [[UInt8]], endTokens: [Int32]) {
        size = tokenBytes.count
        self.endTokens = endTokens.filter { $0 >= 0 && Int($0) < tokenBytes.count }
        let ends = Set(self.endTokens)
        let ids = tokenBytes.indices.filter { !tokenBytes[$0].isEmpty && !ends.contains(Int32($0)) }
        let sorted = ids.sorted { tokenBytes[$0].lexicographicallyPrecedes(tokenBytes[$1]) }
        order = sorted.map { Int32($0) }
        var offsets: [Int32] = [0]
        var bytes: [UInt8] = []
        var shared: [Int32] = []
        var previous: [UInt8] = []
        var longest = 0
        for id in sorted {
            let token = tokenBytes[id]
            var common = 0
            while common < min(token.count, previous.count), token[common] == previous[common] { common += 1 }
            shared.append(Int32(common))
            bytes += token
            offsets.append(Int32(bytes.count))
            longest = max(longest, token.count)
            previous = token
        }
        self.offsets = offsets
        self.bytes = bytes
        self.sharedPrefix = shared
        self.longest = longest
        var position = [Int32](repeating: -1, count: tokenBytes.count)
        for (i, id) in sorted.enumerated() { position[id] = Int32(i) }
        self.position = position
    }
}

/// A grammar compiled against a vocabulary: the lazily built automaton and, per automaton state, the mask of
/// tokens allowed there. Shared by every request with the same constraint (its states and masks are reused);
/// safe to use from any thread.
public final class CompiledConstraint: Sendable {
    public let vocabulary: ConstraintVocabulary
    /// The state before any output.
    public let initialState: Int32
    private let inner: Mutex<Inner>

    private struct Inner: ~Copyable {
        let automaton: GrammarAutomaton
        var masks: [Int32: [UInt64]] = [:]
        var maskWords = 0
    }

    /// Mask words kept before the cache is cleared (8 MiB: 1,365 masks of SmolLM2's vocabulary, 256 of Gemma 3's).
    static let maskBudgetWords = 1 << 20

    public init(grammar: Grammar, vocabulary: ConstraintVocabulary) throws(GrammarError) {
        self.vocabulary = vocabulary
        let automaton = try GrammarAutomaton(grammar)
        initialState = automaton.start
        inner = Mutex(Inner(automaton: automaton))
    }

    /// The tokens allowed in `state`: bit `id % 64` of word `id / 64`. End tokens are allowed where the grammar may
    /// end; nothing is allowed in the dead state.
    /// - Complexity: the first call for a state walks the sorted vocabulary (one automaton step per byte not shared
    ///   with the previous token, none under a dead prefix); later calls are a dictionary lookup.
    public func allowedTokens(in state: Int32) throws(GrammarError) -> [UInt64] {
        let vocabulary = vocabulary
        return try inner.withLock { (inner: inout Inner) throws(GrammarError) -> [UInt64] in
            if let known = inner.masks[state] { return known }
            let mask = try Self.walk(inner.automaton, vocabulary, from: state)
            if inner.maskWords + mask.count > Self.maskBudgetWords {
                inner.masks.removeAll()
                inner.maskWords = 0
            }
            inner.masks[state] = mask
            inner.maskWords += mask.count
            return mask
        }
    }

    /// The state after `token` in `state` (dead when the token is not allowed there; end tokens lead to the dead
    /// state too, as nothing may follow them).
    public func next(_ state: Int32, token: Int32) throws(GrammarError) -> Int32 {
        guard token >= 0, Int(token) < vocabulary.size else { return GrammarAutomaton.dead }
        return try inner.withLock { (inner: inout Inner) throws(GrammarError) -> Int32 in
            try inner.automaton.next(state, tokenBytes(token))
        }
    }

    /// Whether output may end in `state` (an end token is allowed).
    public func mayEnd(_ state: Int32) -> Bool {
        inner.withLock { $0.automaton.accepts(state) }
    }

    /// Whether output must end in `state`: it may end and no byte may follow.
    public func mustEnd(_ state: Int32) -> Bool {
        inner.withLock { $0.automaton.accepts(state) && !$0.automaton.continues(state) }
    }

    /// Whether `state` is the dead state (nothing allowed).
    public func isDead(_ state: Int32) -> Bool { state == GrammarAutomaton.dead }

    /// Automaton states built so far (for benchmarks and tests).
    public var stateCount: Int { inner.withLock { $0.automaton.stateCount } }

    private func tokenBytes(_ token: Int32) -> ArraySlice<UInt8> {
        let i = Int(vocabulary.position[Int(token)])
        guard i >= 0 else { return [] }
        return vocabulary.bytes[Int(vocabulary.offsets[i]) ..< Int(vocabulary.offsets[i + 1])]
    }

    private static func walk(_ automaton: GrammarAutomaton, _ v: ConstraintVocabulary, from state: Int32) throws(GrammarError) -> [UInt64] {
        var mask = [UInt64](repeating: 0, count: (v.size + 63) / 64)
        guard state != GrammarAutomaton.dead else { return mask }
        if automaton.accepts(state) {
            for id in v.endTokens { mask[Int(id) / 64] |= 1 << UInt64(Int(id) % 64) }
        }
        guard automaton.continues(state) else { return mask }
        var depthState = [Int32](repeating: GrammarAutomaton.dead, count: v.longest + 1)
        depthState[0] = state
        var deadDepth = Int.max
        try v.bytes.withUnsafeBufferPointer { (bytes) throws(GrammarError) in
            for i in v.order.indices {
                let shared = Int(v.sharedPrefix[i])
                // Under the prefix on which the previous token died: dead too.
                if shared >= deadDepth { continue }
                deadDepth = .max
                let start = Int(v.offsets[i]), length = Int(v.offsets[i + 1]) - start
                var s = depthState[shared]
                var d = shared
                while d < length {
                    s = try automaton.next(s, bytes[start + d])
                    d += 1
                    depthState[d] = s
                    if s == GrammarAutomaton.dead {
                        deadDepth = d
                        break
                    }
                }
                if s != GrammarAutomaton.dead {
                    let id = Int(v.order[i])
                    mask[id / 64] |= 1 << UInt64(id % 64)
                }
            }
        }
        return mask
    }
}
