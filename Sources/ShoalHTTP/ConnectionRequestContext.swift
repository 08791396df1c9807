public import Hummingbird
public import HummingbirdCore
public import NIOCore
internal import Synchronization

/// A request context that knows its client connection, so that a long response can be cancelled when the client
/// goes away without reading the connection's inbound side (Hummingbird's `consumeWithCancellationOnInboundClose`
/// does, and costs the connection its keep-alive).
public struct ConnectionRequestContext: RequestIDContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection the request came on.
    public let connection: ClientConnection
    /// The request's id (set by `RequestIDMiddleware`).
    public var requestID = ""

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        connection = ClientConnection.of(source.channel)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 whose connections tell their `ClientConnection` when the client stops sending or goes away, and
    /// are closed when the client is slower to send a request than `readTimeouts` allow; serve
    /// `ConnectionRequestContext` requests with it.
    public static func http1WatchingClients(readTimeouts: RequestReadTimeouts = RequestReadTimeouts()) -> HTTPServerBuilder {
        .http1(configuration: .init(additionalChannelHandlers: [ClientConnectionHandler(), RequestReadDeadline(readTimeouts)]))
    }
}

/// Marks the channel's `ClientConnection` closed when the client closes its side (end of input) or the channel
/// closes. Hummingbird does not read the connection while a response is written, but NIO still reads what the
/// socket has, so the end of input arrives as an event here even while no request is being read.
final class ClientConnectionHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = Never

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed? = event as? ChannelEvent {
            ClientConnection.of(context.channel).close()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        ClientConnection.of(context.channel).close()
        context.fireChannelInactive()
    }
}

/// One client connection of the HTTP server: whether the client has closed it, and the requests that want to
/// hear of it. One instance per connection, however many requests it carries.
public final class ClientConnection: Sendable {
    private struct State {
        var closed = false
        var waiting: [Int: @Sendable () -> Void] = [:]
        var nextToken = 0
    }

    private let state = Mutex(State())
    /// The open connections by channel: each registers its close callback once, not once per request.
    private static let open = Mutex<[ObjectIdentifier: ClientConnection]>([:])

    /// The connection of `channel`.
    static func of(_ channel: any Channel) -> ClientConnection {
        let key = ObjectIdentifier(channel)
        let (connection, created) = open.withLock { table -> (ClientConnection, Bool) in
            if let known = table[key] { return (known, false) }
            let made = ClientConnection()
            table[key] = made
            return (made, true)
        }
        if created {
            channel.closeFuture.whenComplete { _ in
                _ = open.withLock { $0.removeValue(forKey: key) }
                connection.close()
            }
        }
        return connection
    }

    /// Whether the connection has closed (the client went away, or the server closed it).
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Runs `operation` and cancels the task running it when the connection closes, so that the streams it
    /// iterates end (an engine request is aborted, an upstream request is cancelled).
    public func cancellingOnClose<Value>(_ operation: () async throws -> Value) async throws -> Value {
        guard let task = withUnsafeCurrentTask(body: { $0.map(CurrentTask.init) }) else { return try await operation() }
        // Hooks run under the lock and `defer` takes it to remove this one: the task is never touched after
        // this call returns.
        let token: Int? = state.withLock { state in
            if state.closed { return nil }
            let token = state.nextToken
            state.nextToken += 1
            state.waiting[token] = { task.cancel() }
            return token
        }
        guard let token else { throw CancellationError() }
        defer { _ = state.withLock { $0.waiting.removeValue(forKey: token) } }
        return try await operation()
    }

    /// The running task, to cancel from the connection's event loop while `cancellingOnClose` waits in it.
    private struct CurrentTask: @unchecked Sendable {
        let task: UnsafeCurrentTask
        init(_ task: UnsafeCurrentTask) { self.task = task }
        func cancel() { task.cancel() }
    }

    fileprivate func close() {
        state.withLock { state in
            state.closed = true
            for hook in state.waiting.values { hook() }
            state.waiting = [:]
        }
    }
}
