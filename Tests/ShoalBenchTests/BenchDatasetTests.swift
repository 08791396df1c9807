import Foundation
import ShoalBench
import Testing

@Suite struct BenchDatasetTests {
    static let conversations = """
        [
          {"id": "a", "conversations": [{"from": "human", "value": "one two three four five six"},
                                         {"from": "gpt", "value": "alpha beta gamma delta epsilon zeta eta theta"}]},
          {"id": "no-gpt", "conversations": [{"from": "human", "value": "a question nobody answered at all"}]},
          {"id": "gpt-first", "conversations": [{"from": "gpt", "value": "an answer before any question here"},
                                                 {"from": "human", "value": "and then a question with no reply"}]},
          {"id": "b", "conversations": [{"from": "system", "value": "be brief"},
                                         {"from": "human", "value": "seven eight nine ten eleven"},
                                         {"from": "gpt", "value": "iota kappa lambda mu"},
                                         {"from": "human", "value": "a second question"},
                                         {"from": "gpt", "value": "a second answer"}]},
          {"id": "empty", "conversations": []},
          {"id": "no-list"}
        ]
        """

    @Test func shareGPTJSONKeepsTheFirstHumanTurnAndTheGPTTurnAfterIt() throws {
        let dataset = try ShareGPTDataset(data: Data(Self.conversations.utf8))
        #expect(dataset.conversations == [
            ShareGPTConversation(prompt: "one two three four five six", completion: "alpha beta gamma delta epsilon zeta eta theta"),
            ShareGPTConversation(prompt: "seven eight nine ten eleven", completion: "iota kappa lambda mu"),
        ])
    }

    @Test func shareGPTJSONLinesParseLineByLine() throws {
        let lines = """
            {"conversations": [{"from": "human", "value": "first prompt here now"}, {"from": "gpt", "value": "first reply"}]}

            {"conversations": [{"from": "gpt", "value": "no human"}]}
            {"conversations": [{"role": "user", "content": "second prompt"}, {"role": "assistant", "content": "second reply"}]}
            """
        let dataset = try ShareGPTDataset(data: Data(lines.utf8))
        #expect(dataset.conversations.map(\.prompt) == ["first prompt here now", "second prompt"])
        #expect(dataset.conversations.map(\.completion) == ["first reply", "second reply"])
    }

    @Test func aBadJSONLineIsNamed() {
        let lines = "{\"conversations\": []}\n{\"conversations\": [}\n"
        #expect(throws: BenchDatasetError(.malformed, "x.jsonl: line 2 is not JSON (expected a JSON array or JSON lines of ShareGPT conversations)")) {
            try ShareGPTDataset(data: Data(lines.utf8), name: "x.jsonl")
        }
    }

    @Test func requestsAskForTheReplyLengthUnlessMaxTokensIsGiven() async throws {
        let dataset = try ShareGPTDataset(data: Data(Self.conversations.utf8))
        let words: (String) async throws -> Int = { $0.split(separator: " ").count }
        let byReply = try await dataset.requests(count: 2, seed: 3, maxTokens: nil, countTokens: words)
        #expect(Set(byReply.map(\.prompt)) == ["one two three four five six", "seven eight nine ten eleven"])
        for request in byReply {
            let expected = request.prompt.hasPrefix("one") ? 8 : 4
            #expect(request.maxTokens == expected)
            #expect(request.promptTokens == request.prompt.split(separator: " ").count)
        }
        let fixed = try await dataset.requests(count: 2, seed: 3, maxTokens: 2, countTokens: words)
        #expect(fixed.map(\.maxTokens) == [2, 2])
    }

    @Test func requestsSkipWhatIsOutsideVLLMsLimitsAndRepeatTheRest() async throws {
        let dataset = ShareGPTDataset(conversations: [
            ShareGPTConversation(prompt: "too short", completion: "a reply long enough here"),
            ShareGPTConversation(prompt: "a prompt long enough", completion: "short"),
            ShareGPTConversation(prompt: "a prompt long enough", completion: "and a reply long enough"),
        ])
        let words: (String) async throws -> Int = { $0.split(separator: " ").count }
        let requests = try await dataset.requests(count: 5, seed: 1, maxTokens: nil, countTokens: words)
        #expect(requests.count == 5)
        #expect(requests.allSatisfy { $0.prompt == "a prompt long enough" && $0.maxTokens == 5 })
        // A reply under 4 tokens counts when --max-tokens replaces it.
        let withMax = try await dataset.requests(count: 4, seed: 1, maxTokens: 8, countTokens: words)
        #expect(Set(withMax.map(\.prompt)) == ["a prompt long enough"])
        let none = ShareGPTDataset(conversations: [ShareGPTConversation(prompt: "hi", completion: "hello there friend again")])
        await #expect(throws: BenchDatasetError.self) {
            try await none.requests(count: 1, seed: 1, maxTokens: nil, countTokens: words)
        }
    }

    @Test func estimatedTokensAreFourForThreeWords() {
        #expect(ShareGPTDataset.estimatedTokens("one two three") == 4)
        #expect(ShareGPTDataset.estimatedTokens("  one\ttwo\nthree four five six ") == 8)
        #expect(ShareGPTDataset.estimatedTokens("") == 0)
    }

    @Test func prefixRepetitionSharesEachPrefixAndSendsEveryRequest() {
        let dataset = PrefixRepetitionDataset(prefixLength: 8, suffixLength: 3, prefixCount: 3, outputLength: 5)
        let requests = dataset.requests(count: 10, seed: 9)
        #expect(requests.count == 10)
        #expect(requests.allSatisfy { $0.maxTokens == 5 && $0.promptTokens == 11 && $0.user == nil })
        let words = requests.map { $0.prompt.split(separator: " ") }
        #expect(words.allSatisfy { $0.count == 11 })
        let prefixes = Dictionary(grouping: words.map { $0.prefix(8).joined(separator: " ") }, by: { $0 }).mapValues(\.count)
        #expect(prefixes.count == 3)
        #expect(prefixes.values.sorted() == [3, 3, 4])
        #expect(dataset.requests(count: 10, seed: 9) == requests)
    }

    @Test func randomPromptsRepeatWithTheSeedAndSendPrefixGroupsAsUsers() {
        let dataset = RandomDataset(promptTokens: 5, maxTokens: 7, sharedPrefixTokens: 4, prefixGroups: 2)
        let requests = dataset.requests(count: 20, seed: 42)
        #expect(requests == dataset.requests(count: 20, seed: 42))
        #expect(requests != dataset.requests(count: 20, seed: 43))
        #expect(requests.allSatisfy { $0.prompt.split(separator: " ").count == 9 && $0.maxTokens == 7 && $0.promptTokens == 9 })
        #expect(Set(requests.compactMap(\.user)) == ["user-0", "user-1"])
        for request in requests {
            let prefix = request.prompt.split(separator: " ").prefix(4)
            let sameGroup = requests.filter { $0.user == request.user }
            #expect(sameGroup.allSatisfy { $0.prompt.split(separator: " ").prefix(4) == prefix })
        }
    }
}
