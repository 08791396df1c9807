import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import ShoalBench
import ShoalEngine

/// What `bench serve` asks of an OpenAI-compatible server: its first model, token counts (`/tokenize`), and
/// streamed completions, each measured.
struct BenchServeClient: Sendable {
    var client: HTTPClient
    /// The server's base URL without a trailing slash.
    var base: String
    var apiKey: String?

    /// The first model `/v1/models` lists.
    func firstModel() async throws -> String {
        var request = HTTPClientRequest(url: base + "/v1/models")
        authorize(&request)
        let response = try await client.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        struct Models: Decodable { struct Model: Decodable { var id: String }; var data: [Model] }
        guard let first = try? JSONDecoder().decode(Models.self, from: Data(buffer: body)).data.first?.id else {
            throw BenchServeError("\(base)/v1/models lists no model; pass --model")
        }
        return first
    }

    /// The length of `text` in the model's tokens, from the server's `POST /tokenize` (vLLM's and Shoal's shape).
    func tokenCount(of text: String, model: String) async throws -> Int {
        var request = HTTPClientRequest(url: base + "/tokenize")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        authorize(&request)
        let body: [String: Any] = ["model": model, "prompt": text, "add_special_tokens": false]
        request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
        let response = try await client.execute(request, timeout: .seconds(60))
        let answer = try await response.body.collect(upTo: 16 << 20)
        guard response.status == .ok,
              let object = try JSONSerialization.jsonObject(with: Data(buffer: answer)) as? [String: Any] else {
            throw BenchServeError("\(base)/tokenize answered \(response.status.code)")
        }
        if let count = object["count"] as? Int { return count }
        if let tokens = object["tokens"] as? [Any] { return tokens.count }
        throw BenchServeError("\(base)/tokenize answered without count or tokens")
    }

    /// The fixed parts of every completion request.
    struct RequestOptions: Sendable {
        var model: String
        var temperature: Double
        var ignoreEOS: Bool
        var responseFormat: String?
        /// A JSON object's text whose fields are merged into every request.
        var extraBody: String?
    }

    /// Streams one completion and measures it from `due`, the moment it was due to be sent; never throws (a
    /// failure is an outcome). TTFT is the first chunk with text and ITLs the gaps between chunks with text (a
    /// server's closing chunk without text adds none); the latency runs to the end of the stream.
    func stream(_ benchRequest: BenchRequest, options: RequestOptions, due: ContinuousClock.Instant) async -> RequestOutcome {
        var outcome = RequestOutcome(estimatedPromptTokens: benchRequest.promptTokens)
        let clock = ContinuousClock()
        do {
            var request = HTTPClientRequest(url: base + "/v1/completions")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            // A fresh connection per request: servers differ in how long they keep idle connections, and a reused
            // connection that the server just closed would count as a failed request.
            request.headers.add(name: "Connection", value: "close")
            authorize(&request)
            var body: [String: Any] = [
                "model": options.model, "prompt": benchRequest.prompt, "max_tokens": benchRequest.maxTokens,
                "temperature": options.temperature, "stream": true, "stream_options": ["include_usage": true],
            ]
            if options.ignoreEOS { body["ignore_eos"] = true }
            if let user = benchRequest.user { body["user"] = user }
            if let responseFormat = options.responseFormat { body["response_format"] = ["type": responseFormat] }
            if let extraBody = options.extraBody,
               let extra = try JSONSerialization.jsonObject(with: Data(extraBody.utf8)) as? [String: Any] {
                body.merge(extra) { _, new in new }
            }
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
            let response = try await client.execute(request, timeout: .seconds(600))
            guard response.status == .ok else {
                let text = try await response.body.collect(upTo: 1 << 16)
                outcome.error = "HTTP \(response.status.code): \(String(buffer: text).prefix(200))"
                outcome.latency = (clock.now - due).seconds
                return outcome
            }
            var pending = Data()
            var last = due
            var firstChoice: ContinuousClock.Instant?
            for try await buffer in response.body {
                pending.append(contentsOf: buffer.readableBytesView)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    guard line.hasPrefix("data:") else { continue }
                    let payload = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
                    if payload == "[DONE]" { continue }
                    guard let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any] else { continue }
                    if let usage = object["usage"] as? [String: Any], let completion = usage["completion_tokens"] as? Int {
                        outcome.usageCompletionTokens = completion
                        outcome.usagePromptTokens = usage["prompt_tokens"] as? Int
                    }
                    guard let choice = (object["choices"] as? [[String: Any]])?.first else { continue }
                    let now = clock.now
                    if firstChoice == nil { firstChoice = now }
                    guard let text = choice["text"] as? String, !text.isEmpty else { continue }
                    if outcome.ttft == nil {
                        outcome.ttft = (now - due).seconds
                    } else {
                        outcome.itls.append((now - last).seconds)
                    }
                    last = now
                    outcome.chunks += 1
                }
            }
            outcome.latency = (clock.now - due).seconds
            // An answer without text (the model ended at once) still succeeded, as vLLM counts it: its first token
            // came with the first chunk.
            if outcome.ttft == nil, let firstChoice { outcome.ttft = (firstChoice - due).seconds }
            if outcome.ttft == nil { outcome.error = "no chunk with choices streamed" }
        } catch {
            outcome.error = "\(error)"
            outcome.latency = (clock.now - due).seconds
        }
        return outcome
    }

    private func authorize(_ request: inout HTTPClientRequest) {
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
    }
}

/// A failure of `bench serve` itself (not of one request).
struct BenchServeError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
