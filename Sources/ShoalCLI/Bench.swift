import ArgumentParser
import Foundation
import ShoalGGUF
import ShoalModels
import ShoalTokenizers
import ShoalEngine
import ShoalKernels

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks: the engine (default, like llama-bench) or a running server (`bench serve`).",
        subcommands: [BenchEngine.self, BenchServe.self, BenchKernels.self, BenchConstraint.self],
        defaultSubcommand: BenchEngine.self)
}

struct BenchEngine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Measure prefill and decode throughput like llama-bench (pp / tg).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var precisionOption: PrecisionOption
    @OptionGroup var parallel: ParallelOptions
    @OptionGroup var kvCache: KVCacheOption

    @Option(name: .customLong("prompt-tokens"), help: "Tokens in the prefill test (0 skips it).")
    var promptTokens: Int = 512

    @Option(name: .customLong("gen-tokens"), help: "Tokens in the decode test (0 skips it).")
    var genTokens: Int = 128

    @Option(help: "Tokens of context already in the cache when each test starts (llama-bench's -d).")
    var depth: Int = 0

    @Option(help: "Measured runs of each test (after one warm-up run).")
    var repetitions: Int = 5

    @Flag(help: "Print the results as JSON.")
    var json = false

    func validate() throws {
        guard promptTokens >= 0, genTokens >= 0, promptTokens + genTokens > 0 else {
            throw ValidationError("--prompt-tokens and --gen-tokens must be >= 0 and not both 0")
        }
        guard (1...1000).contains(repetitions) else { throw ValidationError("--repetitions must be 1...1000") }
        guard depth >= 0 else { throw ValidationError("--depth must be >= 0") }
    }

    struct Report: Encodable {
        var model: String
        var threads: Int
        var precision: String
        var kv_cache_dtype: String
        var depth: Int
        var prompt_tokens: Int
        var gen_tokens: Int
        var repetitions: Int
        var prefill_tokens_per_second: ThroughputSummary?
        var decode_tokens_per_second: ThroughputSummary?
        var pipeline_parallel: Int
        var tensor_parallel: Int
        /// Seconds per step of each process, over all runs: compute, network wait, straggler wait.
        var profile: [ProfilePart]
    }

    struct ProfilePart: Encodable {
        var name: String
        var compute_ms_per_step: Double
        var network_ms_per_step: Double
        var straggler_ms_per_step: Double
    }

    func run() throws {
        let group = try ModelGroup.open(try modelOptions.path(), threads: modelOptions.threadCount,
                                        precision: precisionOption.precision,
                                        cacheType: kvCache.type(for: precisionOption.precision), options: parallel) { printError($0) }
        defer { group.shutdown() }
        guard depth + max(promptTokens, genTokens) <= group.config.contextLength else {
            throw ValidationError("--depth plus the longest test exceeds the model's context of \(group.config.contextLength) tokens")
        }
        var bench = try ForwardBenchmark(executor: group.executor, maxTokens: depth + max(promptTokens, genTokens))
        try bench.fill(depth: depth)
        var report = Report(model: modelOptions.model, threads: modelOptions.threadCount,
                            precision: precisionOption.precision.rawValue, kv_cache_dtype: group.executor.cacheType.rawValue,
                            depth: depth, prompt_tokens: promptTokens,
                            gen_tokens: genTokens, repetitions: repetitions,
                            pipeline_parallel: parallel.pipelineParallel, tensor_parallel: parallel.tensorParallel, profile: [])
        if promptTokens > 0 {
            _ = try bench.prefill(tokens: promptTokens, depth: depth)
            let rates = try (0..<repetitions).map { _ in Double(promptTokens) / (try bench.prefill(tokens: promptTokens, depth: depth)) }
            report.prefill_tokens_per_second = ThroughputSummary(samples: rates)
        }
        if genTokens > 0 {
            _ = try bench.decode(tokens: min(genTokens, 16), depth: depth)
            let rates = try (0..<repetitions).map { _ in Double(genTokens) / (try bench.decode(tokens: genTokens, depth: depth)) }
            report.decode_tokens_per_second = ThroughputSummary(samples: rates)
        }
        let profile = group.executor.profile()
        let steps = Double(max(1, profile.steps))
        report.profile = profile.parts.map {
            ProfilePart(name: $0.name, compute_ms_per_step: $0.computeSeconds / steps * 1000,
                        network_ms_per_step: $0.networkSeconds / steps * 1000, straggler_ms_per_step: $0.stragglerSeconds / steps * 1000)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("model: \(modelOptions.model)  threads: \(modelOptions.threadCount)  precision: \(precisionOption.precision)")
            if let s = report.prefill_tokens_per_second {
                print(String(format: "pp%-5d %9.1f ± %5.1f tok/s (median; min %.1f, max %.1f)", promptTokens, s.median,
                             s.standardDeviation, s.min, s.max))
            }
            if let s = report.decode_tokens_per_second {
                print(String(format: "tg%-5d %9.1f ± %5.1f tok/s (median; min %.1f, max %.1f)", genTokens, s.median,
                             s.standardDeviation, s.min, s.max))
            }
            for part in report.profile {
                print(String(format: "  %@: compute %.2f ms, network %.2f ms per step", part.name,
                             part.compute_ms_per_step, part.network_ms_per_step))
            }
        }
    }
}

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Micro-benchmark the matrix kernels on SmolLM2-135M shapes (GB/s for one token, GFLOP/s for batches).")

    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?

    @Option(help: "Timed samples per measurement (the median is reported).")
    var samples: Int = 15

    func validate() throws {
        if let threads, !(1...512).contains(threads) { throw ValidationError("--threads must be between 1 and 512") }
        guard (1...1000).contains(samples) else { throw ValidationError("--samples must be 1...1000") }
    }

    func run() throws {
        for line in KernelBenchmark.run(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, samples: samples) {
            print(line)
        }
    }
}
