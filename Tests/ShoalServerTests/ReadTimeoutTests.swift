import Foundation
import ShoalAPI
import ShoalServer
import ShoalTestSupport
import Testing

/// Slow clients lose their connections (`--header-timeout`, `--body-timeout`); slow responses do not.
@Suite(.serialized) struct ReadTimeoutTests {
    static var quick: ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.headerTimeout = .milliseconds(300)
        configuration.bodyTimeout = .milliseconds(300)
        return configuration
    }

    /// What a slow client sends, and whether a response comes before the connection closes.
    enum SlowClient: String, CaseIterable, Sendable {
        /// Connects and never sends a byte.
        case silent
        /// Sends half a request head and stops.
        case partialHead
        /// Sends the head and a tenth of the body its Content-Length promised.
        case partialBody
        /// Makes one request, then keeps the connection idle.
        case idleKeepAlive
    }

    @Test(arguments: SlowClient.allCases) func slowClientsAreDisconnected(_ client: SlowClient) async throws {
        let engine = try ScriptedEngine(reply: { _ in .init(text: "hello world") })
        try await LiveServer.run([engine], configuration: Self.quick) { server in
            let port = server.port
            try await onOwnThread {
                let connection = try RawHTTPConnection(port: port, timeout: 10)
                let started = ContinuousClock.now
                switch client {
                case .silent:
                    break
                case .partialHead:
                    try connection.send(raw: "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl")
                case .partialBody:
                    try connection.send(raw: "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                        + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"prompt\":")
                case .idleKeepAlive:
                    try connection.post("/v1/completions", json: #"{"prompt": "x"}"#)
                    #expect(try connection.readResponse().status == 200)
                }
                try connection.waitForClose()
                let waited = ContinuousClock.now - started
                #expect(waited >= .milliseconds(250), "closed after \(waited), before the timeout")
                #expect(waited < .seconds(8), "closed only after \(waited)")
            }
            // The partial body never became a request.
            #expect(engine.log.submitted.count == (client == .idleKeepAlive ? 1 : 0))
        }
    }

    /// A response that streams for longer than both timeouts is not cut, and the connection then serves the next
    /// request.
    @Test func aLongResponseIsNotCutByTheReadTimeouts() async throws {
        let engine = try ScriptedEngine(reply: { _ in .init(text: "hello world", holdAfter: 1) })
        try await LiveServer.run([engine], configuration: Self.quick) { server in
            let port = server.port
            let reader = Task {
                try await onOwnThread {
                    let connection = try RawHTTPConnection(port: port, timeout: 10)
                    try connection.post("/v1/completions", json: #"{"prompt": "x", "stream": true}"#)
                    let first = try connection.readResponse()
                    try connection.post("/v1/completions", json: #"{"prompt": "y"}"#)
                    return (first, try connection.readResponse())
                }
            }
            var held = engine.held.makeAsyncIterator()
            _ = await held.next()
            // The subject of the test is time passing: three times the timeouts with the response under way.
            try await Task.sleep(for: .milliseconds(900))
            engine.release()
            let (first, second) = try await reader.value
            #expect(first.status == 200)
            #expect(first.body.contains("data: [DONE]"), "\(first.body)")
            #expect(second.status == 200)
        }
    }
}
