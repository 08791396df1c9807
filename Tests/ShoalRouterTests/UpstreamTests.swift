import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import ShoalAPI
import ShoalRouter
import Synchronization
import Testing

/// The router's upstream connections against replicas that hold streams open or hang after a response head.
@Suite(.serialized) struct UpstreamTests {
    /// Lets `count` arrivals wait for each other; a waiter leaves early when its task is cancelled.
    final class Gate: Sendable {
        private struct State {
            var arrived = 0
            var isOpen = false
            var nextTicket = 0
            var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        }

        let count: Int
        private let state = Mutex(State())

        init(count: Int) {
            self.count = count
        }

        var isOpen: Bool { state.withLock { $0.isOpen } }

        /// - Returns: whether all `count` arrived (false when cancelled first).
        func arrive() async -> Bool {
            let ticket = state.withLock { state -> Int? in
                state.arrived += 1
                guard state.arrived < count else {
                    state.isOpen = true
                    for waiter in state.waiters.values { waiter.resume() }
                    state.waiters = [:]
                    return nil
                }
                state.nextTicket += 1
                return state.nextTicket
            }
            guard let ticket else { return true }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.isOpen || Task.isCancelled { return true }
                        state.waiters[ticket] = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                state.withLock { $0.waiters.removeValue(forKey: ticket) }?.resume()
            }
            return isOpen
        }
    }

    /// Runs a replica made of `router` (plus `/v1/models` for model "tiny") on a free port during `body`.
    static func withReplica(_ router: Router<BasicRequestContext>, _ body: (String) async throws -> Void) async throws {
        router.get("/v1/models") { _, _ in
            let list = ModelList(data: [ModelCard(id: "tiny", created: 0, maxModelLen: 4096)])
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(list))))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                  onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) })
            group.addTask { try await app.runService() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            var failure: (any Error)?
            do { try await body("http://127.0.0.1:\(port)") } catch { failure = error }
            group.cancelAll()
            while true {
                do {
                    guard try await group.next() != nil else { break }
                } catch {}
            }
            if let failure { throw failure }
        }
    }

    @Test func moreConcurrentStreamsToOneReplicaThanAnHTTPClientPoolsByDefault() async throws {
        let streams = 12
        let gate = Gate(count: streams)
        let router = Router(context: BasicRequestContext.self)
        router.get("/health") { _, _ in Response(status: .ok) }
        router.post("/v1/completions") { _, _ in
            // Every stream waits until all have reached the replica (at most 20 s, then it answers anyway).
            _ = await withTaskGroup(of: Bool.self) { group in
                group.addTask { await gate.arrive() }
                group.addTask {
                    try? await Task.sleep(for: .seconds(20))
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            let chunk = #"{"id":"cmpl-1","object":"text_completion","created":0,"model":"tiny","choices":"#
                + #"[{"index":0,"text":"ok","logprobs":null,"finish_reason":"length","prompt_token_ids":[1],"#
                + #""token_ids":[7]}]}"#
            return Response(status: .ok, headers: [.contentType: "text/event-stream"],
                            body: .init(byteBuffer: ByteBuffer(string: "data: \(chunk)\n\n" + ServerSentEvents.done)))
        }
        try await Self.withReplica(router) { replica in
            var configuration = RouterConfiguration()
            configuration.port = 0
            configuration.replicas = [replica]
            configuration.connectTimeout = .seconds(1)
            configuration.streamIdleTimeout = .seconds(60)
            configuration.health.interval = .seconds(3600)
            // Generous, as in `Cluster`: the first discovery must not time out on a machine busy with other suites.
            configuration.health.timeout = .seconds(20)
            let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
            let gateway = try RouterGateway(configuration: configuration, onListening: { continuation.yield($0) })
            var settings = HTTPClient.Configuration()
            settings.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: settings)
            var failure: (any Error)?
            do { try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await gateway.run() }
                var iterator = ports.makeAsyncIterator()
                let port = try #require(await iterator.next())
                let answers = try await withThrowingTaskGroup(of: (Int, String).self) { requests in
                    for _ in 0..<streams {
                        requests.addTask {
                            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/completions")
                            request.method = .POST
                            request.headers.add(name: "content-type", value: "application/json")
                            request.body = .bytes(ByteBuffer(string: #"{"model":"tiny","prompt":"hi","stream":true}"#))
                            let response = try await client.execute(request, timeout: .seconds(60))
                            let body = try await response.body.collect(upTo: 1 << 20)
                            return (Int(response.status.code), String(buffer: body))
                        }
                    }
                    var answers: [(Int, String)] = []
                    for try await answer in requests { answers.append(answer) }
                    return answers
                }
                #expect(gate.isOpen, "all \(streams) streams reached the replica at once")
                for (status, body) in answers {
                    #expect(status == 200, "\(body)")
                    #expect(body.contains(#""text":"ok""#) && body.hasSuffix(ServerSentEvents.done), "\(body)")
                }
                group.cancelAll()
                while true {
                    do {
                        guard try await group.next() != nil else { break }
                    } catch {}
                }
            } } catch { failure = error }
            try await client.shutdown()
            await gateway.shutdown()
            if let failure { throw failure }
        }
    }

    @Test func aHealthProbeThatHangsAfterItsHeadFailsWithinTheProbeTimeout() async throws {
        let router = Router(context: BasicRequestContext.self)
        router.get("/health") { request, _ in
            // The head and a first byte go out, then the body never ends (until the router hangs up).
            Response(status: .ok, headers: [.contentType: "text/plain"], body: ResponseBody { writer in
                try await request.body.consumeWithCancellationOnInboundClose { _ in
                    try await writer.write(ByteBuffer(string: "o"))
                    try await Task.sleep(for: .seconds(30))
                }
                try await writer.finish(nil)
            })
        }
        try await Self.withReplica(router) { replica in
            var configuration = RouterConfiguration()
            configuration.port = 0
            configuration.health.timeout = .milliseconds(300)
            configuration.health.unhealthyThreshold = 1
            configuration.requestTimeout = .seconds(120)
            let gateway = try RouterGateway(configuration: configuration)
            try await gateway.addReplica(replica)
            let clock = ContinuousClock()
            let started = clock.now
            await gateway.probeAll()
            let elapsed = clock.now - started
            // Without its own deadline the probe would wait for the request timeout (120 s).
            #expect(elapsed < .seconds(15), "probe took \(elapsed)")
            #expect(gateway.replicaStatuses.map(\.healthy) == [false])
            await gateway.shutdown()
        }
    }
}
