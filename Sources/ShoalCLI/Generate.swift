import ArgumentParser
import Foundation
import ShoalGGUF
import ShoalModels
import ShoalTokenizers
import ShoalEngine
import ShoalTokenizers

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a prompt, streaming it to stdout (timings on stderr).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var precisionOption: PrecisionOption
    @OptionGroup var parallel: ParallelOptions
    @OptionGroup var kvCache: KVCacheOption

    @Option(help: "Raw prompt text (special tokens written in it are recognised).")
    var prompt: String?

    @Option(name: .customLong("prompt-ids"), help: "Prompt as comma-separated token ids.")
    var promptIDs: String?

    @Option(help: "A user message, wrapped with the model's chat template.")
    var chat: String?

    @Option(name: .customLong("max-tokens"), help: "Most tokens to generate.")
    var maxTokens: Int = 256

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0.8

    @Option(name: .customLong("top-p"), help: "Nucleus sampling threshold (1 = off).")
    var topP: Float = 0.95

    @Option(name: .customLong("top-k"), help: "Keep only the K most likely tokens (0 = off).")
    var topK: Int = 40

    @Option(name: .customLong("min-p"), help: "Drop tokens below this fraction of the top probability.")
    var minP: Float = 0.05

    @Option(name: .customLong("repeat-penalty"), help: "Repetition penalty (1 = off).")
    var repeatPenalty: Float = 1

    @Option(help: "Random seed (same seed, same output).")
    var seed: UInt64?

    @Option(help: "Stop when this text is generated (repeatable).")
    var stop: [String] = []

    @Flag(name: .customLong("ignore-eos"), help: "Keep generating past the end-of-sequence token.")
    var ignoreEOS = false

    @Option(help: "Report the K most likely alternatives of every token (0-20).")
    var logprobs: Int?

    @Flag(help: "Print one JSON object instead of streaming text.")
    var json = false

    func validate() throws {
        let given = [prompt != nil, promptIDs != nil, chat != nil].filter { $0 }.count
        guard given == 1 else { throw ValidationError("give exactly one of --prompt, --prompt-ids or --chat") }
    }

    func run() throws {
        let group = try ModelGroup.open(try modelOptions.path(), threads: modelOptions.threadCount,
                                        precision: precisionOption.precision,
                                        cacheType: kvCache.type(for: precisionOption.precision), options: parallel) { printError($0) }
        defer { group.shutdown() }
        let loaded = (file: group.file, tokenizer: group.tokenizer)
        let ids = try promptTokens(loaded)
        var params = SamplingParams()
        params.temperature = temperature
        params.topP = topP
        params.topK = topK
        params.minP = minP
        params.repetitionPenalty = repeatPenalty
        params.seed = seed
        params.maxTokens = maxTokens
        params.stop = stop
        params.ignoreEOS = ignoreEOS
        params.logprobs = logprobs
        let generator = try TextGenerator(
            executor: group.executor, tokenizer: loaded.tokenizer,
            contextLength: min(group.config.contextLength, ids.count + maxTokens))
        let stdout = FileHandle.standardOutput
        let result = try generator.generate(promptIDs: ids, params: params) { token in
            if !json, !token.text.isEmpty { stdout.write(Data(token.text.utf8)) }
        }
        if json {
            let output = GenerateOutput(result: result, tokenizer: loaded.tokenizer)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            stdout.write(try encoder.encode(output))
            stdout.write(Data("\n".utf8))
        } else {
            stdout.write(Data((result.trailingText + "\n").utf8))
        }
        let promptRate = Double(ids.count) / max(result.promptSeconds, 1e-9)
        let decoded = max(0, result.tokens.count - 1)
        let decodeRate = Double(decoded) / max(result.decodeSeconds, 1e-9)
        printError(String(format: "prompt: %d tokens, %.1f tok/s | generated: %d tokens, %.1f tok/s | finish: %@",
                          ids.count, promptRate, result.tokens.count, decodeRate, result.finishReason.rawValue))
    }

    private func promptTokens(_ loaded: (file: GGUFFile, tokenizer: any Tokenizer)) throws -> [Int32] {
        if let promptIDs {
            let parts = promptIDs.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            return try parts.map { part in
                guard let id = Int32(part) else { throw ValidationError("--prompt-ids: '\(part)' is not a token id") }
                return id
            }
        }
        if let chat {
            let template = try LoadedModel.chatTemplate(of: loaded.file)
            let text = try template.render(
                messages: [["role": "user", "content": .string(chat)]],
                addGenerationPrompt: true,
                bosToken: loaded.tokenizer.bosID.flatMap { loaded.tokenizer.token(of: $0) } ?? "",
                eosToken: loaded.tokenizer.eosID.flatMap { loaded.tokenizer.token(of: $0) } ?? "")
            return loaded.tokenizer.encode(text, addSpecial: false, parseSpecial: true)
        }
        return loaded.tokenizer.encode(prompt ?? "", addSpecial: true, parseSpecial: true)
    }
}

/// The `--json` shape of `shoal generate`.
struct GenerateOutput: Encodable {
    struct Alternative: Encodable {
        var id: Int32
        var logprob: Float
    }
    struct Token: Encodable {
        var id: Int32
        var text: String
        var logprob: Float
        var top_logprobs: [Alternative]
    }
    var prompt_ids: [Int32]
    var tokens: [Token]
    var text: String
    var finish_reason: String

    init(result: GenerationResult, tokenizer: any Tokenizer) {
        prompt_ids = result.promptIDs
        tokens = result.tokens.map { token in
            Token(id: token.id, text: tokenizer.decode([token.id], skipSpecial: false), logprob: token.logprob,
                  top_logprobs: token.topLogprobs.map { Alternative(id: $0.id, logprob: $0.logprob) })
        }
        text = result.text
        finish_reason = result.finishReason.rawValue
    }
}
