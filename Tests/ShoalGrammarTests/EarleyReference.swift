import ShoalGrammar

/// A slow, independent recognizer for `Grammar` (Earley's algorithm over bytes), the reference the automaton and the
/// token masks are checked against: `viable(text)` says whether some continuation of text is in the language,
/// `complete(text)` whether text itself is.
struct EarleyReference {
    let grammar: Grammar

    /// An item: alternative starting at `start` in `grammar.elements`, dot at `dot`, begun at input position `origin`.
    private struct Item: Hashable {
        let rule: Int
        let start: Int
        let dot: Int
        let origin: Int
    }

    private func chart(_ text: [UInt8]) -> [[Item]] {
        var sets: [[Item]] = Array(repeating: [], count: text.count + 1)
        var seen: [Set<Item>] = Array(repeating: [], count: text.count + 1)
        func add(_ item: Item, _ i: Int) {
            if seen[i].insert(item).inserted { sets[i].append(item) }
        }
        for start in grammar.alternatives[grammar.root] { add(Item(rule: grammar.root, start: start, dot: start, origin: 0), 0) }
        for i in 0...text.count {
            var k = 0
            while k < sets[i].count {
                let item = sets[i][k]
                k += 1
                switch grammar.elements[item.dot] {
                case .end:
                    // Complete: advance every item at the origin waiting on this rule.
                    var j = 0
                    while j < sets[item.origin].count {
                        let waiting = sets[item.origin][j]
                        j += 1
                        if case .rule(let r) = grammar.elements[waiting.dot], r == item.rule {
                            add(Item(rule: waiting.rule, start: waiting.start, dot: waiting.dot + 1, origin: waiting.origin), i)
                        }
                    }
                case .rule(let r):
                    for start in grammar.alternatives[r] { add(Item(rule: r, start: start, dot: start, origin: i), i) }
                    // A rule completed empty at i earlier: advance past it now too.
                    if sets[i].contains(where: { $0.rule == r && $0.origin == i && grammar.elements[$0.dot] == .end }) {
                        add(Item(rule: item.rule, start: item.start, dot: item.dot + 1, origin: item.origin), i)
                    }
                case .bytes(let set):
                    if i < text.count, grammar.byteSets[set].contains(text[i]) {
                        add(Item(rule: item.rule, start: item.start, dot: item.dot + 1, origin: item.origin), i + 1)
                    }
                }
            }
        }
        return sets
    }

    func complete(_ text: [UInt8]) -> Bool {
        chart(text)[text.count].contains { $0.rule == grammar.root && $0.origin == 0 && grammar.elements[$0.dot] == .end }
    }

    /// Viable prefix: some item of the last set waits on a byte, or the text is complete.
    func viable(_ text: [UInt8]) -> Bool {
        chart(text)[text.count].contains { item in
            switch grammar.elements[item.dot] {
            case .bytes: return true
            case .end: return item.rule == grammar.root && item.origin == 0
            case .rule: return false
            }
        }
    }
}
