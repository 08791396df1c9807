public import HummingbirdCore
public import NIOCore
internal import NIOHTTPTypes

/// How long a client may take to send a request before its connection is closed.
public struct RequestReadTimeouts: Sendable, Equatable {
    /// From the connection opening, or its previous response ending, to a complete request head. This also
    /// closes keep-alive connections left idle this long (keep it above the idle timeout of clients' connection
    /// pools: the router's is 30 s).
    public var header: Duration
    /// From the request head to the end of its body.
    public var body: Duration

    public init(header: Duration = .seconds(60), body: Duration = .seconds(60)) {
        self.header = header
        self.body = body
    }
}

/// Closes the connection of a client too slow to send its request (`RequestReadTimeouts`): a slow client holds
/// a connection and its buffers for as long as the timeouts allow, not for as long as it likes. No timer runs
/// while a response is being written, however long it streams.
final class RequestReadDeadline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let timeouts: RequestReadTimeouts
    private var timer: Scheduled<Void>?
    /// The current request's body has been read to its end (true between requests).
    private var requestComplete = true
    /// The current request's response has been written to its end (true between requests).
    private var responseComplete = true

    init(_ timeouts: RequestReadTimeouts) {
        self.timeouts = timeouts
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(timeouts.header, context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(timeouts.header, context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            requestComplete = false
            responseComplete = false
            arm(timeouts.body, context: context)
        case .body:
            break
        case .end:
            requestComplete = true
            if responseComplete { arm(timeouts.header, context: context) } else { disarm() }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            responseComplete = true
            // A response written before its request's body ended (an early refusal) leaves the body's timer on.
            if requestComplete { arm(timeouts.header, context: context) }
        }
        context.write(data, promise: promise)
    }

    private func arm(_ limit: Duration, context: ChannelHandlerContext) {
        timer?.cancel()
        let (seconds, attoseconds) = limit.components
        let delay = TimeAmount.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            context.close(promise: nil)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}
