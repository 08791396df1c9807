/// `--dataset-name prefix-repetition`, vLLM's `prefix_repetition`: `prefixCount` random prefixes of
/// `prefixLength` tokens, each followed by random suffixes of `suffixLength` tokens, in shuffled order, so a
/// prefix cache can serve the prefix of most requests. Lengths are in words of `PromptGenerator` (about one
/// token each) where vLLM draws token ids. vLLM makes `count / prefixCount` prompts per prefix and drops the
/// remainder; here the first `count % prefixCount` prefixes get one more, so a run sends `count` requests.
package struct PrefixRepetitionDataset: Sendable {
    package var prefixLength: Int = 256
    package var suffixLength: Int = 256
    package var prefixCount: Int = 10
    package var outputLength: Int = 128

    package init(prefixLength: Int = 256, suffixLength: Int = 256, prefixCount: Int = 10, outputLength: Int = 128) {
        self.prefixLength = prefixLength
        self.suffixLength = suffixLength
        self.prefixCount = prefixCount
        self.outputLength = outputLength
    }

    package func requests(count: Int, seed: UInt64) -> [BenchRequest] {
        var words = PromptGenerator(seed: seed)
        let prefixes = (0..<prefixCount).map { _ in words.text(words: prefixLength) }
        var requests = (0..<count).map { index in
            BenchRequest(prompt: prefixes[index % prefixCount] + words.text(words: suffixLength),
                         promptTokens: prefixLength + suffixLength, maxTokens: outputLength)
        }
        var order = SeededGenerator(seed: seed)
        requests.shuffle(using: &order)
        return requests
    }
}
