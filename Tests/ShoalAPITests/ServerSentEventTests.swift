import ShoalAPI
import Testing

@Suite struct ServerSentEventTests {
    @Test func encoding() throws {
        #expect(ServerSentEvents.done == "data: [DONE]\n\n")
        #expect(ServerSentEvents.event(data: "{}") == "data: {}\n\n")
        #expect(ServerSentEvents.event(data: "a\nb") == "data: a\ndata: b\n\n")
        let event = try ServerSentEvents.event(VersionResponse(version: "1/2"))
        #expect(event == "data: {\"version\":\"1/2\"}\n\n")
    }

    static let stream = "data: {\"a\":1}\n\n: keep-alive comment\n\nevent: note\ndata: line 1\ndata: line 2\nid: 7\n\r\ndata:no-space\r\rdata: [DONE]\n\n"
    static let expected = [
        ServerSentEvent(data: "{\"a\":1}"),
        ServerSentEvent(event: "note", data: "line 1\nline 2", id: "7"),
        ServerSentEvent(data: "no-space", id: "7"),
        ServerSentEvent(data: "[DONE]", id: "7"),
    ]

    /// The same events however the bytes are split.
    @Test(arguments: [1, 2, 3, 5, 7, 64, 1000])
    func parsesAcrossArbitraryChunks(chunk: Int) {
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        let bytes = Array(Self.stream.utf8)
        var start = 0
        while start < bytes.count {
            events += parser.append(bytes[start..<min(start + chunk, bytes.count)])
            start += chunk
        }
        #expect(events == Self.expected)
        #expect(events.last?.isDone == true)
        #expect(parser.finish() == false)
    }

    /// Bytes that are not contiguous in memory (a lazy sequence) parse the same.
    @Test func parsesANonContiguousSequence() {
        var parser = ServerSentEventParser()
        let events = parser.append(Array(Self.stream.utf8).lazy.map { $0 })
        #expect(events == Self.expected)
    }

    @Test func roundTripsEncodedEvents() throws {
        var parser = ServerSentEventParser()
        let text = try ServerSentEvents.event(HealthResponse(status: "ok")) + ServerSentEvents.event(data: "x\ny")
            + ServerSentEvents.done
        let events = parser.append(text)
        #expect(events.map(\.data) == [#"{"status":"ok"}"#, "x\ny", "[DONE]"])
    }

    @Test func unterminatedEventIsDropped() {
        var parser = ServerSentEventParser()
        #expect(parser.append("data: partial\n").isEmpty)
        #expect(parser.finish() == true)
    }
}
