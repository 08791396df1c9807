import Foundation
import ShoalAPI
import ShoalRouter
import Testing

/// Every way a proxied request can end gives its replica lease back: the outstanding counts that the policies
/// balance on return to zero.
@Suite(.serialized) struct LeaseTests {
    /// How the requests of one case end.
    enum Ending: String, CaseIterable, Sendable {
        case success
        case clientErrorPassedThrough
        case refusedThenRetried
        case deathBeforeTheFirstByte
        case deathAfterTheFirstByteMigrated
        case migrationLimit
        case clientDisconnect
        case frozenBeforeTheHead

        var replicas: [FakeReplica] {
            switch self {
            case .success: [FakeReplica(), FakeReplica()]
            case .clientErrorPassedThrough: [FakeReplica(.init(refuseWith: 400))]
            case .refusedThenRetried: [FakeReplica(.init(refuseWith: 503)), FakeReplica()]
            case .deathBeforeTheFirstByte: [FakeReplica(.init(dieAfterTokens: 0)), FakeReplica()]
            case .deathAfterTheFirstByteMigrated: [FakeReplica(.init(dieAfterTokens: 3)), FakeReplica()]
            case .migrationLimit: [FakeReplica(.init(dieAfterTokens: 2)), FakeReplica(.init(dieAfterTokens: 2))]
            case .clientDisconnect: [FakeReplica(.init(holdAfterTokens: 2))]
            case .frozenBeforeTheHead: [FakeReplica(.init(frozen: true)), FakeReplica()]
            }
        }
    }

    @Test(arguments: Ending.allCases) func outstandingCountsReturnToZero(_ ending: Ending) async throws {
        let replicas = ending.replicas
        try await Cluster.with(replicas, configure: { configuration in
            configuration.maxMigrations = 1
            configuration.firstByteTimeout = .milliseconds(200)
            configuration.health.timeout = .seconds(1)
        }) { cluster in
            let streamed = #"{"model":"tiny","prompt":"Once upon a time","max_tokens":8,"stream":true}"#
            let unary = #"{"model":"tiny","prompt":"Once upon a time","max_tokens":8}"#
            switch ending {
            case .clientDisconnect:
                var abandoned = replicas[0].abandoned.stream.makeAsyncIterator()
                let request = Task { try await cluster.request("/v1/completions", json: streamed) }
                // The replica holds the stream (its lease is taken); then the client gives up on it.
                let deadline = ContinuousClock.now + .seconds(10)
                while cluster.gateway.replicaStatuses.first?.outstanding != 1, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(5))
                }
                request.cancel()
                await abandoned.next()
            default:
                // Four of each kind, so that round-robin sends some of each to every replica.
                for body in [streamed, unary, streamed, unary, streamed, unary, streamed, unary] {
                    let answer = try await cluster.request("/v1/completions", json: body)
                    #expect(answer.status == (ending == .clientErrorPassedThrough ? 400 : 200), "\(answer.body)")
                }
            }
            #expect(replicas[0].served.load() >= 1, "the case's first replica took part")
            try await Self.expectNoLeases(cluster)
        }
    }

    /// Waits up to ten seconds for every replica's outstanding count to be zero (a lease given up by a
    /// cancelled task ends when that task's last reference to it goes), then checks it.
    static func expectNoLeases(_ cluster: Cluster) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while cluster.gateway.replicaStatuses.contains(where: { $0.outstanding != 0 }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        for status in cluster.gateway.replicaStatuses {
            #expect(status.outstanding == 0, "\(status.url) still holds \(status.outstanding) leases")
        }
    }

    @Test func aReplicaFrozenBeforeItsHeadLosesTheRequestToAnother() async throws {
        let frozen = FakeReplica(.init(frozen: true))
        let alive = FakeReplica()
        try await Cluster.with([frozen, alive], configure: { configuration in
            configuration.firstByteTimeout = .milliseconds(200)
            configuration.health.timeout = .seconds(1)
        }) { cluster in
            let started = ContinuousClock.now
            for _ in 0..<2 {
                let answer = try await cluster.request("/v1/completions", json: #"{"model":"tiny","prompt":"hi","max_tokens":3}"#)
                #expect(answer.status == 200)
                let response = try JSONDecoder().decode(CompletionResponse.self, from: Data(answer.body.utf8))
                #expect(response.choices.first?.text.split(separator: " ").count == 3)
            }
            // Round-robin sends requests to the frozen replica (it stays healthy: its probes are hours apart here);
            // each is taken from it and answered by the other.
            #expect(frozen.served.load() >= 1, "round-robin sent a request to the frozen replica")
            #expect(alive.served.load() == 2)
            // One probe interval plus one probe timeout, not the request timeout (600 s).
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(try await cluster.metrics().contains(#"reason="timeout""#))
        }
    }

    @Test func aBusyReplicaThatStillAnswersKeepsItsRequest() async throws {
        let busy = FakeReplica(.init(answerDelay: .milliseconds(1200)))
        try await Cluster.with([busy, FakeReplica()], configure: { configuration in
            configuration.firstByteTimeout = .milliseconds(100)
        }) { cluster in
            for _ in 0..<2 {
                let answer = try await cluster.request("/v1/completions", json: #"{"model":"tiny","prompt":"hi","max_tokens":3}"#)
                #expect(answer.status == 200)
            }
            #expect(busy.served.load() == 1, "the busy replica's request was not taken from it")
            #expect(!(try await cluster.metrics()).contains("shoal_router_retries_total"))
        }
    }
}
