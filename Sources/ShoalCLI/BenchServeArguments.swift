import ArgumentParser
import Foundation
import ShoalBench

/// How `bench serve` loads the server: how many requests, how fast, how many at once.
struct BenchLoadArguments: ParsableArguments {
    @Option(name: [.customLong("requests"), .customLong("num-prompts")], help: "Requests in total (vLLM's --num-prompts).")
    var requests: Int = 64

    @Option(name: [.customLong("concurrency"), .customLong("max-concurrency")],
            help: ArgumentHelp("Requests in flight at most (vLLM's --max-concurrency).",
                               discussion: "Default: 8 when every request is sent at once (no --request-rate), no cap with a --request-rate."))
    var concurrency: Int?

    @Option(name: .customLong("request-rate"),
            help: "Requests per second, arriving as a Poisson process (gamma with --burstiness); inf sends them all at once, limited by --concurrency.")
    var requestRate: Double = .infinity

    @Option(help: "Gamma shape of the gaps between arrivals: 1 is Poisson, below 1 burstier, above 1 more even (vLLM's --burstiness).")
    var burstiness: Double = 1.0

    @Option(help: ArgumentHelp("One run per level of concurrency or request rate, saved in one JSON: concurrency=1,2,4,8 or request-rate=1,2,4,inf.",
                               discussion: "Each level draws fresh prompts (seed + level index), so a prefix cache cannot serve one level from the one before."))
    var sweep: String?

    func validate() throws {
        guard requests >= 1 else { throw ValidationError("--requests must be at least 1") }
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        guard requestRate > 0, !requestRate.isNaN else { throw ValidationError("--request-rate must be a positive number or inf") }
        guard burstiness > 0, !burstiness.isNaN else { throw ValidationError("--burstiness must be a positive number") }
        if let sweep {
            let parsed: BenchSweep
            do { parsed = try BenchSweep(parsing: sweep) } catch { throw ValidationError("\(error)") }
            if parsed.parameter == .concurrency, concurrency != nil {
                throw ValidationError("--concurrency and --sweep concurrency=... both set the concurrency; give one")
            }
            if parsed.parameter == .requestRate, requestRate != .infinity {
                throw ValidationError("--request-rate and --sweep request-rate=... both set the rate; give one")
            }
        }
    }
}

/// `--dataset-name`: where prompts come from.
enum BenchDatasetName: String, ExpressibleByArgument, CaseIterable {
    case random
    case prefixRepetition = "prefix-repetition"
    case sharegpt

    init?(argument: String) {
        self.init(rawValue: argument.replacingOccurrences(of: "_", with: "-"))
    }

    /// vLLM's name, as results record it.
    var vllmName: String { rawValue.replacingOccurrences(of: "-", with: "_") }
}

/// `--count-tokens`: how ShareGPT texts are measured.
enum TokenCounting: String, ExpressibleByArgument, CaseIterable {
    /// The server's `/tokenize`, or words when the first call fails.
    case auto
    case server
    case words
}

/// What `bench serve` sends: the dataset and the fields of every request.
struct BenchDatasetArguments: ParsableArguments {
    @Option(name: .customLong("dataset-name"), help: "Prompts: random (words), prefix-repetition (vLLM's prefix_repetition) or sharegpt (--dataset-path).")
    var datasetName: BenchDatasetName = .random

    @Option(name: .customLong("dataset-path"), help: "A ShareGPT JSON or JSONL file (conversations of from: human/gpt turns).")
    var datasetPath: String?

    @Option(name: [.customLong("prompt-tokens"), .customLong("random-input-len")], help: "random: approximate prompt length in tokens (random words).")
    var promptTokens: Int = 100

    @Option(name: .customLong("shared-prefix-tokens"), help: "random: a prefix of about this many tokens shared by every prompt (prefix-cache workloads).")
    var sharedPrefixTokens: Int = 0

    @Option(name: .customLong("prefix-groups"), help: "random: distinct shared prefixes (users with their own system prompt); each request draws one at random and sends it as `user`.")
    var prefixGroups: Int = 1

    @Flag(name: .customLong("fixed-prompt"), help: "random: send the same prompt every time instead of random ones.")
    var fixedPrompt = false

    @Option(name: .customLong("prefix-repetition-prefix-len"), help: "prefix-repetition: tokens (words) of each shared prefix.")
    var prefixRepetitionPrefixLength: Int = 256

    @Option(name: .customLong("prefix-repetition-suffix-len"), help: "prefix-repetition: tokens (words) of each request's own suffix.")
    var prefixRepetitionSuffixLength: Int = 256

    @Option(name: .customLong("prefix-repetition-num-prefixes"), help: "prefix-repetition: distinct prefixes, the requests spread evenly over them.")
    var prefixRepetitionPrefixCount: Int = 10

    @Option(name: .customLong("prefix-repetition-output-len"), help: "prefix-repetition: max_tokens of every request (default --max-tokens, else 128).")
    var prefixRepetitionOutputLength: Int?

    @Option(name: .customLong("count-tokens"),
            help: "sharegpt: measure texts with the server's /tokenize, by words (about 4 tokens for 3 words; the same for every server), or auto (the server, else words).")
    var countTokens: TokenCounting = .auto

    @Option(name: [.customLong("max-tokens"), .customLong("random-output-len")],
            help: "max_tokens of every request (default: 64 for random; sharegpt asks for the length of each conversation's reply).")
    var maxTokens: Int?

    @Flag(name: .customLong("ignore-eos"), help: "Ask the server to generate exactly max_tokens.")
    var ignoreEOS = false

    @Option(name: .customLong("response-format"), help: "Constrain every output: json_object (OpenAI's JSON mode).")
    var responseFormat: String?

    @Option(name: .customLong("extra-body"), help: "A JSON object whose fields are added to every request (e.g. {\"guided_json\": {...}}).")
    var extraBody: String?

    @Option(help: "Sampling temperature.")
    var temperature: Double = 0

    @Option(help: "Seed of the prompts and of the arrival times: the same seed repeats a run.")
    var seed: UInt64 = 1

    func validate() throws {
        guard promptTokens >= 1, sharedPrefixTokens >= 0 else {
            throw ValidationError("--prompt-tokens must be at least 1 and --shared-prefix-tokens at least 0")
        }
        if let maxTokens, maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        guard prefixGroups >= 1 else { throw ValidationError("--prefix-groups must be at least 1") }
        guard prefixRepetitionPrefixLength >= 1, prefixRepetitionSuffixLength >= 0, prefixRepetitionPrefixCount >= 1 else {
            throw ValidationError("--prefix-repetition-prefix-len and --prefix-repetition-num-prefixes must be at least 1, --prefix-repetition-suffix-len at least 0")
        }
        if let prefixRepetitionOutputLength, prefixRepetitionOutputLength < 1 {
            throw ValidationError("--prefix-repetition-output-len must be at least 1")
        }
        switch (datasetName, datasetPath) {
        case (.sharegpt, nil): throw ValidationError("--dataset-name sharegpt needs --dataset-path FILE")
        case (.random, .some), (.prefixRepetition, .some):
            throw ValidationError("--dataset-path is for --dataset-name sharegpt, not \(datasetName.rawValue)")
        default: break
        }
        if let extraBody, (try? JSONSerialization.jsonObject(with: Data(extraBody.utf8))) as? [String: Any] == nil {
            throw ValidationError("--extra-body must be a JSON object")
        }
    }
}

/// What `bench serve` reports and where it saves it.
struct BenchResultArguments: ParsableArguments {
    @Option(name: .customLong("metric-percentiles"), help: "Percentiles of TTFT, TPOT, ITL and E2EL to report as pXX_ fields (vLLM's --metric-percentiles).")
    var metricPercentiles: String = "50,90,99"

    @Option(parsing: .upToNextOption,
            help: ArgumentHelp("Service level objectives in ms, e.g. --goodput ttft:500 tpot:50 e2el:5000: request_goodput counts the requests that meet all of them.",
                               valueName: "metric:ms"))
    var goodput: [String] = []

    @Flag(name: .customLong("save-result"), help: "Save the result as JSON with vLLM's field names and per-request arrays (a --sweep is always saved).")
    var saveResult = false

    @Option(name: .customLong("result-dir"), help: "Folder of saved results and sweeps (default: the current one).")
    var resultDirectory: String?

    @Option(name: .customLong("result-filename"), help: "File name of the saved result or sweep (default like vLLM's: <label>-<rate>qps[-concurrency<N>]-<model>-<date>.json).")
    var resultFilename: String?

    @Option(help: "First part of a saved result's file name, and the name plots give its lines.")
    var label: String = "shoal"

    @Option(name: .customLong("plot-dir"), help: "With --sweep: draw throughput, TTFT, ITL and TPOT against the load as PNG files here (needs python3 with matplotlib).")
    var plotDirectory: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    /// The parsed `--metric-percentiles`.
    var percentiles: [Double] {
        get throws {
            try metricPercentiles.split(separator: ",").map { item in
                guard let value = Double(item.trimmingCharacters(in: .whitespaces)), (0...100).contains(value) else {
                    throw ValidationError("--metric-percentiles '\(metricPercentiles)': expected numbers from 0 to 100, e.g. 50,90,99")
                }
                return value
            }
        }
    }

    func validate() throws {
        guard try !percentiles.isEmpty else { throw ValidationError("--metric-percentiles needs at least one percentile") }
        do { _ = try GoodputObjectives(parsing: goodput) } catch { throw ValidationError("\(error)") }
    }
}
