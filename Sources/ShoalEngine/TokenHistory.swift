/// The tokens a sequence has seen (prompt, then output), with what penalties need: the distinct tokens and
/// how often each occurs in the output.
public struct TokenHistory: Sendable {
    public private(set) var prompt: [Int32]
    public private(set) var output: [Int32] = []
    /// Distinct token ids of prompt and output, in first-seen order.
    public private(set) var distinctTokens: [Int32] = []
    /// For each entry of `distinctTokens`: how often it occurs in the output.
    public private(set) var outputCounts: [Int32] = []
    private var slots: [Int32: Int32] = [:]

    public init(prompt: [Int32]) {
        self.prompt = prompt
        distinctTokens.reserveCapacity(prompt.count)
        for id in prompt where slots[id] == nil {
            slots[id] = Int32(distinctTokens.count)
            distinctTokens.append(id)
            outputCounts.append(0)
        }
    }

    /// Records a generated token.
    /// - Complexity: O(1) amortized.
    public mutating func append(_ id: Int32) {
        output.append(id)
        if let slot = slots[id] {
            outputCounts[Int(slot)] += 1
        } else {
            slots[id] = Int32(distinctTokens.count)
            distinctTokens.append(id)
            outputCounts.append(1)
        }
    }

    /// Whether `id` occurs in the prompt or the output.
    public func contains(_ id: Int32) -> Bool { slots[id] != nil }

    /// How often `id` occurs in the output.
    public func outputCount(of id: Int32) -> Int { slots[id].map { Int(outputCounts[Int($0)]) } ?? 0 }
}
