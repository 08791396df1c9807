/// A grammar run as a deterministic automaton over bytes, built lazily: a state is the set of parse stacks a
/// pushdown matcher can be in after some input (llama.cpp's grammar stacks), and a transition is computed the first
/// time some input takes it, then kept. Stacks are hash-consed lists (a frame and its caller), so states compare by
/// value and recurring situations (inside a string, after a key) are the same state however they were reached.
/// Right recursion, which every repetition becomes, does not grow the stack.
///
/// Not thread-safe; `ConstraintRuntime` guards it.
final class GrammarAutomaton {
    let grammar: Grammar

    /// Stack frames: `position` is the next element to match in `grammar.elements`, `caller` the frame to go on
    /// with after this alternative ends (-1: the end of the input).
    private var framePositions: [Int32] = []
    private var frameCallers: [Int32] = []
    private var frameIndex: [UInt64: Int32] = [:]

    /// States: sorted frames whose next element is a byte set, and whether the input may end here.
    private(set) var stateFrames: [[Int32]] = []
    private(set) var stateAccepts: [Bool] = []
    private var stateIndex: [StateKey: Int32] = [:]
    /// `transitions[256 * s + b]`: the state after byte b in state s; -1 not yet computed.
    private var transitions: [Int32] = []

    /// The state with no way forward.
    static let dead: Int32 = 0
    /// The state before any input.
    private(set) var start: Int32 = 0

    /// States beyond which a grammar is refused (each costs a kilobyte of transitions).
    static let stateLimit = 200_000
    /// Stacks beyond which one state is refused (an ambiguous grammar can multiply them).
    static let stackLimit = 4_096

    private struct StateKey: Hashable {
        let frames: [Int32]
        let accepts: Bool
    }

    init(_ grammar: Grammar) throws(GrammarError) {
        self.grammar = grammar
        _ = intern(frames: [], accepts: false)  // dead
        var frames: [Int32] = []
        var accepts = false
        var seen = Set<Int32>()
        for altStart in grammar.alternatives[grammar.root] {
            try expand(frame(Int32(altStart), -1), &frames, &accepts, &seen)
        }
        start = intern(frames: frames, accepts: accepts)
    }

    /// Whether input may end in state `s`.
    func accepts(_ s: Int32) -> Bool { stateAccepts[Int(s)] }

    /// Whether any byte leads on from state `s`.
    func continues(_ s: Int32) -> Bool { !stateFrames[Int(s)].isEmpty }

    /// The state after byte `b` in state `s`.
    @inline(__always)
    func next(_ s: Int32, _ b: UInt8) throws(GrammarError) -> Int32 {
        let known = transitions[256 * Int(s) + Int(b)]
        if known >= 0 { return known }
        let t = try computeNext(s, b)
        transitions[256 * Int(s) + Int(b)] = t
        return t
    }

    /// The state after `bytes` from `s` (dead as soon as a byte has no way forward).
    func next(_ s: Int32, _ bytes: some Sequence<UInt8>) throws(GrammarError) -> Int32 {
        var state = s
        for b in bytes {
            if state == Self.dead { break }
            state = try next(state, b)
        }
        return state
    }

    var stateCount: Int { stateFrames.count }

    private func frame(_ position: Int32, _ caller: Int32) -> Int32 {
        let key = UInt64(UInt32(bitPattern: position)) << 32 | UInt64(UInt32(bitPattern: caller))
        if let known = frameIndex[key] { return known }
        let index = Int32(framePositions.count)
        framePositions.append(position)
        frameCallers.append(caller)
        frameIndex[key] = index
        return index
    }

    private func intern(frames: [Int32], accepts: Bool) -> Int32 {
        let key = StateKey(frames: frames, accepts: accepts)
        if let known = stateIndex[key] { return known }
        let index = Int32(stateFrames.count)
        stateFrames.append(frames)
        stateAccepts.append(accepts)
        stateIndex[key] = index
        transitions.append(contentsOf: repeatElement(-1, count: 256))
        return index
    }

    /// Follows frame `f` until every stack it leads to waits on a byte set (collected in `out`) or has ended
    /// (`accepts`). `seen` keeps one expansion per frame.
    private func expand(_ f: Int32, _ out: inout [Int32], _ accepts: inout Bool, _ seen: inout Set<Int32>) throws(GrammarError) {
        guard seen.insert(f).inserted else { return }
        let position = Int(framePositions[Int(f)])
        let caller = frameCallers[Int(f)]
        switch grammar.elements[position] {
        case .bytes:
            out.append(f)
            if out.count > Self.stackLimit {
                throw GrammarError(.unsupportedGrammar, "the grammar is too ambiguous: more than \(Self.stackLimit) parse stacks at once")
            }
        case .end:
            if caller < 0 { accepts = true } else { try expand(caller, &out, &accepts, &seen) }
        case .rule(let r):
            // Go on with the next element after the rule; at the end of an alternative, with the caller directly
            // (no frame that would only end), so right recursion keeps the stack flat.
            let next = position + 1
            let returnTo: Int32
            if case .end = grammar.elements[next] { returnTo = caller } else { returnTo = frame(Int32(next), caller) }
            for altStart in grammar.alternatives[r] {
                try expand(frame(Int32(altStart), returnTo), &out, &accepts, &seen)
            }
        }
    }

    private func computeNext(_ s: Int32, _ b: UInt8) throws(GrammarError) -> Int32 {
        var frames: [Int32] = []
        var accepts = false
        var seen = Set<Int32>()
        for f in stateFrames[Int(s)] {
            let position = Int(framePositions[Int(f)])
            guard case .bytes(let set) = grammar.elements[position], grammar.byteSets[set].contains(b) else { continue }
            try expand(frame(Int32(position + 1), frameCallers[Int(f)]), &frames, &accepts, &seen)
        }
        if frames.isEmpty && !accepts { return Self.dead }
        frames.sort()
        if stateFrames.count >= Self.stateLimit {
            throw GrammarError(.unsupportedGrammar, "the grammar needs more than \(Self.stateLimit) matcher states")
        }
        return intern(frames: frames, accepts: accepts)
    }
}

extension Grammar {
    /// Whether `text` as a whole is in the grammar's language.
    public func accepts(_ text: String) -> Bool { accepts(bytes: Array(text.utf8)) }

    /// Whether some continuation of `text` (possibly none) is in the language.
    public func acceptsPrefix(_ text: String) -> Bool { acceptsPrefix(bytes: Array(text.utf8)) }

    public func accepts(bytes: [UInt8]) -> Bool {
        guard let automaton = try? GrammarAutomaton(self), let s = try? automaton.next(automaton.start, bytes) else { return false }
        return automaton.accepts(s)
    }

    public func acceptsPrefix(bytes: [UInt8]) -> Bool {
        guard let automaton = try? GrammarAutomaton(self), let s = try? automaton.next(automaton.start, bytes) else { return false }
        return s != GrammarAutomaton.dead
    }
}
