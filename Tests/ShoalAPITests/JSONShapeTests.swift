import Foundation
import ShoalAPI
import Testing

/// Encodes `value` and compares it, as parsed JSON, with hand-written JSON.
func expectJSON(_ value: some Encodable, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let encoded = try ServerSentEvents.makeEncoder().encode(value)
    let actual = try JSONDecoder().decode(JSONValue.self, from: encoded)
    let wanted = try JSONDecoder().decode(JSONValue.self, from: Data(expected.utf8))
    #expect(actual == wanted, "\(String(decoding: encoded, as: UTF8.self))", sourceLocation: sourceLocation)
}

@Suite struct JSONShapeTests {
    @Test func completionResponseHasEveryOpenAIField() throws {
        let response = CompletionResponse(
            id: "cmpl-1", created: 1_700_000_000, model: "m",
            choices: [CompletionChoice(index: 0, text: "hi", finishReason: "length")],
            usage: Usage(promptTokens: 3, completionTokens: 2, cachedTokens: 1))
        try expectJSON(response, """
            {"id": "cmpl-1", "object": "text_completion", "created": 1700000000, "model": "m",
             "choices": [{"index": 0, "text": "hi", "logprobs": null, "finish_reason": "length"}],
             "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5,
                       "prompt_tokens_details": {"cached_tokens": 1}}}
            """)
    }

    @Test func completionChunksWriteUsageOnlyWhenAsked() throws {
        let choice = CompletionChoice(index: 1, text: "a")
        try expectJSON(CompletionResponse(id: "c", created: 1, model: "m", choices: [choice], usage: nil, writesUsage: false), """
            {"id": "c", "object": "text_completion", "created": 1, "model": "m",
             "choices": [{"index": 1, "text": "a", "logprobs": null, "finish_reason": null}]}
            """)
        try expectJSON(CompletionResponse(id: "c", created: 1, model: "m", choices: [choice], usage: nil, writesUsage: true), """
            {"id": "c", "object": "text_completion", "created": 1, "model": "m",
             "choices": [{"index": 1, "text": "a", "logprobs": null, "finish_reason": null}], "usage": null}
            """)
    }

    @Test func completionTokenIDsAreAnExtension() throws {
        let choice = CompletionChoice(index: 0, text: "x", finishReason: "stop", promptTokenIDs: [1, 2], tokenIDs: [3])
        try expectJSON(choice, """
            {"index": 0, "text": "x", "logprobs": null, "finish_reason": "stop", "prompt_token_ids": [1, 2], "token_ids": [3]}
            """)
    }

    @Test func completionLogprobsKeepNullsAndOrder() throws {
        let logprobs = CompletionLogprobs(
            textOffset: [0, 5], tokenLogprobs: [nil, -0.5], tokens: ["Hello", " you"],
            topLogprobs: [nil, OrderedLogprobs([(" you", -0.5), (" me", -1.5)])])
        try expectJSON(logprobs, """
            {"text_offset": [0, 5], "token_logprobs": [null, -0.5], "tokens": ["Hello", " you"],
             "top_logprobs": [null, {" you": -0.5, " me": -1.5}]}
            """)
        let decoded = try JSONDecoder().decode(CompletionLogprobs.self, from: try JSONEncoder().encode(logprobs))
        #expect(decoded == logprobs)
    }

    @Test func chatResponseShape() throws {
        let response = ChatCompletionResponse(
            id: "chatcmpl-1", created: 2, model: "m",
            choices: [ChatChoice(
                index: 0, message: ChatResponseMessage(content: "Hi"),
                logprobs: ChatLogprobs(content: [ChatTokenLogprob(
                    token: "Hi", logprob: -0.25, bytes: [72, 105],
                    topLogprobs: [ChatTopLogprob(token: "Hi", logprob: -0.25, bytes: [72, 105])])]),
                finishReason: "stop")],
            usage: Usage(promptTokens: 4, completionTokens: 1, cachedTokens: 0))
        try expectJSON(response, """
            {"id": "chatcmpl-1", "object": "chat.completion", "created": 2, "model": "m",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                          "logprobs": {"content": [{"token": "Hi", "logprob": -0.25, "bytes": [72, 105],
                                                    "top_logprobs": [{"token": "Hi", "logprob": -0.25, "bytes": [72, 105]}]}]},
                          "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5,
                       "prompt_tokens_details": {"cached_tokens": 0}}}
            """)
    }

    @Test func chatChunkShapes() throws {
        let first = ChatCompletionChunk(
            id: "c", created: 3, model: "m",
            choices: [ChatChunkChoice(index: 0, delta: ChatDelta(role: "assistant", content: ""))], writesUsage: true)
        try expectJSON(first, """
            {"id": "c", "object": "chat.completion.chunk", "created": 3, "model": "m",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}],
             "usage": null}
            """)
        let last = ChatCompletionChunk(
            id: "c", created: 3, model: "m",
            choices: [ChatChunkChoice(index: 0, delta: ChatDelta(), finishReason: "length", tokenIDs: [])])
        try expectJSON(last, """
            {"id": "c", "object": "chat.completion.chunk", "created": 3, "model": "m",
             "choices": [{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "length", "token_ids": []}]}
            """)
        let usage = ChatCompletionChunk(id: "c", created: 3, model: "m", choices: [],
                                        usage: Usage(promptTokens: 1, completionTokens: 2, cachedTokens: 0), writesUsage: true)
        try expectJSON(usage, """
            {"id": "c", "object": "chat.completion.chunk", "created": 3, "model": "m", "choices": [],
             "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3, "prompt_tokens_details": {"cached_tokens": 0}}}
            """)
    }

    @Test func chunkDecodingRemembersWhetherUsageWasWritten() throws {
        let withNull = try JSONDecoder().decode(ChatCompletionChunk.self, from: Data("""
            {"id": "c", "object": "chat.completion.chunk", "created": 3, "model": "m", "choices": [], "usage": null}
            """.utf8))
        #expect(withNull.writesUsage && withNull.usage == nil)
        let without = try JSONDecoder().decode(ChatCompletionChunk.self, from: Data("""
            {"id": "c", "object": "chat.completion.chunk", "created": 3, "model": "m", "choices": []}
            """.utf8))
        #expect(!without.writesUsage)
    }

    @Test func errorBody() throws {
        let error = APIError.invalid("temperature", "temperature must be between 0 and 2")
        #expect(error.status == 400)
        try expectJSON(error.body, """
            {"error": {"message": "temperature must be between 0 and 2", "type": "invalid_request_error",
                       "param": "temperature", "code": "invalid_request"}}
            """)
        try expectJSON(APIError(.modelNotFound, "The model `x` does not exist.", param: "model").body, """
            {"error": {"message": "The model `x` does not exist.", "type": "invalid_request_error", "param": "model",
                       "code": "model_not_found"}}
            """)
        try expectJSON(APIError(.queueFull, "busy").body, """
            {"error": {"message": "busy", "type": "rate_limit_error", "param": null, "code": "queue_full"}}
            """)
    }

    @Test(arguments: [
        (APIError.Code.invalidRequest, 400), (.contextLengthExceeded, 400), (.unsupported, 400), (.invalidAPIKey, 401),
        (.notFound, 404), (.modelNotFound, 404), (.methodNotAllowed, 405), (.requestTooLarge, 413), (.queueFull, 429),
        (.unavailable, 503), (.internalError, 500),
    ])
    func statuses(code: APIError.Code, status: Int) {
        #expect(APIError(code, "x").status == status)
    }

    @Test func errorBodiesOfOtherServersDecode() throws {
        // llama.cpp and vLLM send numeric codes.
        let body = try JSONDecoder().decode(ErrorResponse.self, from: Data("""
            {"error": {"code": 400, "message": "bad", "type": "invalid_request_error"}}
            """.utf8))
        #expect(body.error.code == "400" && body.error.message == "bad" && body.error.param == nil)
    }

    @Test func modelListAndTokenize() throws {
        try expectJSON(ModelList(data: [ModelCard(id: "smol", created: 5, maxModelLen: 2048)]), """
            {"object": "list", "data": [{"id": "smol", "object": "model", "created": 5, "owned_by": "shoal",
                                         "max_model_len": 2048}]}
            """)
        try expectJSON(TokenizeResponse(count: 2, maxModelLen: 8, tokens: [1, 2]), """
            {"count": 2, "max_model_len": 8, "tokens": [1, 2]}
            """)
        try expectJSON(DetokenizeResponse(prompt: "hi"), #"{"prompt": "hi"}"#)
        try expectJSON(HealthResponse(status: "ok"), #"{"status": "ok"}"#)
        try expectJSON(VersionResponse(version: "1.2.3"), #"{"version": "1.2.3"}"#)
    }

    @Test func requestsEncodeAsClientsSendThem() throws {
        let request = ChatCompletionRequest(
            model: "m", messages: [ChatMessage(role: "user", "hi")], maxTokens: 5, stream: true,
            streamOptions: StreamOptions(includeUsage: true))
        try expectJSON(request, """
            {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "stream": true,
             "stream_options": {"include_usage": true}}
            """)
        let completion = CompletionRequest(model: "m", prompt: .tokens([1, 2]), maxTokens: 3, ignoreEOS: true)
        try expectJSON(completion, #"{"model": "m", "prompt": [1, 2], "max_tokens": 3, "ignore_eos": true}"#)
    }
}
