/// `--dataset-name random`: prompts of random common words (about one token each), optionally after a shared
/// prefix per group of users. The same seed gives the same prompts as `bench serve` always has.
package struct RandomDataset: Sendable {
    /// Prompt length in words (about tokens), after the shared prefix.
    package var promptTokens: Int
    package var maxTokens: Int
    /// A prefix of this many words shared by every prompt of a group (0: none).
    package var sharedPrefixTokens: Int = 0
    /// Groups, each with its own shared prefix; a request draws one and sends `user-<group>` as `user`.
    package var prefixGroups: Int = 1
    /// Send the same prompt every time.
    package var fixedPrompt = false

    package init(promptTokens: Int, maxTokens: Int, sharedPrefixTokens: Int = 0, prefixGroups: Int = 1, fixedPrompt: Bool = false) {
        self.promptTokens = promptTokens
        self.maxTokens = maxTokens
        self.sharedPrefixTokens = sharedPrefixTokens
        self.prefixGroups = prefixGroups
        self.fixedPrompt = fixedPrompt
    }

    package func requests(count: Int, seed: UInt64) -> [BenchRequest] {
        var generator = PromptGenerator(seed: seed)
        let shared = (0..<prefixGroups).map { _ in sharedPrefixTokens > 0 ? generator.text(words: sharedPrefixTokens) : "" }
        let fixed = generator.text(words: promptTokens)
        return (0..<count).map { _ in
            let group = prefixGroups > 1 ? generator.index(below: prefixGroups) : 0
            let text = shared[group] + (fixedPrompt ? fixed : generator.text(words: promptTokens))
            return BenchRequest(prompt: text, promptTokens: sharedPrefixTokens + promptTokens, maxTokens: maxTokens,
                                user: prefixGroups > 1 ? "user-\(group)" : nil)
        }
    }
}
