import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import ShoalAPI
import ShoalBench

/// A load generator like vLLM's `bench serve`: streams completions from any OpenAI-compatible server, at a fixed
/// concurrency or at a request rate (Poisson or gamma arrivals, optionally capped), from random, prefix-repetition
/// or ShareGPT prompts, and reports throughput, goodput and TTFT / TPOT / ITL / E2EL statistics under vLLM's
/// names; `--sweep` runs one level after another and draws the curves.
struct BenchServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Load-test an OpenAI-compatible server (Shoal, llama-server, vLLM) with streaming completions.",
        discussion: """
            Reports what vLLM's `bench serve` reports, under its field names: completed and failed requests, request, \
            output and total token throughput, and the mean, median, standard deviation and percentiles of TTFT, TPOT \
            (time per output token after the first), ITL (every gap between streamed chunks) and E2EL, in ms. \
            Latencies run from when a request was due to be sent. Examples:
              shoal bench serve --request-rate 4 --requests 200 --save-result
              shoal bench serve --dataset-name sharegpt --dataset-path sg.json
              shoal bench serve --request-rate 4 --goodput ttft:500 tpot:50
              shoal bench serve --sweep concurrency=1,2,4,8 --plot-dir plots
            """)

    @Option(help: "Base URL of the server.")
    var url: String = "http://127.0.0.1:8080"

    @Option(help: "Model name to send (default: the first one /v1/models lists).")
    var model: String?

    @Option(name: .customLong("api-key"), help: "Bearer token to send.")
    var apiKey: String?

    @OptionGroup(title: "Load") var load: BenchLoadArguments
    @OptionGroup(title: "Prompts and requests") var dataset: BenchDatasetArguments
    @OptionGroup(title: "Results") var results: BenchResultArguments

    func validate() throws {
        guard URL(string: url)?.host != nil else { throw ValidationError("--url '\(url)' is not a URL") }
        if results.plotDirectory != nil, load.sweep == nil {
            throw ValidationError("--plot-dir draws a sweep: give --sweep concurrency=... or --sweep request-rate=...")
        }
        if dataset.datasetName == .prefixRepetition, dataset.prefixRepetitionPrefixCount > load.requests {
            throw ValidationError("--prefix-repetition-num-prefixes (\(dataset.prefixRepetitionPrefixCount)) must not exceed --requests (\(load.requests))")
        }
    }

    /// One run of a sweep (or the only run): its rate and cap.
    struct Level {
        var requestRate: Double
        var maxConcurrency: Int?
    }

    var levels: [Level] {
        guard let text = load.sweep, let sweep = try? BenchSweep(parsing: text) else {
            return [Level(requestRate: load.requestRate, maxConcurrency: cap(rate: load.requestRate))]
        }
        return sweep.values.map { value in
            switch sweep.parameter {
            case .concurrency: Level(requestRate: load.requestRate, maxConcurrency: Int(value))
            case .requestRate: Level(requestRate: value, maxConcurrency: cap(rate: value))
            }
        }
    }

    /// `--concurrency`, else 8 when every request is sent at once and no cap with a rate.
    private func cap(rate: Double) -> Int? {
        load.concurrency ?? (rate == .infinity ? 8 : nil)
    }

    func run() async throws {
        // One connection per concurrent request: the pool's default of 8 per host made the requests beyond the
        // 8th wait for a connection and fail with getConnectionFromPoolTimeout while the server was busy.
        let connections = levels.map { $0.maxConcurrency ?? load.requests }.max() ?? 8
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.connectionPool = .init(idleTimeout: .seconds(60),
                                                   concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, connections))
        clientConfiguration.timeout.connect = .seconds(60)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        do {
            try await run(client: client)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func run(client: HTTPClient) async throws {
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let server = BenchServeClient(client: client, base: base, apiKey: apiKey)
        let modelName: String
        if let model { modelName = model } else { modelName = try await server.firstModel() }
        let options = BenchServeClient.RequestOptions(model: modelName, temperature: dataset.temperature, ignoreEOS: dataset.ignoreEOS,
                                                      responseFormat: dataset.responseFormat, extraBody: dataset.extraBody)
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let settings = BenchSettings(
            label: results.label, modelID: modelName, baseURL: base, datasetName: dataset.datasetName.vllmName,
            burstiness: load.burstiness, seed: dataset.seed, percentiles: try results.percentiles,
            goodput: results.goodput.isEmpty ? nil : try GoodputObjectives(parsing: results.goodput),
            date: formatter.string(from: Date()))
        let sweep = try load.sweep.map { try BenchSweep(parsing: $0) }
        var counter = TokenCounter(mode: dataset.countTokens, server: server, model: modelName)

        var runs: [BenchResult] = []
        for (index, level) in levels.enumerated() {
            // Each level of a sweep gets fresh prompts, so a prefix cache cannot serve it from the level before.
            let seed = dataset.seed &+ UInt64(index)
            if let sweep {
                let value = sweep.parameter == .concurrency ? "\(level.maxConcurrency ?? 0)" : BenchSettings.text(rate: level.requestRate)
                FileHandle.standardError.write(Data("bench serve: \(sweep.parameter.rawValue)=\(value) (\(index + 1)/\(levels.count))\n".utf8))
            }
            let requests = try await makeRequests(seed: seed, counter: &counter)
            let schedule = ArrivalSchedule(count: requests.count, rate: level.requestRate, burstiness: load.burstiness, seed: seed)
            let generator = LoadGenerator(schedule: schedule, maxConcurrency: level.maxConcurrency)
            let (outcomes, duration) = await generator.run(requests) { request, due in
                await server.stream(request, options: options, due: due)
            }
            var levelSettings = settings
            levelSettings.requestRate = level.requestRate
            levelSettings.maxConcurrency = level.maxConcurrency
            levelSettings.seed = seed
            let result = BenchResult(settings: levelSettings, outcomes: outcomes, duration: duration)
            runs.append(result)
            if !results.json { print(result.table()) }
        }

        if let sweep {
            let document = sweep.document(results: runs)
            let path = try save(document, fileName: results.resultFilename ?? sweep.defaultFileName(settings: settings))
            if results.json {
                print(try JSONValue.object([
                    "sweep_parameter": .string(sweep.parameter.resultField),
                    "sweep_values": .array(sweep.values.map(BenchSettings.json(rate:))),
                    "sweep_file": .string(path),
                    "results": .array(runs.map { .object($0.report()) }),
                ]).text())
            }
            FileHandle.standardError.write(Data("bench serve: saved the sweep to \(path)\n".utf8))
            if let plotDirectory = results.plotDirectory {
                if let problem = BenchPlotter.draw(sweepFile: path, into: plotDirectory) {
                    FileHandle.standardError.write(Data("bench serve: \(problem)\n".utf8))
                } else {
                    FileHandle.standardError.write(Data("bench serve: plots in \(plotDirectory)\n".utf8))
                }
            }
        } else if let result = runs.first {
            if results.json { print(try JSONValue.object(result.report()).text()) }
            if results.saveResult {
                let path = try save(.object(result.savedResult()), fileName: results.resultFilename ?? result.defaultFileName)
                FileHandle.standardError.write(Data("bench serve: saved the result to \(path)\n".utf8))
            }
        }
    }

    /// The requests of one run, from the chosen dataset.
    private func makeRequests(seed: UInt64, counter: inout TokenCounter) async throws -> [BenchRequest] {
        switch dataset.datasetName {
        case .random:
            return RandomDataset(promptTokens: dataset.promptTokens, maxTokens: dataset.maxTokens ?? 64,
                                 sharedPrefixTokens: dataset.sharedPrefixTokens, prefixGroups: dataset.prefixGroups,
                                 fixedPrompt: dataset.fixedPrompt).requests(count: load.requests, seed: seed)
        case .prefixRepetition:
            return PrefixRepetitionDataset(prefixLength: dataset.prefixRepetitionPrefixLength, suffixLength: dataset.prefixRepetitionSuffixLength,
                                           prefixCount: dataset.prefixRepetitionPrefixCount,
                                           outputLength: dataset.prefixRepetitionOutputLength ?? dataset.maxTokens ?? 128)
                .requests(count: load.requests, seed: seed)
        case .sharegpt:
            let path = dataset.datasetPath ?? ""
            let conversations: ShareGPTDataset
            do { conversations = try ShareGPTDataset(path: path) } catch { throw ValidationError("\(error)") }
            do {
                return try await conversations.requests(count: load.requests, seed: seed, maxTokens: dataset.maxTokens) { text in
                    try await counter.count(text)
                }
            } catch let error as BenchDatasetError {
                throw ValidationError("\(path): \(error)")
            }
        }
    }

    /// Writes `value` to `--result-dir`/`fileName` and returns the path.
    private func save(_ value: JSONValue, fileName: String) throws -> String {
        let directory = results.resultDirectory ?? "."
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent(fileName)
        try Data(try value.text(pretty: false).utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}
