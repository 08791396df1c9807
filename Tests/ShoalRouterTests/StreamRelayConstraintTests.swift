import Foundation
import ShoalAPI
import ShoalRouter
import Testing

@Suite struct StreamRelayConstraintTests {
    static let first = ChunkSkimTests.first
    static let token = #"{"choices":[{"finish_reason":null,"index":0,"logprobs":null,"text":"{\"","token_ids":[42,43]}],"created":7,"id":"cmpl-1","model":"m","object":"text_completion"}"#

    private func continuation(_ original: [String: JSONValue]) throws -> [String: JSONValue] {
        var relay = StreamRelay(kind: .completion, clientWantsIDs: false)
        _ = relay.handle(ServerSentEvent(data: Self.first))
        _ = relay.handle(ServerSentEvent(data: Self.token))
        guard case .resubmit(let body) = relay.plan(original: original, contextLength: 100) else {
            Issue.record("no continuation planned")
            return [:]
        }
        return body
    }

    @Test func aConstrainedStreamResumesItsGrammarAfterTheTokensSent() throws {
        let body = try continuation([
            "model": .string("m"), "prompt": .string("x"), "max_tokens": .number(10), "stream": .bool(true),
            "guided_regex": .string("[a-z]+"),
        ])
        #expect(body["guided_regex"] == .string("[a-z]+"))
        #expect(body["prompt"] == .array([1, 2, 3, 42, 43].map { .number($0) }))
        #expect(body[StructuredOutput.resumeField] == .number(2))
    }

    @Test func aSecondMigrationCountsTheEarlierResumedTokens() throws {
        let body = try continuation([
            "model": .string("m"), "prompt": .string("x"), "max_tokens": .number(10), "stream": .bool(true),
            "response_format": .object(["type": .string("json_object")]), StructuredOutput.resumeField: .number(5),
        ])
        #expect(body[StructuredOutput.resumeField] == .number(7))
    }

    @Test func anUnconstrainedStreamGetsNoResumeField() throws {
        let body = try continuation(["model": .string("m"), "prompt": .string("x"), "max_tokens": .number(10)])
        #expect(body[StructuredOutput.resumeField] == nil)
    }

    @Test func reencodedBodiesKeepTheSchemaBytes() throws {
        let original = #"{"model":"m","guided_json":{"properties":{"zeta":{},"alpha":{}}},"max_tokens":3}"#
        var body = try JSONDecoder().decode([String: JSONValue].self, from: Data(original.utf8))
        body["model"] = .string("pool")
        let encoded = String(decoding: try StructuredOutput.encode(body, keepingConstraintsOf: Array(original.utf8)), as: UTF8.self)
        #expect(encoded.contains(#""guided_json":{"properties":{"zeta":{},"alpha":{}}}"#))
        #expect(try JSONDecoder().decode([String: JSONValue].self, from: Data(encoded.utf8))["model"] == .string("pool"))
    }
}
