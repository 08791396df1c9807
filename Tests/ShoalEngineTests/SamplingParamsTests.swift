import ShoalEngine
import Testing

struct SamplingParamsTests {
    @Test func defaultsAreValid() throws {
        try SamplingParams().validate()
        try SamplingParams(temperature: 0, topK: -1, topP: 1, minP: 1, repetitionPenalty: 2, presencePenalty: -2,
                           frequencyPenalty: 2, logitBias: [0: -100, 5: 100], maxTokens: 1, stop: ["\n"], logprobs: 20)
            .validate(vocabularySize: 6)
    }

    static let invalid: [(SamplingParams, String)] = [
        (SamplingParams(temperature: -0.1), "temperature"),
        (SamplingParams(temperature: 2.01), "temperature"),
        (SamplingParams(temperature: .nan), "temperature"),
        (SamplingParams(topK: -2), "top_k"),
        (SamplingParams(topP: 0), "top_p"),
        (SamplingParams(topP: 1.5), "top_p"),
        (SamplingParams(minP: -0.1), "min_p"),
        (SamplingParams(minP: 1.1), "min_p"),
        (SamplingParams(repetitionPenalty: 0), "repetition_penalty"),
        (SamplingParams(repetitionPenalty: 2.5), "repetition_penalty"),
        (SamplingParams(presencePenalty: 2.5), "presence_penalty"),
        (SamplingParams(frequencyPenalty: -3), "frequency_penalty"),
        (SamplingParams(logitBias: [3: 101]), "logit_bias"),
        (SamplingParams(logitBias: [-1: 1]), "logit_bias"),
        (SamplingParams(maxTokens: 0), "max_tokens"),
        (SamplingParams(logprobs: 21), "logprobs"),
        (SamplingParams(logprobs: -1), "logprobs"),
        (SamplingParams(stop: ["ok", ""]), "stop"),
        (SamplingParams(stopTokenIDs: [-5]), "stop_token_ids"),
    ]

    @Test(arguments: Self.invalid)
    func validationNamesTheParameter(_ params: SamplingParams, _ parameter: String) {
        let error = #expect(throws: SamplingError.self) { try params.validate() }
        #expect(error?.parameter == parameter)
        #expect(error?.code == .invalidParameter)
        #expect(error?.message.hasPrefix(parameter + " ") == true)
    }

    @Test func idsAreCheckedAgainstTheVocabularyWhenGiven() throws {
        try SamplingParams(logitBias: [99: 1], stopTokenIDs: [99]).validate()
        let bias = #expect(throws: SamplingError.self) { try SamplingParams(logitBias: [99: 1]).validate(vocabularySize: 50) }
        #expect(bias?.parameter == "logit_bias")
        let stop = #expect(throws: SamplingError.self) { try SamplingParams(stopTokenIDs: [50]).validate(vocabularySize: 50) }
        #expect(stop?.parameter == "stop_token_ids")
    }

    @Test func greedyMeansTemperatureZeroOrTopKOne() {
        #expect(SamplingParams(temperature: 0).isGreedy)
        #expect(SamplingParams(temperature: 1e-6).isGreedy)
        #expect(SamplingParams(temperature: 1, topK: 1).isGreedy)
        #expect(!SamplingParams(temperature: 0.1).isGreedy)
        #expect(!SamplingParams().isGreedy)
    }
}
