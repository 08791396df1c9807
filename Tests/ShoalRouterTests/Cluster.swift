import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import Testing
import ShoalAPI
import ShoalRouter

/// Fake replicas and a router over them, all on 127.0.0.1 with ports picked by the kernel.
struct Cluster: Sendable {
    let routerURL: String
    let replicaURLs: [String]
    let client: HTTPClient
    let gateway: RouterGateway

    /// Starts everything, runs `body`, and stops everything again.
    /// - Parameters:
    ///   - hosts: where replica i listens (default 127.0.0.1, each on a free port); given, they all share the
    ///     first one's port, as replicas found by DNS discovery do.
    ///   - resolver: the gateway's resolver for `configuration.discover`.
    static func with(_ replicas: [FakeReplica], hosts: [String]? = nil, resolver: any AddressResolver = SystemAddressResolver(),
                     configure: (inout RouterConfiguration) -> Void = { _ in },
                     _ body: (Cluster) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var urls: [String] = []
            var sharedPort = 0
            for (index, replica) in replicas.enumerated() {
                let host = hosts?[index] ?? "127.0.0.1"
                let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
                let app = replica.makeApplication(host: host, port: sharedPort) { continuation.yield($0) }
                group.addTask { try await app.runService() }
                var iterator = ports.makeAsyncIterator()
                let port = try #require(await iterator.next())
                if hosts != nil { sharedPort = port }
                urls.append("http://\(host):\(port)")
            }
            var configuration = RouterConfiguration()
            configuration.port = 0
            configuration.replicas = urls
            configuration.seed = 7
            configuration.policy = .roundRobin
            configuration.health.interval = .seconds(3600)
            // Generous, so that a machine loaded by other test suites does not fail the first discovery of a local
            // fake replica (tests of timeouts set their own).
            configuration.health.timeout = .seconds(20)
            configuration.retry.initialBackoff = .milliseconds(1)
            configuration.retry.maxBackoff = .milliseconds(5)
            configure(&configuration)
            let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
            let gateway = try RouterGateway(configuration: configuration, onListening: { continuation.yield($0) },
                                            resolver: resolver)
            group.addTask { try await gateway.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
            let cluster = Cluster(routerURL: "http://127.0.0.1:\(port)", replicaURLs: urls, client: client, gateway: gateway)
            var failure: (any Error)?
            do { try await body(cluster) } catch { failure = error }
            try? await client.shutdown()
            group.cancelAll()
            while true {
                do {
                    guard try await group.next() != nil else { break }
                } catch {}
            }
            await gateway.shutdown()
            if let failure { throw failure }
        }
    }

    struct Answer {
        var status: Int
        var body: String
        var events: [ServerSentEvent]
    }

    func request(_ path: String, json: String? = nil, method: HTTPMethod = .POST, base: String? = nil,
                 headers: [(String, String)] = []) async throws -> Answer {
        var request = HTTPClientRequest(url: (base ?? routerURL) + path)
        request.method = method
        if let json {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await client.execute(request, timeout: .seconds(30))
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        var text = ""
        for try await buffer in response.body {
            text += String(buffer: buffer)
            events += parser.append(buffer.readableBytesView)
        }
        return Answer(status: Int(response.status.code), body: text, events: events)
    }

    func metrics() async throws -> String {
        try await request("/metrics", method: .GET).body
    }
}

extension ServerSentEvent {
    var object: [String: JSONValue]? {
        guard case .object(let fields)? = try? JSONDecoder().decode(JSONValue.self, from: Data(data.utf8)) else { return nil }
        return fields
    }
}

extension JSONValue {
    var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    var array: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }
}
