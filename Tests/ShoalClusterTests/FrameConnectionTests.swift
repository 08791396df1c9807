import ShoalCluster
import Testing

@Suite(.timeLimit(.minutes(1)))
struct FrameConnectionTests {
    @Test(arguments: [0, 1, 4096, 1_000_000], [UInt16(0), 1, 0x1234, 0xFEFF])
    func framesRoundTrip(size: Int, kind: UInt16) async throws {
        let pair = try await ConnectedPair.make()
        defer { pair.close() }
        let payload = patternBytes(size, seed: UInt8(truncatingIfNeeded: kind))
        async let sent: Void = onOwnThread { try pair.client.send(Frame(kind: kind, payload: payload)) }
        let frame = try await onOwnThread { try pair.server.receive(deadline: .now + .seconds(10)) }
        try await sent
        #expect(frame.kind == kind)
        #expect(frame.payload == payload)
    }

    @Test func partsAreSentAsOnePayload() async throws {
        let pair = try await ConnectedPair.make()
        defer { pair.close() }
        let a = patternBytes(7), b: [UInt8] = [], c = patternBytes(70_000, seed: 9)
        async let sent: Void = onOwnThread {
            try a.withUnsafeBytes { a in
                try b.withUnsafeBytes { b in
                    try c.withUnsafeBytes { c in try pair.client.send(kind: 42, [a, b, c]) }
                }
            }
        }
        let frame = try await onOwnThread { try pair.server.receive(deadline: nil) }
        try await sent
        #expect(frame.kind == 42)
        #expect(frame.payload == a + b + c)
    }

    @Test func backToBackFramesArriveInOrderBothWays() async throws {
        let pair = try await ConnectedPair.make()
        defer { pair.close() }
        let sizes = (0..<200).map { ($0 * 997) % 12_000 }
        try await onOwnThread {
            for (i, size) in sizes.enumerated() {
                try pair.client.send(Frame(kind: UInt16(i), payload: patternBytes(size, seed: UInt8(i & 0xFF))))
            }
        }
        try await onOwnThread {
            for (i, size) in sizes.enumerated() {
                let frame = try pair.server.receive(deadline: .now + .seconds(10))
                #expect(frame.kind == UInt16(i))
                #expect(frame.payload == patternBytes(size, seed: UInt8(i & 0xFF)))
                try pair.server.send(Frame(kind: frame.kind, payload: Array(frame.payload.prefix(16))))
            }
            for i in sizes.indices {
                #expect(try pair.client.receive(deadline: .now + .seconds(10)).kind == UInt16(i))
            }
        }
    }

    @Test func remoteDescriptionNamesThePeer() async throws {
        let pair = try await ConnectedPair.make()
        defer { pair.close() }
        #expect(pair.client.remoteDescription == "127.0.0.1:\(pair.listener.port)")
        #expect(pair.server.remoteDescription.hasPrefix("127.0.0.1:"))
    }

    @Test func ipv6LoopbackWorks() async throws {
        guard let listener = try? FrameListener(host: "::1", port: 0) else { return }  // no IPv6 on this host
        defer { listener.close() }
        async let accepted = onOwnThread { try listener.accept() }
        let client = try await onOwnThread { try FrameConnection.connect(host: "::1", port: listener.port, timeout: .seconds(5)) }
        let server = try await accepted
        defer { client.close(); server.close() }
        #expect(client.remoteDescription == "[::1]:\(listener.port)")
        try client.send(Frame(kind: 3, payload: [1, 2, 3]))
        #expect(try await onOwnThread { try server.receive(deadline: .now + .seconds(5)) }.payload == [1, 2, 3])
    }

    @Test(arguments: [
        header(magic: Array("HTTP".utf8), kind: 1, count: 0),
        header(kind: 1, count: UInt32(1 << 30) + 1),
        header(kind: 1, count: .max),
    ])
    func badHeaderIsAProtocolViolation(bytes: [UInt8]) async throws {
        let listener = try FrameListener(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let raw = try RawClient(port: listener.port)
        defer { raw.close() }
        raw.write(bytes + [1, 2, 3, 4])
        let server = try await onOwnThread { try listener.accept() }
        let error = try await #require(throws: ClusterError.self) {
            try await onOwnThread { try server.receive(deadline: .now + .seconds(5)) }
        }
        #expect(error.code == .protocolViolation)
        // The stream cannot be framed any more, so the connection was closed.
        #expect((try? server.receive(deadline: .now + .seconds(1))) == nil)
    }

    @Test func peerCloseIsClosed() async throws {
        let pair = try await ConnectedPair.make()
        defer { pair.close() }
        try pair.client.send(Frame(kind: 5, payload: [9]))
        pair.client.close()
        #expect(try await onOwnThread { try pair.server.receive(deadline: nil) }.payload == [9])
        let error = try await #require(throws: ClusterError.self) {
            try await onOwnThread { try pair.server.receive(deadline: nil) }
        }
        #expect(error.code == .closed)
    }

    @Test func peerCloseInTheMiddleOfAFrameIsClosed() async throws {
        let listener = try FrameListener(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let raw = try RawClient(port: listener.port)
        raw.write(header(kind: 1, count: 100) + patternBytes(40))
        raw.close()
        let server = try await onOwnThread { try listener.accept() }
        let error = try await #require(throws: ClusterError.self) {
            try await onOwnThread { try server.receive(deadline: .now + .seconds(5)) }
        }
        #expect(error.code == .closed)
        #expect(error.message.contains("middle of a frame"))
    }

    @Test func silentPeerTimesOutAndTheConnectionStaysUsable() async throws {
        let pair = try await ConnectedPair.make()
        defer { pair.close() }
        let clock = ContinuousClock()
        let start = clock.now
        let error = try await #require(throws: ClusterError.self) {
            try await onOwnThread { try pair.server.receive(deadline: start + .milliseconds(200)) }
        }
        let elapsed = start.duration(to: clock.now)
        #expect(error.code == .timedOut)
        #expect(elapsed >= .milliseconds(200))
        #expect(elapsed < .seconds(5))
        // Nothing of a frame had arrived, so the stream is still in step.
        try pair.client.send(Frame(kind: 8, payload: [1]))
        #expect(try await onOwnThread { try pair.server.receive(deadline: .now + .seconds(5)) }.kind == 8)
    }

    @Test func deadlineHoldsForAWholeFrameThatStalls() async throws {
        let listener = try FrameListener(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let raw = try RawClient(port: listener.port)
        defer { raw.close() }
        raw.write(header(kind: 1, count: 100) + patternBytes(10))
        let server = try await onOwnThread { try listener.accept() }
        let start = ContinuousClock.now
        let error = try await #require(throws: ClusterError.self) {
            try await onOwnThread { try server.receive(deadline: start + .milliseconds(200)) }
        }
        #expect(error.code == .timedOut)
        #expect(ContinuousClock.now - start >= .milliseconds(200))
        // Part of a frame was consumed, so the connection was closed rather than left out of step.
        #expect((try? server.receive(deadline: .now + .seconds(1))) == nil)
    }

    @Test func connectingToAClosedPortFails() async throws {
        let listener = try FrameListener(host: "127.0.0.1", port: 0)
        let port = listener.port
        listener.close()
        let error = try await #require(throws: ClusterError.self) {
            try await onOwnThread { try FrameConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(5)) }
        }
        #expect(error.code == .connectionFailed)
        #expect(error.message.contains("127.0.0.1:\(port)"))
    }

    @Test func unresolvableHostFails() async throws {
        let error = try await #require(throws: ClusterError.self) {
            try await onOwnThread { try FrameConnection.connect(host: "no such host.invalid", port: 1, timeout: .seconds(5)) }
        }
        #expect(error.code == .connectionFailed)
    }

    @Test func errorFrameThrowsThePeersText() async throws {
        let pair = try await ConnectedPair.make()
        defer { pair.close() }
        pair.server.sendError("worker refused:\nbusy")
        let error = try await #require(throws: ClusterError.self) {
            try await onOwnThread { try pair.client.receive(deadline: .now + .seconds(5)) }
        }
        #expect(error.code == .connectionFailed)
        #expect(error.message == "worker refused: busy")
    }

    @Test func oversizedSendIsRefusedBeforeWriting() async throws {
        let pair = try await ConnectedPair.make()
        defer { pair.close() }
        let big = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: 0x1000), count: Frame.maxPayloadCount)
        let error = try #require(throws: ClusterError.self) { try pair.client.send(kind: 1, [big, big]) }
        #expect(error.code == .protocolViolation)
    }

    @Test func closeFromAnotherThreadWakesABlockedReceive() async throws {
        let pair = try await ConnectedPair.make()
        defer { pair.close() }
        let probe = BlockedThreadProbe()
        async let received = onOwnThread { () -> ClusterError.Code? in
            probe.enter()
            do {
                _ = try pair.server.receive(deadline: nil)
                return nil
            } catch let error as ClusterError {
                return error.code
            }
        }
        let blocked = try await onOwnThread { probe.waitUntilBlocked(inSyscall: 45) }  // recvfrom
        #expect(blocked != false)  // nil: /proc cannot say here; the close is still checked
        pair.server.close()
        #expect(try await received == .closed)
        pair.server.close()  // idempotent
    }

    @Test func closeFromAnotherThreadWakesABlockedAccept() async throws {
        let listener = try FrameListener(host: "127.0.0.1", port: 0)
        let probe = BlockedThreadProbe()
        async let accepted = onOwnThread { () -> ClusterError.Code? in
            probe.enter()
            do {
                _ = try listener.accept()
                return nil
            } catch let error as ClusterError {
                return error.code
            }
        }
        let blocked = try await onOwnThread { probe.waitUntilBlocked(inSyscall: 43) }  // accept
        #expect(blocked != false)  // nil: /proc cannot say here; the close is still checked
        listener.close()
        #expect(try await accepted == .closed)
        listener.close()  // idempotent
    }
}
