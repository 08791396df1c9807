import Foundation
import NIOHTTP1
import ShoalAPI
import ShoalServer
import Testing

@Suite(.timeLimit(.minutes(1))) struct DashboardTests {
    @Test func oneRowPerModelFromItsOwnMetricsOpenWithoutAKey() async throws {
        let tiny = try ScriptedEngine(name: "tiny")
        tiny.setKVUsage(0.5)
        let other = try ScriptedEngine(name: "other")
        var configuration = ServerConfiguration(apiKeys: ["secret"])
        configuration.dashboardInterval = .milliseconds(10)
        try await LiveServer.run([tiny, other], configuration: configuration) { server in
            let key = [("Authorization", "Bearer secret")]
            for _ in 0..<2 {
                let reply = try await server.post("/v1/completions", #"{"model": "tiny", "prompt": "abc", "max_tokens": 2}"#,
                                                  headers: key)
                #expect(reply.status == 200)
            }
            let page = try await server.get("/dashboard")
            #expect(page.status == 200, "open without the API key")
            #expect(page.headers.first(name: "content-type")?.hasPrefix("text/html") == true)
            #expect(page.body.contains("<title>Shoal server</title>"))

            // Sampled every 10 ms (and by the data endpoint when its newest sampling is older): wait for one that
            // saw both completions.
            let deadline = ContinuousClock.now + .seconds(20)
            var reply = try await server.get("/dashboard/data")
            while try reply.json["totals"]?["finished_requests"] != .number(2), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
                reply = try await server.get("/dashboard/data")
            }
            #expect(reply.status == 200)
            let data = try reply.json
            #expect(data["kind"]?.stringValue == "server")
            guard case .array(let rows)? = data["rows"] else {
                Issue.record("no rows: \(reply.body)")
                return
            }
            #expect(rows.map { $0["id"]?.stringValue } == ["other", "tiny"])
            let row = try #require(rows.last)
            #expect(row["status"]?.stringValue == "healthy" && row["healthy"] == .bool(true))
            #expect(row["finished_requests"] == .number(2))
            #expect(row["generation_tokens"] == .number(4))
            #expect(row["kv_cache_usage"] == .number(0.5))
            #expect(row["in_flight"] == .number(0) && row["errors"] == .number(0))
            #expect(row["breaker"] == nil && row["migrations"] == nil, "a server has no breaker and no migrations")
            #expect(rows.first?["finished_requests"] == .number(0))
            #expect(data["totals"]?["finished_requests"] == .number(2))
        }
    }
}
