import Foundation
import ShoalRouter
import Testing

@Suite struct DiscoveryTargetTests {
    @Test(arguments: [
        ("dns://shoal.default.svc.cluster.local:8080", DiscoveryTarget(name: "shoal.default.svc.cluster.local", port: 8080)),
        ("dns://shoal:80?model=tiny&interval=500ms", DiscoveryTarget(name: "shoal", port: 80, model: "tiny", interval: .milliseconds(500))),
        (" DNS://shoal:80/?interval=1m&timeout=2s", DiscoveryTarget(name: "shoal", port: 80, interval: .seconds(60), timeout: .seconds(2))),
        ("dns://shoal:80?model=org%2Fbig&interval=1.5s", DiscoveryTarget(name: "shoal", port: 80, model: "org/big", interval: .milliseconds(1500))),
        ("dns://[fd00::1]:80", DiscoveryTarget(name: "fd00::1", port: 80)),
    ])
    func parsesDNSURLs(text: String, expected: DiscoveryTarget) throws {
        let target = try DiscoveryTarget(parsing: text)
        #expect(target == expected)
        #expect(try DiscoveryTarget(parsing: target.description) == target, "\(target) reads back")
    }

    @Test(arguments: [
        ("http://shoal:80", "must start with dns://"),
        ("shoal:80", "must start with dns://"),
        ("dns://shoal", "has no port"),
        ("dns://shoal:", "has no port"),
        ("dns://:80", "has no name"),
        ("dns://shoal:0", "has port '0'"),
        ("dns://shoal:http", "has port 'http'"),
        ("dns://shoal:80/v1", "has a path"),
        ("dns://shoal:80?interval=10", "has interval '10'"),
        ("dns://shoal:80?interval=soon", "has interval 'soon'"),
        ("dns://shoal:80?interval=-1s", "has interval '-1s'"),
        ("dns://shoal:80?interval=0ms", "has interval '0ms'"),
        ("dns://shoal:80?timeout=1y", "has timeout '1y'"),
        ("dns://shoal:80?model=", "has an empty model"),
        ("dns://shoal:80?colour=red", "unknown parameter 'colour'"),
    ])
    func refusesMalformedDNSURLs(text: String, problem: String) {
        #expect {
            try DiscoveryTarget(parsing: text)
        } throws: { error in
            guard let error = error as? RouterError else { return false }
            return error.code == .invalidConfiguration && error.message.contains(problem) && error.message.contains(text)
        }
    }

    @Test func configurationValidatesItsTargets() {
        var configuration = RouterConfiguration()
        configuration.discover = [DiscoveryTarget(name: "shoal", port: 70000)]
        #expect(throws: RouterError.self) { try configuration.validate() }
        configuration.discover = [DiscoveryTarget(name: "shoal", port: 80, interval: .zero)]
        #expect(throws: RouterError.self) { try configuration.validate() }
    }
}

@Suite struct DiscoveryStateTests {
    let a: ReplicaID = "http://10.0.0.1:8080"
    let b: ReplicaID = "http://10.0.0.2:8080"
    let c: ReplicaID = "http://[fd00::3]:8080"

    @Test func admitsNewAddressesAndDrainsVanishedOnes() {
        var state = DiscoveryState()
        #expect(state.resolved([b, a]) == [.admit(a), .admit(b)])
        state.admitted(a)
        state.admitted(b)
        #expect(state.resolved([a, b]) == [])
        #expect(state.resolved([b, c]) == [.drain(a), .admit(c)])
        state.admitted(c)
        #expect(state.members == [b, c])
    }

    @Test func anEmptyAnswerKeepsEveryMember() {
        var state = DiscoveryState()
        _ = state.resolved([a, b])
        state.admitted(a)
        state.admitted(b)
        #expect(state.resolved([]) == [])
        #expect(state.members == [a, b])
    }

    @Test func aVanishedAddressThatComesBackIsAdmittedAgain() {
        var state = DiscoveryState()
        _ = state.resolved([a, b])
        state.admitted(a)
        state.admitted(b)
        #expect(state.resolved([b]) == [.drain(a)])
        #expect(state.resolved([a, b]) == [.admit(a)])
    }

    @Test func anAddressThatCouldNotBeAddedIsTriedAgain() {
        var state = DiscoveryState()
        #expect(state.resolved([a]) == [.admit(a)])
        #expect(state.resolved([a]) == [.admit(a)], "never admitted, so admitted on the next answer")
        #expect(state.members.isEmpty)
    }
}

@Suite struct SystemAddressResolverTests {
    @Test func resolvesLocalhostAndNumericAddresses() async throws {
        let resolver = SystemAddressResolver()
        let local = try await resolver.addresses(of: "localhost")
        #expect(local.contains("127.0.0.1") || local.contains("::1"), "localhost is \(local)")
        #expect(Set(local).count == local.count)
        #expect(try await resolver.addresses(of: "127.0.0.1") == ["127.0.0.1"])
    }

    @Test func aNameThatCannotBeResolvedThrows() async {
        // A name with an empty label is refused by the resolver library before any DNS query.
        await #expect(throws: RouterError.self) { try await SystemAddressResolver().addresses(of: "shoal..test") }
    }
}

/// DNS discovery in a running router, over real sockets: fake replicas listen on 127.0.0.2 and 127.0.0.3 on one
/// port (Linux routes all of 127.0.0.0/8 to the loopback interface) and a scripted resolver plays DNS.
@Suite(.serialized, .timeLimit(.minutes(1))) struct DiscoveryGatewayTests {
    static let hosts = ["127.0.0.2", "127.0.0.3"]
    static let name = "shoal.test"
    #if os(Linux)
    static let loopbackRange = true
    #else
    static let loopbackRange = false
    #endif

    /// Replaces the configured replicas by a discovery of `name` on their port.
    static func discover(_ configuration: inout RouterConfiguration, name: String = name, model: String? = nil,
                         timeout: Duration = DiscoveryTarget.defaultTimeout) {
        let port = configuration.replicas.first.flatMap { URL(string: $0)?.port } ?? 0
        configuration.replicas = []
        configuration.discover = [DiscoveryTarget(name: name, port: port, model: model, interval: .milliseconds(1),
                                                  timeout: timeout)]
    }

    static func complete(_ cluster: Cluster) async throws -> Int {
        try await cluster.request("/v1/completions", json: #"{"model":"tiny","prompt":"hi","max_tokens":2}"#).status
    }

    /// The value of the series `name` whose labels include all of `labels`.
    static func metric(_ text: String, _ name: String, _ labels: [String]) -> Double? {
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + "{") && labels.allSatisfy($0.contains) }
        return line.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }
    }

    @Test(.enabled(if: loopbackRange))
    func addsDiscoveredReplicasAndDrainsOnesThatVanish() async throws {
        let first = FakeReplica()
        let second = FakeReplica()
        let resolver = ScriptedResolver()
        try await Cluster.with([first, second], hosts: Self.hosts, resolver: resolver, configure: { Self.discover(&$0) }) { cluster in
            var calls = resolver.calls.makeAsyncIterator()
            #expect(await calls.next() == Self.name)
            #expect(resolver.reply(.success(Self.hosts)))
            _ = await calls.next()  // the next round began, so this one is over
            #expect(cluster.gateway.replicaStatuses.map(\.url) == cluster.replicaURLs)
            #expect(cluster.gateway.replicaStatuses.allSatisfy { $0.models == ["tiny"] }, "models asked from /v1/models")
            for _ in 0..<4 { #expect(try await Self.complete(cluster) == 200) }
            #expect(first.served.load() == 2 && second.served.load() == 2)

            #expect(resolver.reply(.success([Self.hosts[1]])))
            _ = await calls.next()
            #expect(cluster.gateway.replicaStatuses.map(\.url) == [cluster.replicaURLs[1]], "idle replica drained and removed")
            for _ in 0..<3 { #expect(try await Self.complete(cluster) == 200) }
            #expect(first.served.load() == 2)
            #expect(second.served.load() == 5)

            let metrics = try await cluster.metrics()
            let label = #"name="\#(Self.name):\#(URL(string: cluster.replicaURLs[0])?.port ?? 0)""#
            #expect(Self.metric(metrics, "shoal_router_discovery_resolutions_total", [label, #"outcome="ok""#]) == 2)
            #expect(Self.metric(metrics, "shoal_router_discovery_addresses", [label]) == 1)
        }
    }

    @Test(.enabled(if: loopbackRange))
    func failedOrEmptyAnswersKeepTheReplicasAndReturningOnesAreReadmitted() async throws {
        let first = FakeReplica()
        let second = FakeReplica()
        let resolver = ScriptedResolver()
        try await Cluster.with([first, second], hosts: Self.hosts, resolver: resolver, configure: { Self.discover(&$0) }) { cluster in
            var calls = resolver.calls.makeAsyncIterator()
            _ = await calls.next()
            resolver.reply(.success(Self.hosts))
            _ = await calls.next()
            #expect(cluster.gateway.replicaStatuses.count == 2)

            #expect(resolver.reply(.failure(RouterError(.discoveryFailed, "NXDOMAIN"))))
            _ = await calls.next()
            #expect(cluster.gateway.replicaStatuses.map(\.url) == cluster.replicaURLs, "a failed lookup drains nothing")
            #expect(resolver.reply(.success([])))
            _ = await calls.next()
            #expect(cluster.gateway.replicaStatuses.map(\.url) == cluster.replicaURLs, "an empty answer drains nothing")

            #expect(resolver.reply(.success([Self.hosts[1]])))
            _ = await calls.next()
            #expect(cluster.gateway.replicaStatuses.map(\.url) == [cluster.replicaURLs[1]])
            #expect(resolver.reply(.success(Self.hosts)))
            _ = await calls.next()
            #expect(cluster.gateway.replicaStatuses.map(\.url) == cluster.replicaURLs, "the returning address is readmitted")
            #expect(cluster.gateway.replicaStatuses.allSatisfy { !$0.draining })
            for _ in 0..<4 { #expect(try await Self.complete(cluster) == 200) }
            #expect(first.served.load() > 0 && second.served.load() > 0)

            let metrics = try await cluster.metrics()
            #expect(Self.metric(metrics, "shoal_router_discovery_resolutions_total", [#"outcome="failure""#]) == 1)
            #expect(Self.metric(metrics, "shoal_router_discovery_resolutions_total", [#"outcome="empty""#]) == 1)
            #expect(Self.metric(metrics, "shoal_router_discovery_resolutions_total", [#"outcome="ok""#]) == 3)
        }
    }

    @Test(.enabled(if: loopbackRange))
    func aResolutionThatHangsTimesOutAndKeepsTheReplicas() async throws {
        let resolver = ScriptedResolver(immediate: [.success(Self.hosts)])
        try await Cluster.with([FakeReplica(), FakeReplica()], hosts: Self.hosts, resolver: resolver,
                               configure: { Self.discover(&$0, timeout: .milliseconds(100)) }) { cluster in
            var calls = resolver.calls.makeAsyncIterator()
            _ = await calls.next()  // answered at once
            _ = await calls.next()  // never answered: times out
            _ = await calls.next()
            #expect(cluster.gateway.replicaStatuses.map(\.url) == cluster.replicaURLs)
            let metrics = try await cluster.metrics()
            #expect(Self.metric(metrics, "shoal_router_discovery_resolutions_total", [#"outcome="failure""#]) == 1)
        }
    }

    @Test(.enabled(if: loopbackRange))
    func aModelInTheURLIsTakenWithoutAskingTheReplica() async throws {
        let resolver = ScriptedResolver(immediate: [.success(Self.hosts)])
        try await Cluster.with([FakeReplica(), FakeReplica()], hosts: Self.hosts, resolver: resolver,
                               configure: { Self.discover(&$0, model: "pinned") }) { cluster in
            var calls = resolver.calls.makeAsyncIterator()
            _ = await calls.next()
            _ = await calls.next()
            #expect(cluster.gateway.replicaStatuses.map(\.models) == [["pinned"], ["pinned"]])
        }
    }

    @Test func discoversLocalhostWithTheSystemResolver() async throws {
        let resolver = ObservedResolver()
        try await Cluster.with([FakeReplica()], resolver: resolver, configure: { Self.discover(&$0, name: "localhost") }) { cluster in
            var calls = resolver.calls.makeAsyncIterator()
            #expect(await calls.next() == "localhost")
            _ = await calls.next()
            // localhost may also resolve to ::1, where the fake replica does not listen: that one is not admitted.
            let statuses = cluster.gateway.replicaStatuses
            #expect(statuses.map(\.url) == [cluster.replicaURLs[0]])
            #expect(statuses.first?.models == ["tiny"])
            let status = try await Self.complete(cluster)
            #expect(status == 200)
        }
    }
}
