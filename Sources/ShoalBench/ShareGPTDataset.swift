package import Foundation

/// One usable ShareGPT conversation: its first human turn and the first gpt turn after it.
package struct ShareGPTConversation: Sendable, Equatable {
    package var prompt: String
    package var completion: String

    package init(prompt: String, completion: String) {
        self.prompt = prompt
        self.completion = completion
    }
}

/// `--dataset-name sharegpt --dataset-path FILE`: conversations in ShareGPT's format, a JSON array (or JSON
/// lines) of `{"conversations": [{"from": "human", "value": ...}, {"from": "gpt", "value": ...}, ...]}`. Like
/// vLLM's sharegpt dataset, a request sends the first human turn as the prompt and asks for as many tokens as the
/// first gpt reply has (unless the run gives `--max-tokens`), and conversations whose prompt is under 4 tokens or
/// over 1,024, whose reply is under 4 tokens, or whose prompt and reply pass 2,048 tokens together are skipped.
package struct ShareGPTDataset: Sendable {
    /// The usable conversations, in file order.
    package var conversations: [ShareGPTConversation]

    /// vLLM's limits (`is_valid_sequence`).
    package static let minimumLength = 4
    package static let maximumPromptLength = 1024
    package static let maximumTotalLength = 2048

    package init(conversations: [ShareGPTConversation]) {
        self.conversations = conversations
    }

    /// Parses a ShareGPT file: a JSON array of entries, one entry, or JSON lines (one entry a line). Entries without
    /// a human turn followed by a gpt turn are skipped; speakers may also be spelled `user` and `assistant` (or
    /// `chatgpt`), and a turn's text may be under `content` instead of `value`.
    /// - Throws: `BenchDatasetError` (`.malformed`, naming the line of a bad JSON line).
    package init(data: Data, name: String = "the dataset") throws {
        let entries: [Any]
        if let document = try? JSONSerialization.jsonObject(with: data) {
            if let array = document as? [Any] {
                entries = array
            } else {
                entries = [document]
            }
        } else {
            var lines: [Any] = []
            for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if text.isEmpty { continue }
                guard let entry = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else {
                    throw BenchDatasetError(.malformed, "\(name): line \(number + 1) is not JSON (expected a JSON array or JSON lines of ShareGPT conversations)")
                }
                lines.append(entry)
            }
            entries = lines
        }
        conversations = entries.compactMap(Self.conversation(in:))
    }

    /// Reads and parses `path`.
    package init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BenchDatasetError(.malformed, "cannot read the dataset file \(path)")
        }
        try self.init(data: data, name: path)
    }

    static func conversation(in entry: Any) -> ShareGPTConversation? {
        guard let turns = (entry as? [String: Any])?["conversations"] as? [[String: Any]] else { return nil }
        func speaker(_ turn: [String: Any]) -> String { ((turn["from"] ?? turn["role"]) as? String ?? "").lowercased() }
        func text(_ turn: [String: Any]) -> String? { (turn["value"] ?? turn["content"]) as? String }
        guard let human = turns.firstIndex(where: { ["human", "user"].contains(speaker($0)) && !(text($0) ?? "").isEmpty }),
              let gpt = turns[(human + 1)...].first(where: { ["gpt", "chatgpt", "assistant"].contains(speaker($0)) && !(text($0) ?? "").isEmpty }),
              let prompt = text(turns[human]), let completion = text(gpt) else { return nil }
        return ShareGPTConversation(prompt: prompt, completion: completion)
    }

    /// `count` requests: the conversations in an order shuffled by `seed`, skipping those outside vLLM's length
    /// limits, repeated (drawn at random) when fewer than `count` fit.
    /// - Parameters:
    ///   - maxTokens: `max_tokens` of every request; nil asks for the length of each conversation's reply.
    ///   - countTokens: a text's length in tokens (the server's `/tokenize`, or `estimatedTokens`).
    /// - Throws: `BenchDatasetError.Code.empty` when no conversation fits; what `countTokens` throws.
    package func requests(count: Int, seed: UInt64, maxTokens: Int?,
                          countTokens: (String) async throws -> Int) async throws -> [BenchRequest] {
        var generator = SeededGenerator(seed: seed)
        var requests: [BenchRequest] = []
        for conversation in conversations.shuffled(using: &generator) {
            if requests.count >= count { break }
            let promptTokens = try await countTokens(conversation.prompt)
            let outputTokens = if let maxTokens { maxTokens } else { try await countTokens(conversation.completion) }
            guard promptTokens >= Self.minimumLength, maxTokens != nil || outputTokens >= Self.minimumLength,
                  promptTokens <= Self.maximumPromptLength, promptTokens + outputTokens <= Self.maximumTotalLength else { continue }
            requests.append(BenchRequest(prompt: conversation.prompt, promptTokens: promptTokens, maxTokens: outputTokens))
        }
        guard !requests.isEmpty else {
            throw BenchDatasetError(.empty, "no conversation has a human turn followed by a gpt turn within the length limits " +
                "(prompt \(Self.minimumLength)-\(Self.maximumPromptLength) tokens, reply at least \(Self.minimumLength), " +
                "both at most \(Self.maximumTotalLength))")
        }
        let found = requests.count
        while requests.count < count {
            requests.append(requests[Int(generator.next() % UInt64(found))])
        }
        return requests
    }

    /// A text's length in tokens estimated from its words: about 4 tokens for 3 words of English.
    package static func estimatedTokens(_ text: String) -> Int {
        let words = text.split(whereSeparator: { $0.isWhitespace }).count
        return (words * 4 + 2) / 3
    }
}
