import ShoalCluster
import Testing

@Suite(.timeLimit(.minutes(1)))
struct LinkAuthenticationTests {
    /// Runs both sides of the handshake, each on its own thread.
    static func handshake(
        _ pair: ConnectedPair, serverKey: String, clientKey: String, serverVersion: UInt32 = 1, clientVersion: UInt32 = 1
    ) async -> (server: Result<Void, ClusterError>, client: Result<Void, ClusterError>) {
        let deadline = ContinuousClock.now + .seconds(10)
        async let server = run {
            try LinkAuthentication.authenticateAsServer(pair.server, key: serverKey, version: serverVersion, deadline: deadline)
        }
        async let client = run {
            try LinkAuthentication.authenticateAsClient(pair.client, key: clientKey, version: clientVersion, deadline: deadline)
        }
        return await (server, client)
    }

    static func run(_ body: @escaping @Sendable () throws -> Void) async -> Result<Void, ClusterError> {
        do {
            try await onOwnThread(body)
            return .success(())
        } catch let error as ClusterError {
            return .failure(error)
        } catch {
            return .failure(ClusterError(.connectionFailed, "unexpected \(error)"))
        }
    }

    @Test(arguments: ["correct horse battery staple", ""])
    func rightKeySucceedsBothWaysAndFramesFlow(key: String) async throws {
        let pair = try await ConnectedPair.make()
        defer { pair.close() }
        let (server, client) = await Self.handshake(pair, serverKey: key, clientKey: key)
        try server.get()
        try client.get()
        try pair.client.send(Frame(kind: 1, payload: [1, 2]))
        try pair.server.send(Frame(kind: 2, payload: [3]))
        #expect(try await onOwnThread { try pair.server.receive(deadline: .now + .seconds(5)) }.payload == [1, 2])
        #expect(try await onOwnThread { try pair.client.receive(deadline: .now + .seconds(5)) }.payload == [3])
    }

    @Test func wrongKeyIsRefusedAndTheClientIsTold() async throws {
        let pair = try await ConnectedPair.make()
        defer { pair.close() }
        let (server, client) = await Self.handshake(pair, serverKey: "right", clientKey: "wrong")
        let serverError = try #require(server.failure)
        #expect(serverError.code == .authenticationFailed)
        let clientError = try #require(client.failure)
        #expect(clientError.code == .authenticationFailed)
        #expect(clientError.message.contains("worker refused the connection: wrong link key"))
        // The server closed the connection: nothing more comes out of it.
        let after = try #require(throws: ClusterError.self) { try pair.server.receive(deadline: .now + .seconds(1)) }
        #expect(after.code == .closed)
    }

    /// A client that sends a forged proof and a tensor right behind it, without waiting to be accepted.
    @Test func forgedProofNeverLetsADataFrameThrough() async throws {
        let pair = try await ConnectedPair.make()
        defer { pair.close() }
        let deadline = ContinuousClock.now + .seconds(10)
        async let server = Self.run {
            try LinkAuthentication.authenticateAsServer(pair.server, key: "secret", version: 1, deadline: deadline)
        }
        let hello = try await onOwnThread { try pair.client.receive(deadline: deadline) }
        #expect(hello.kind == 0xFF01)
        try pair.client.send(Frame(kind: 0xFF02, payload: patternBytes(64)))
        try pair.client.send(Frame(kind: 1, payload: patternBytes(4096)))
        let error = try #require(await server.failure)
        #expect(error.code == .authenticationFailed)
        let after = try #require(throws: ClusterError.self) { try pair.server.receive(deadline: .now + .seconds(1)) }
        #expect(after.code == .closed)
    }

    /// A client that skips the proof and sends a data frame straight away.
    @Test func dataFrameInsteadOfProofIsRefused() async throws {
        let pair = try await ConnectedPair.make()
        defer { pair.close() }
        let deadline = ContinuousClock.now + .seconds(10)
        async let server = Self.run {
            try LinkAuthentication.authenticateAsServer(pair.server, key: "secret", version: 1, deadline: deadline)
        }
        try pair.client.send(Frame(kind: 1, payload: patternBytes(64)))
        let error = try #require(await server.failure)
        #expect(error.code == .protocolViolation)
        let after = try #require(throws: ClusterError.self) { try pair.server.receive(deadline: .now + .seconds(1)) }
        #expect(after.code == .closed)
    }

    /// A worker that does not hold the key cannot fake the accept frame.
    @Test func impostorWorkerIsRefusedByTheClient() async throws {
        let pair = try await ConnectedPair.make()
        defer { pair.close() }
        let deadline = ContinuousClock.now + .seconds(10)
        async let client = Self.run {
            try LinkAuthentication.authenticateAsClient(pair.client, key: "secret", version: 1, deadline: deadline)
        }
        var hello = PayloadWriter()
        hello.writeUInt32(1)
        hello.writeBytes(patternBytes(32))
        try pair.server.send(Frame(kind: 0xFF01, payload: hello.bytes))
        let proof = try await onOwnThread { try pair.server.receive(deadline: deadline) }
        #expect(proof.kind == 0xFF02)
        #expect(proof.payload.count == 64)
        try pair.server.send(Frame(kind: 0xFF03, payload: Array(proof.payload[32...])))  // replays the client's own code
        let error = try #require(await client.failure)
        #expect(error.code == .authenticationFailed)
    }

    @Test func versionMismatchNamesBothVersions() async throws {
        let pair = try await ConnectedPair.make()
        defer { pair.close() }
        let (server, client) = await Self.handshake(pair, serverKey: "k", clientKey: "k", serverVersion: 7, clientVersion: 3)
        let clientError = try #require(client.failure)
        #expect(clientError.code == .versionMismatch)
        #expect(clientError.message.contains("version 7"))
        #expect(clientError.message.contains("version 3"))
        let serverError = try #require(server.failure)
        #expect(serverError.message.contains("version 3"))
    }

    @Test func silentClientTimesOut() async throws {
        let pair = try await ConnectedPair.make()
        defer { pair.close() }
        let result = await Self.run {
            try LinkAuthentication.authenticateAsServer(pair.server, key: "k", version: 1, deadline: .now + .milliseconds(100))
        }
        #expect(result.failure?.code == .timedOut)
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
