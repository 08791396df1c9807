import Foundation
import ShoalAPI
import ShoalRouter
import Testing

/// The relay's byte-level reading of upstream chunks against decoding them in full.
@Suite struct ChunkSkimTests {
    static let first = #"{"choices":[{"finish_reason":null,"index":0,"logprobs":null,"prompt_token_ids":[1,2,3],"text":"","token_ids":[]}],"created":7,"id":"cmpl-1","model":"m","object":"text_completion"}"#

    static let chunks = [
        #"{"choices":[{"finish_reason":null,"index":0,"logprobs":null,"text":" hi","token_ids":[42]}],"created":7,"id":"cmpl-1","model":"m","object":"text_completion"}"#,
        #"{"choices":[{"finish_reason":"length","index":0,"logprobs":null,"text":"\n\"x\"","token_ids":[7,8]}],"created":7,"id":"cmpl-1","model":"m","object":"text_completion"}"#,
        #"{"choices":[{"delta":{"content":"é"},"finish_reason":null,"index":0,"logprobs":null,"token_ids":[-0,2147483647]}],"id":"c","object":"chat.completion.chunk"}"#,
        #" { "choices" : [ { "token_ids" : [ 5 , 6 ] , "finish_reason" : "stop" } ] , "usage" : null } "#,
        #"{"choices":[],"id":"cmpl-1","usage":{"completion_tokens":3,"prompt_tokens":3,"total_tokens":6}}"#,
        #"{"choices":[{"index":0,"text":"a","token_ids":[1]}],"prompt_token_ids":[9,9],"nested":{"a":[1,{"b":true}],"c":1.5e-3}}"#,
    ]

    /// Chunks the skim leaves to the full decoder.
    static let notUnderstood = [
        #"{"error":{"message":"boom"}}"#,
        #"{"choices":[{"token_ids":[1.5]}]}"#,
        #"{"choices":[{"token_ids":[99999999999]}]}"#,
        #"{"choices":[{"tok\u0065n_ids":[1]}]}"#,
        #"{"choices":[1,2]}"#,
        #"{"choices":[{"text":"a"}]"#,
        #"{"choices":[{"text":"a"}]} x"#,
        "[1,2]",
        "",
    ]

    /// Runs a relay (skimming) over the first chunk and `chunk`.
    static func relayed(_ chunk: String, wantsIDs: Bool) -> (events: [String], generated: [Int32], reason: String?) {
        var relay = StreamRelay(kind: .completion, clientWantsIDs: wantsIDs)
        _ = relay.handle(ServerSentEvent(data: first))
        let events = relay.handle(ServerSentEvent(data: chunk))
        return (events, relay.generated, relay.finishReason)
    }

    static func decoded(_ events: [String]) throws -> [JSONValue] {
        try events.map { event in
            var parser = ServerSentEventParser()
            let data = parser.append(event).map(\.data).joined()
            return try JSONDecoder().decode(JSONValue.self, from: Data(data.utf8))
        }
    }

    @Test(arguments: chunks, [false, true])
    func skimmedChunkMatchesTheFullDecoding(chunk: String, wantsIDs: Bool) throws {
        let skim = try #require(ChunkSkim(chunk, stripIDs: !wantsIDs))
        // The full decoding of the same two chunks.
        var full = StreamRelay(kind: .completion, clientWantsIDs: wantsIDs, skimsChunks: false)
        _ = full.handle(ServerSentEvent(data: Self.first))
        let expected = try Self.decoded(full.handle(ServerSentEvent(data: chunk)))
        let (events, generated, reason) = Self.relayed(chunk, wantsIDs: wantsIDs)
        #expect(try Self.decoded(events) == expected)
        #expect(generated == skim.generated)
        #expect(generated == full.generated)
        #expect(reason == full.finishReason)
        if wantsIDs { #expect(Array(chunk.utf8) == skim.output) }
    }

    @Test(arguments: notUnderstood)
    func chunksOutsideThePlainShapeAreLeftToTheDecoder(chunk: String) {
        #expect(ChunkSkim(chunk, stripIDs: true) == nil)
    }

    @Test func skimmedUsageAndPromptIDsAreRecorded() throws {
        let skim = try #require(ChunkSkim(Self.chunks[4], stripIDs: true))
        #expect(skim.hasUsage)
        let nulled = try #require(ChunkSkim(Self.chunks[3], stripIDs: true))
        #expect(!nulled.hasUsage)
        #expect(nulled.finishReason == "stop")
        let prompt = try #require(ChunkSkim(Self.chunks[5], stripIDs: true))
        #expect(prompt.promptIDs == [9, 9])
        let text = String(decoding: prompt.output, as: UTF8.self)
        #expect(!text.contains("token_ids"))
        #expect(text.contains(#""nested":{"a":[1,{"b":true}],"c":1.5e-3}"#))
    }

    /// The first chunk is skimmed too, and its id, created and model still head the chunks the router writes itself
    /// (here the usage chunk of a stream whose end was lost), for both the skimming and the decoding relay.
    @Test(arguments: [true, false])
    func firstChunkHeaderIsKeptForChunksTheRouterWrites(skims: Bool) throws {
        var relay = StreamRelay(kind: .completion, clientWantsIDs: false, skimsChunks: skims)
        let first = try Self.decoded(relay.handle(ServerSentEvent(data: Self.first)))
        guard case .array(let choices)? = first.first?["choices"], case .object(let choice)? = choices.first else {
            Issue.record("expected a choice in the first chunk")
            return
        }
        #expect(choice["token_ids"] == nil)
        _ = relay.handle(ServerSentEvent(data: Self.chunks[1]))
        let original: [String: JSONValue] = ["model": .string("m"), "prompt": .string("x"), "max_tokens": .number(3),
                                             "stream_options": .object(["include_usage": .bool(true)])]
        guard case .finish(let events) = relay.plan(original: original, contextLength: nil) else {
            Issue.record("expected the stream to finish")
            return
        }
        let usage = try #require(try Self.decoded(Array(events.dropLast())).first)
        #expect(usage["id"] == .string("cmpl-1"))
        #expect(usage["created"] == .number(7))
        #expect(usage["model"] == .string("m"))
        #expect(usage["usage"]?["completion_tokens"] == .number(2))
        #expect(usage["usage"]?["prompt_tokens"] == .number(3))
    }
}
