internal import Hummingbird
internal import ShoalHTTP
internal import Logging
internal import NIOCore

/// A validated generation request (completions or chat) that can stream its server-sent events or collect
/// one response body. `respond` turns either into the HTTP response.
protocol GenerationRun: Sendable {
    associatedtype Body: Encodable & Sendable
    /// The response id, for logs.
    var id: String { get }
    /// Sends every event of the stream, each already framed as `data: …\n\n`.
    func stream(_ send: (String) async throws -> Void) async throws
    /// Runs to the end and returns the whole response.
    func collect() async throws -> Body
}

extension GenerationRun {
    /// The response: an event stream when `streaming`, else one JSON body. Either way a client disconnect
    /// cancels the run (which aborts its engine requests), and `ticket` is released when the answer is done.
    /// The connection stays open for the client's next request (keep-alive).
    func respond(context: ConnectionRequestContext, streaming: Bool, ticket: RequestTicket,
                 server: ServerContext) async throws -> Response {
        let connection = context.connection
        if streaming {
            let logger = context.logger
            return Response(status: .ok, headers: ServerContext.eventStreamHeaders, body: ResponseBody { writer in
                defer { ticket.finish() }
                do {
                    try await connection.cancellingOnClose {
                        try await stream { try await writer.write(ByteBuffer(string: $0)) }
                    }
                    try await writer.finish(nil)
                } catch {
                    logger.debug("stream ended early", metadata: ["id": "\(id)", "error": "\(error)"])
                }
            })
        }
        let response = try await connection.cancellingOnClose { try await collect() }
        ticket.finish()
        return try server.json(response)
    }
}
