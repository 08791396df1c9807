import Foundation
import ShoalAPI
import ShoalEngine
import ShoalServer
import Testing

private func decode<T: Decodable>(_ type: T.Type, _ json: String) throws(APIError) -> T {
    try RequestDecoding.decode(type, from: Data(json.utf8))
}

/// The error a closure throws, if it is an `APIError`.
private func apiError(_ body: () throws -> Void) -> APIError? {
    do {
        try body()
        return nil
    } catch {
        #expect(error is APIError, "\(error)")
        return error as? APIError
    }
}

@Suite struct RequestDecodingTests {
    @Test(arguments: [
        (#""one""#, CompletionPrompt.text("one")),
        (#"["a", "b"]"#, .texts(["a", "b"])),
        ("[1, 2, 3]", .tokens([1, 2, 3])),
        ("[[1], [2, 3]]", .tokenBatches([[1], [2, 3]])),
    ])
    func promptForms(json: String, expected: CompletionPrompt) throws {
        let request = try decode(CompletionRequest.self, #"{"prompt": \#(json)}"#)
        #expect(request.prompt == expected)
        let count = expected.items.count
        #expect(count == (json.hasPrefix("[[") || json.hasPrefix(#"["a""#) ? 2 : 1))
    }

    @Test(arguments: [
        (#"{"prompt": 5}"#, "prompt"),
        (#"{"prompt": [1, "a"]}"#, "prompt"),
        (#"{"prompt": "x", "max_tokens": "ten"}"#, "max_tokens"),
        (#"{"prompt": "x", "stop": 3}"#, "stop"),
        (#"{"prompt": "x", "logit_bias": {"1": "a"}}"#, "logit_bias.1"),
        (#"{"prompt": "x", "stream_options": {"include_usage": 1}}"#, "stream_options.include_usage"),
        (#"{"max_tokens": 3}"#, "prompt"),
    ])
    func completionTypeErrorsNameTheParameter(json: String, param: String) {
        let error = apiError { _ = try decode(CompletionRequest.self, json) }
        #expect(error?.status == 400)
        #expect(error?.param == param, "\(String(describing: error))")
        #expect(error?.message.contains(param) == true)
    }

    @Test(arguments: [
        (#"{"model": "m"}"#, "messages"),
        (#"{"messages": [{"content": "hi"}]}"#, "messages[0].role"),
        (#"{"messages": [{"role": "user", "content": 5}]}"#, "messages[0].content"),
        (#"{"messages": [{"role": "user", "content": "x"}], "logprobs": 3}"#, "logprobs"),
    ])
    func chatTypeErrorsNameTheParameter(json: String, param: String) {
        let error = apiError { _ = try decode(ChatCompletionRequest.self, json) }
        #expect(error?.param == param, "\(String(describing: error))")
    }

    @Test(arguments: ["{", "", "not json", #"{"prompt": 'x'}"#, "[1, 2]", "null"])
    func malformedBodies(json: String) {
        let error = apiError { _ = try decode(CompletionRequest.self, json) }
        #expect(error?.status == 400)
        #expect(error?.code == .invalidRequest)
        #expect(error?.param == nil)
    }

    @Test func chatContentForms() throws {
        let request = try decode(ChatCompletionRequest.self, """
            {"messages": [{"role": "system", "content": "be brief"},
                          {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                          {"role": "assistant", "content": null, "tool_calls": [{"id": "1"}]},
                          {"role": "tool", "content": "42", "tool_call_id": "1"}]}
            """)
        #expect(request.messages.count == 4)
        #expect(request.messages[1].content == .parts([ChatContentPart(text: "a"), ChatContentPart(text: "b")]))
        #expect(request.messages[2].content == nil)
        #expect(request.messages[2].toolCalls == .array([.object(["id": .string("1")])]))
        #expect(request.messages[3].toolCallID == "1")
    }
}

@Suite struct StrictJSONTests {
    @Test(arguments: [
        (#"{"prompt": "a", "max_tokens": 1, "max_tokens": 3}"#, "max_tokens", "more than once"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "a", "content": "b"}]}"#, "messages[0].content", "more than once"),
        (#"{"prompt": "a", "max_tokens": 99999999999999999999}"#, "max_tokens", "64 bits"),
        (#"{"prompt": [1, 2, -99999999999999999999]}"#, "prompt[2]", "64 bits"),
    ])
    func ambiguousOrOversizedValuesAreNamed(body: String, param: String, words: String) {
        let error = apiError { _ = try RequestDecoding.decode(CompletionRequest.self, from: Data(body.utf8)) }
        #expect(error?.status == 400)
        #expect(error?.param == param, "\(body): \(error?.message ?? "")")
        #expect(error?.message.contains(words) == true, "\(error?.message ?? "")")
    }

    @Test func invalidUTF8IsReportedAsSuch() {
        let body = Data(#"{"prompt": "a"#.utf8) + Data([0xFF, 0xFE]) + Data(#""}"#.utf8)
        let error = apiError { _ = try RequestDecoding.decode(CompletionRequest.self, from: body) }
        #expect(error?.status == 400)
        #expect(error?.message.contains("not valid UTF-8 (at byte 13)") == true, "\(error?.message ?? "")")
    }

    @Test func ordinaryBodiesStillDecode() throws {
        let request = try RequestDecoding.decode(CompletionRequest.self, from: Data(#"{"prompt": "é", "max_tokens": 9223372036854775807, "seed": -3, "temperature": 1e-3}"#.utf8))
        #expect(request.maxTokens == Int.max)
    }
}

@Suite struct SamplingValidationTests {
    @Test func completionFieldsMapToSamplingParams() throws {
        let request = try decode(CompletionRequest.self, """
            {"prompt": "x", "max_tokens": 7, "temperature": 0.5, "top_p": 0.9, "top_k": 40, "min_p": 0.05,
             "stop": "END", "stop_token_ids": [3], "seed": -1, "presence_penalty": 0.5, "frequency_penalty": -0.5,
             "repetition_penalty": 1.1, "logit_bias": {"10": -100, " 11 ": 5}, "logprobs": 3, "ignore_eos": true}
            """)
        let params = try request.samplingParams(vocabularySize: 100)
        #expect(params.maxTokens == 7)
        #expect(params.temperature == 0.5)
        #expect(params.topP == 0.9)
        #expect(params.topK == 40)
        #expect(params.minP == 0.05)
        #expect(params.stop == ["END"])
        #expect(params.stopTokenIDs == [3])
        #expect(params.seed == UInt64.max)
        #expect(params.presencePenalty == 0.5)
        #expect(params.frequencyPenalty == -0.5)
        #expect(params.repetitionPenalty == Float(1.1))
        #expect(params.logitBias == [10: -100, 11: 5])
        #expect(params.logprobs == 3)
        #expect(params.ignoreEOS)
    }

    @Test func completionDefaults() throws {
        let params = try decode(CompletionRequest.self, #"{"prompt": "x"}"#).samplingParams(vocabularySize: 10)
        #expect(params.maxTokens == 16)
        #expect(params.temperature == 1)
        #expect(params.logprobs == nil)
        #expect(params.seed == nil)
        #expect(!params.ignoreEOS)
    }

    @Test(arguments: [
        (#""temperature": 2.5"#, "temperature"),
        (#""temperature": -1"#, "temperature"),
        (#""top_p": 0"#, "top_p"),
        (#""top_k": -2"#, "top_k"),
        (#""min_p": 1.5"#, "min_p"),
        (#""n": 0"#, "n"),
        (#""n": 1000"#, "n"),
        (#""max_tokens": 0"#, "max_tokens"),
        (#""logprobs": 21"#, "logprobs"),
        (#""logprobs": -1"#, "logprobs"),
        (#""presence_penalty": 3"#, "presence_penalty"),
        (#""frequency_penalty": -3"#, "frequency_penalty"),
        (#""repetition_penalty": 0"#, "repetition_penalty"),
        (#""logit_bias": {"abc": 1}"#, "logit_bias"),
        (#""logit_bias": {"500": 1}"#, "logit_bias"),
        (#""logit_bias": {"5": 101}"#, "logit_bias"),
        (#""stop": ["a", ""]"#, "stop"),
        (#""stop_token_ids": [100]"#, "stop_token_ids"),
        (#""stream_options": {"include_usage": true}"#, "stream_options"),
        (#""prompt": []"#, "prompt"),
        (#""prompt": ["# + Array(repeating: #""a""#, count: 20).joined(separator: ",") + #"], "n": 100"#, "n"),
    ])
    func completionRangeErrorsNameTheParameter(field: String, param: String) throws {
        let json = field.hasPrefix(#""prompt""#) ? "{\(field)}" : #"{"prompt": "x", \#(field)}"#
        let request = try decode(CompletionRequest.self, json)
        let error = apiError { _ = try request.samplingParams(vocabularySize: 100) }
        #expect(error?.status == 400)
        #expect(error?.param == param, "\(String(describing: error))")
        #expect(error?.message.contains(param) == true, "\(String(describing: error))")
    }

    @Test func chatMaxTokens() throws {
        let base = #"{"messages": [{"role": "user", "content": "x"}]"#
        let defaulted = try decode(ChatCompletionRequest.self, base + "}")
        #expect(try defaulted.samplingParams(vocabularySize: 10, defaultMaxTokens: 99).maxTokens == 99)
        let both = try decode(ChatCompletionRequest.self, base + #", "max_tokens": 5, "max_completion_tokens": 6}"#)
        #expect(try both.samplingParams(vocabularySize: 10, defaultMaxTokens: 99).maxTokens == 6)
        let zero = try decode(ChatCompletionRequest.self, base + #", "max_completion_tokens": 0}"#)
        #expect(apiError { _ = try zero.samplingParams(vocabularySize: 10, defaultMaxTokens: 9) }?.param == "max_completion_tokens")
    }

    @Test func chatLogprobs() throws {
        let base = #"{"messages": [{"role": "user", "content": "x"}]"#
        let on = try decode(ChatCompletionRequest.self, base + #", "logprobs": true, "top_logprobs": 4}"#)
        #expect(try on.samplingParams(vocabularySize: 10, defaultMaxTokens: 9).logprobs == 4)
        let bare = try decode(ChatCompletionRequest.self, base + #", "logprobs": true}"#)
        #expect(try bare.samplingParams(vocabularySize: 10, defaultMaxTokens: 9).logprobs == 0)
        let off = try decode(ChatCompletionRequest.self, base + "}")
        #expect(try off.samplingParams(vocabularySize: 10, defaultMaxTokens: 9).logprobs == nil)
        let orphan = try decode(ChatCompletionRequest.self, base + #", "top_logprobs": 2}"#)
        #expect(apiError { _ = try orphan.samplingParams(vocabularySize: 10, defaultMaxTokens: 9) }?.param == "top_logprobs")
        let tooMany = try decode(ChatCompletionRequest.self, base + #", "logprobs": true, "top_logprobs": 21}"#)
        #expect(apiError { _ = try tooMany.samplingParams(vocabularySize: 10, defaultMaxTokens: 9) }?.param == "top_logprobs")
    }

    @Test(arguments: [
        #""response_format": {"type": "text"}"#, #""tools": []"#, #""tool_choice": "none""#, #""tool_choice": null"#,
    ])
    func servableChatOptionsPass(field: String) throws {
        let request = try decode(ChatCompletionRequest.self, #"{"messages": [{"role": "user", "content": "x"}], \#(field)}"#)
        _ = try request.samplingParams(vocabularySize: 10, defaultMaxTokens: 9)
    }

    @Test func chatRefusesEmptyMessagesAndImages() throws {
        let empty = try decode(ChatCompletionRequest.self, #"{"messages": []}"#)
        #expect(apiError { try empty.checkServable() }?.param == "messages")
        let image = try decode(ChatCompletionRequest.self, """
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "x"}}]}]}
            """)
        let error = apiError { try image.checkServable() }
        #expect(error?.param == "messages[0].content[1]")
        #expect(error?.message.contains("image_url") == true)
    }

    @Test func promptProblemsUseVLLMWording() throws {
        let limits = PromptLimits(vocabularySize: 1000, contextLength: 256)
        func refusal(_ prompt: Int, _ maxTokens: Int, input: String) -> APIError? {
            do {
                try limits.check([Int32](repeating: 5, count: prompt), maxTokens: maxTokens)
                return nil
            } catch {
                return APIError(error, input: input, param: input)
            }
        }
        let over = refusal(100, 200, input: "messages")
        #expect(over?.message == "This model's maximum context length is 256 tokens. However, you requested 300 tokens "
            + "(100 in the messages, 200 in the completion). Please reduce the length of the messages or completion.")
        #expect(over?.code == .contextLengthExceeded)
        #expect(over?.param == "max_tokens")
        let prompt = refusal(300, 1, input: "prompt")
        #expect(prompt?.message.contains("maximum context length is 256 tokens") == true)
        #expect(prompt?.param == "prompt")
        #expect(refusal(100, 156, input: "prompt") == nil)
        #expect(refusal(0, 1, input: "prompt")?.message == "prompt must not be empty")
        #expect(refusal(255, .max, input: "prompt")?.code == .contextLengthExceeded, "no overflow")
        do {
            try limits.check([1, 1000], maxTokens: 1)
            Issue.record("an id outside the vocabulary passed")
        } catch {
            #expect(error == .tokenOutsideVocabulary(1000, vocabularySize: 1000))
            #expect(APIError(error, input: "prompt", param: "prompt[1]").param == "prompt[1]")
        }
    }
}
