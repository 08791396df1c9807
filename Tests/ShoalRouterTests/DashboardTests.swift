import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ShoalAPI
import ShoalRouter
import Testing

/// `/dashboard` and `/dashboard/data` of a live router over fake replicas that export vLLM's series.
@Suite(.serialized) struct DashboardTests {
    /// `/dashboard/data` once `accept` holds for it (sampled every 50 ms), or the last one after 20 s.
    func data(_ cluster: Cluster, until accept: ([String: JSONValue]) -> Bool) async throws -> [String: JSONValue] {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let answer = try await cluster.request("/dashboard/data", method: .GET)
            #expect(answer.status == 200)
            guard case .object(let data) = try JSONDecoder().decode(JSONValue.self, from: Data(answer.body.utf8)) else {
                Issue.record("not a JSON object: \(answer.body)")
                return [:]
            }
            if accept(data) || ContinuousClock.now > deadline { return data }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func rows(_ data: [String: JSONValue]) -> [String: [String: JSONValue]] {
        var rows: [String: [String: JSONValue]] = [:]
        for case .object(let row) in data["rows"]?.array ?? [] {
            if let id = row["id"]?.stringValue { rows[id] = row }
        }
        return rows
    }

    @Test func rowsCombineTheScrapesWithTheRoutersErrorsAndMigrations() async throws {
        let flaky = FakeReplica(.init(dieAfterTokens: 3))
        let steady = FakeReplica()
        try await Cluster.with([flaky, steady], configure: { $0.dashboardInterval = .milliseconds(50) }) { cluster in
            let body = #"{"model":"tiny","prompt":"Once upon a time","max_tokens":12,"stream":true}"#
            for _ in 0..<4 {
                let answer = try await cluster.request("/v1/completions", json: body)
                #expect(answer.status == 200)
            }
            let broken = flaky.served.load()
            #expect(broken >= 2, "round-robin sent streams to the flaky replica")
            let (flakyURL, steadyURL) = (cluster.replicaURLs[0], cluster.replicaURLs[1])
            let snapshot = try await data(cluster) { data in
                let rows = rows(data)
                // The router ends a lease just after the client's stream ends.
                return rows[flakyURL]?["generation_tokens"]?.number == Double(broken * 10)
                    && rows[steadyURL]?["generation_tokens"]?.number == Double(steady.served.load() * 10)
                    && rows.values.allSatisfy { $0["in_flight"]?.number == 0 }
            }
            let shown = rows(snapshot)
            #expect(Set(shown.keys) == [flakyURL, steadyURL])
            let flakyRow = try #require(shown[flakyURL])
            let steadyRow = try #require(shown[steadyURL])
            #expect(flakyRow["migrations"]?.number == Double(broken), "each broken stream moved to the steady replica")
            #expect(flakyRow["errors"]?.number == Double(broken), "each broken stream is a stream_broken error")
            #expect(steadyRow["migrations"]?.number == 0 && steadyRow["errors"]?.number == 0)
            for row in [flakyRow, steadyRow] {
                #expect(row["status"]?.stringValue == "healthy" && row["healthy"] == .bool(true))
                #expect(row["breaker"]?.stringValue == "closed")
                #expect(row["in_flight"]?.number == 0)
                #expect(row["kv_cache_usage"]?.number == 0.125)
                #expect(row["models"] == .array([.string("tiny")]))
                #expect(row["scrape_error"] == nil)
            }
            guard case .object(let totals)? = snapshot["totals"] else { Issue.record("no totals"); return }
            #expect(totals["replicas"]?.number == 2 && totals["healthy_replicas"]?.number == 2)
            #expect(totals["migrations"]?.number == Double(broken))
            #expect(snapshot["kind"]?.stringValue == "router")
            #expect((snapshot["history"]?.array?.count ?? 0) >= 2)
        }
    }

    @Test func aFailedScrapeIsShownAndARemovedReplicasRowGoes() async throws {
        try await Cluster.with([FakeReplica(), FakeReplica(.init(metricsText: "not{prometheus"))],
                               configure: { $0.dashboardInterval = .milliseconds(50) }) { cluster in
            let (good, bad) = (cluster.replicaURLs[0], cluster.replicaURLs[1])
            let snapshot = try await data(cluster) { rows($0)[bad]?["scrape_error"] != nil && rows($0)[good]?["running"] != nil }
            let badRow = try #require(rows(snapshot)[bad])
            #expect(badRow["scrape_error"]?.stringValue?.contains("does not parse") == true)
            #expect(badRow["running"] == nil && badRow["generation_tokens"] == nil, "no numbers from a failed scrape")
            #expect(badRow["status"]?.stringValue == "healthy", "health comes from the probes, not the scrape")
            try cluster.gateway.removeReplica(bad)
            let after = try await data(cluster) { rows($0).count == 1 }
            #expect(Array(rows(after).keys) == [good])
        }
    }

    @Test func thePageIsSelfContainedAndOpenWithoutAKey() async throws {
        try await Cluster.with([FakeReplica()], configure: { $0.apiKeys = ["client-key"] }) { cluster in
            #expect(try await cluster.request("/v1/models", method: .GET).status == 401)
            var request = HTTPClientRequest(url: cluster.routerURL + "/dashboard")
            request.method = .GET
            let response = try await cluster.client.execute(request, timeout: .seconds(10))
            #expect(response.status == .ok)
            #expect(response.headers.first(name: "content-type")?.hasPrefix("text/html") == true)
            #expect(response.headers.first(name: "content-security-policy")?.contains("default-src 'none'") == true)
            let page = String(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(page.contains("<title>Shoal router</title>"))
            #expect(!page.contains("<script src") && !page.contains("<link"))
            #expect(try await cluster.request("/dashboard/data", method: .GET).status == 200)
        }
    }
}
