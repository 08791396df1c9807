import ShoalCommands
import ShoalAPI
import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals
import ShoalEngine
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalRouter
import ShoalServer
import ShoalStore
import ShoalTokenizers

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve models over an OpenAI-compatible HTTP API with continuous batching.")

    @Option(name: .long, help: "A catalogue name or .gguf path to serve (repeatable; default: the default model).")
    var model: [String] = []

    @Option(name: .customLong("served-model-name"), help: "Name clients use for the model (repeatable, in --model order).")
    var servedModelName: [String] = []

    @Option(help: "Address to bind.")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port: Int = 8080

    @Option(name: .customLong("port-file"), help: "Once listening, write the bound port to this file (useful with --port 0).")
    var portFile: String?

    @Option(help: "Compute threads per model (default: the cores divided among the models).")
    var threads: Int?

    @Option(name: .long, help: "Matrix products: fast (int8 activations for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K weights, llama.cpp's CPU path and accuracy) or exact (float32 activations, matches the reference).",
            transform: parsePrecision)
    var precision: MatmulPrecision = .fast

    @Option(name: .customLong("api-key"), help: "Require this bearer token (repeatable; also $SHOAL_API_KEY).")
    var apiKey: [String] = []

    @Option(name: .customLong("kv-cache-memory"), help: "KV cache size, e.g. 1GiB or 512MB, split evenly between the models.")
    var kvCacheMemory: String = "1GiB"

    @Option(name: .customLong("max-batched-tokens"), help: "Tokens one engine step may compute.")
    var maxBatchedTokens: Int = 512

    @Option(name: .customLong("max-num-seqs"), help: "Sequences running at once per model.")
    var maxNumSeqs: Int = 64

    @Option(name: .customLong("max-waiting"), help: "Requests that may wait beyond the free --max-num-seqs slots; beyond it requests get 429.")
    var maxWaiting: Int = 1024

    @Option(name: .customLong("long-prefill-threshold"), help: "Largest prefill chunk of one sequence per step (0 = the whole budget).")
    var longPrefillThreshold: Int = 256

    @Option(name: .customLong("max-model-len"), help: "Cap on prompt + output tokens (default: the model's context).")
    var maxModelLen: Int?

    @Flag(name: .customLong("no-prefix-caching"), help: "Do not reuse KV blocks of earlier requests.")
    var noPrefixCaching = false

    @Option(name: .customLong("shutdown-timeout"), help: "Seconds to let running requests finish on SIGTERM/SIGINT.")
    var shutdownTimeout: Double = 30

    @Option(name: .customLong("max-body-bytes"), help: "Largest request body accepted (413 beyond).")
    var maxBodyBytes: Int = 8 << 20

    @Option(name: .customLong("header-timeout"),
            help: "Seconds a client connection may take to send a request head (from opening, or its previous response's end); then it is closed.")
    var headerTimeout: Double = 60

    @Option(name: .customLong("body-timeout"), help: "Seconds a client may take to send a request body after its head.")
    var bodyTimeout: Double = 60

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Option(help: "Engine processes to run behind a local router (threads and KV cache divided between them).")
    var replicas: Int = 1

    @OptionGroup var parallel: ParallelOptions
    @OptionGroup var kvCache: KVCacheOption

    @Option(name: .long, help: "With --replicas: a model alias and its routing rules, NAME=RULE;RULE... (see `shoal route --help`).")
    var alias: [String] = []

    @Option(help: "With --replicas: the router's policy (prefix-affinity, least-loaded, round-robin or consistent-hash).")
    var policy: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        if let portFile { try PortFile.validate(portFile) }
        guard try ByteSize.parse(kvCacheMemory) > 0 else { throw ValidationError("--kv-cache-memory must be positive") }
        guard servedModelName.count <= max(1, model.count) else {
            throw ValidationError("give at most one --served-model-name per --model")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level '\(logLevel)' is not a level") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard shutdownTimeout >= 0 else { throw ValidationError("--shutdown-timeout must not be negative") }
        guard headerTimeout > 0, bodyTimeout > 0, headerTimeout <= 86_400, bodyTimeout <= 86_400 else {
            throw ValidationError("--header-timeout and --body-timeout must be between 0 and 86400 seconds")
        }
        guard replicas >= 1 else { throw ValidationError("--replicas must be at least 1") }
        if replicas == 1, !alias.isEmpty || policy != nil {
            throw ValidationError("--alias and --policy are router options: use them with --replicas 2 or more")
        }
        if let policy { _ = try CommandSupport.policy(policy) }
        if parallel.processes > 1 {
            guard replicas == 1 else { throw ValidationError("--replicas with model parallelism is not supported yet: run `shoal route` over model-parallel groups") }
            guard model.count <= 1 else { throw ValidationError("--pipeline-parallel and --tensor-parallel serve one --model") }
        }
        var aliasCheck = RouterConfiguration()
        try CommandSupport.apply(aliases: alias, to: &aliasCheck)
    }

    func run() async throws {
        let (logger, registry) = CommandSupport.bootstrap(logLevel: Logger.Level(rawValue: logLevel) ?? .info, label: "shoal")
        let keys = CommandSupport.apiKeys(apiKey)
        if replicas > 1 {
            // Resolve (and pull) every model and check it opens before starting children, so that a bad
            // reference is one clear error here rather than replicas failing over and over.
            for reference in model.isEmpty ? [ModelCatalog.defaultModelName] : model {
                _ = try LoadedModel.open(reference, threads: 1) { logger.info("\($0)") }
            }
            try await makeLocalCluster(apiKeys: keys).run(registry: registry, logger: logger, portFile: portFile)
            return
        }
        var serverConfiguration = ServerConfiguration(
            host: host, port: port, apiKeys: keys, maxBodyBytes: maxBodyBytes,
            shutdownTimeout: .milliseconds(Int64(shutdownTimeout * 1000)), version: ShoalVersion.string)
        serverConfiguration.headerTimeout = .milliseconds(Int64(headerTimeout * 1000))
        serverConfiguration.bodyTimeout = .milliseconds(Int64(bodyTimeout * 1000))
        try serverConfiguration.validate()

        let models = model.isEmpty ? [ModelCatalog.defaultModelName] : model
        var engineConfiguration = EngineConfiguration()
        engineConfiguration.kvCacheBytes = try ByteSize.parse(kvCacheMemory) / models.count
        engineConfiguration.maxBatchedTokens = maxBatchedTokens
        engineConfiguration.maxSequences = maxNumSeqs
        engineConfiguration.maxWaiting = maxWaiting
        engineConfiguration.longPrefillThreshold = longPrefillThreshold
        engineConfiguration.prefixCaching = !noPrefixCaching
        engineConfiguration.maxModelLength = maxModelLen
        try engineConfiguration.validate()

        let state = ServerState(isLoading: true)
        let engines = EngineService(
            // Each model's pool spins while it works: several models would fight over all cores, so by default
            // they share them out.
            models: models, names: servedModelName,
            threads: threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, models.count)),
            precision: precision, cacheType: kvCache.type(for: precision), parallel: parallel, configuration: engineConfiguration,
            state: state, logger: logger)
        let server = ShoalHTTPServer(state: state, configuration: serverConfiguration, registry: registry, logger: logger,
                                     onListening: PortFile.writer(portFile, logger: logger))
        let group = ServiceGroup(configuration: .init(
            services: [engines, server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

extension Serve {
    /// The children's arguments (threads and KV cache divided by `replicas`) and the router in front of them.
    ///
    /// With `apiKeys` the router checks them, and the children (on loopback) require a random key of their own
    /// that only the router knows, so nothing else on the machine can bypass the router's keys.
    func makeLocalCluster(apiKeys: [String] = []) throws -> LocalCluster {
        let totalThreads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        var shared = [
            "--threads", "\(max(1, totalThreads / replicas))",
            "--kv-cache-memory", "\(max(1, try ByteSize.parse(kvCacheMemory) / replicas))",
            "--max-batched-tokens", "\(maxBatchedTokens)", "--max-num-seqs", "\(maxNumSeqs)",
            "--max-waiting", "\(maxWaiting)", "--long-prefill-threshold", "\(longPrefillThreshold)",
            "--shutdown-timeout", "\(shutdownTimeout)", "--max-body-bytes", "\(maxBodyBytes)", "--log-level", logLevel,
            "--precision", precision.rawValue, "--kv-cache-dtype", kvCache.kvCacheDtype,
            "--header-timeout", "\(headerTimeout)", "--body-timeout", "\(bodyTimeout)",
        ]
        if let maxModelLen { shared += ["--max-model-len", "\(maxModelLen)"] }
        if noPrefixCaching { shared.append("--no-prefix-caching") }
        for reference in model { shared += ["--model", reference] }
        for name in servedModelName { shared += ["--served-model-name", name] }
        let replicaKey: String? = apiKeys.isEmpty ? nil : (0..<4).map { _ in
            String(UInt64.random(in: 0...UInt64.max), radix: 16)
        }.joined()
        // Each child binds a port of the kernel's choosing and reports it in its port file (see LocalCluster).
        let children = (0..<replicas).map { index in
            LocalCluster.Child(
                index: index, arguments: ["serve", "--host", "127.0.0.1", "--port", "0"] + shared,
                environment: replicaKey.map { ["SHOAL_API_KEY": $0] } ?? [:])
        }
        var router = RouterConfiguration()
        router.host = host
        router.port = port
        router.maxBodyBytes = maxBodyBytes
        router.headerTimeout = .milliseconds(Int64(headerTimeout * 1000))
        router.bodyTimeout = .milliseconds(Int64(bodyTimeout * 1000))
        router.health.interval = .seconds(2)
        router.apiKeys = apiKeys
        router.replicaAPIKey = replicaKey
        if let policy { router.policy = try CommandSupport.policy(policy) }
        try CommandSupport.apply(aliases: alias, to: &router)
        if let key = ProcessInfo.processInfo.environment["SHOAL_ROUTER_ADMIN_KEY"], !key.isEmpty { router.adminKey = key }
        try router.validate()
        return LocalCluster(
            executable: LocalCluster.currentExecutable(), children: children, router: router,
            shutdownTimeout: .milliseconds(Int64(shutdownTimeout * 1000)))
    }
}

/// Loads the models, registers their engines with the server state, and stops them at shutdown
/// (after the HTTP server, which comes later in the service group, has drained).
struct EngineService: Service {
    let models: [String]
    let names: [String]
    let threads: Int
    let precision: MatmulPrecision
    let cacheType: KVCacheType
    let parallel: ParallelOptions
    let configuration: EngineConfiguration
    let state: ServerState
    let logger: Logger

    func run() async throws {
        var started: [EngineCore] = []
        var groups: [ModelGroup] = []
        defer {
            for engine in started { engine.shutdown() }
            for group in groups { group.shutdown() }
        }
        for (index, reference) in models.enumerated() {
            let group = try ModelGroup.open(reference, threads: threads, precision: precision, cacheType: cacheType,
                                            options: parallel) { logger.info("\($0)") }
            groups.append(group)
            let name = index < names.count ? names[index] : Self.defaultName(reference)
            let engine = try EngineCore(
                executor: group.executor, tokenizer: group.tokenizer, modelName: name,
                chatTemplate: group.file.metadata["tokenizer.chat_template"]?.stringValue, configuration: configuration)
            engine.start()
            started.append(engine)
            state.setEngine(engine)
            logger.info("model ready", metadata: [
                "model": "\(name)", "source": "\(reference)", "threads": "\(threads)", "precision": "\(precision)",
                "pipeline_parallel": "\(parallel.pipelineParallel)", "tensor_parallel": "\(parallel.tensorParallel)",
                "kv_cache_tokens": "\(engine.cacheTokenCapacity)", "kv_cache_dtype": "\(cacheType.rawValue)",
                "kv_cache_bytes_per_token": "\(group.executor.cacheBytesPerToken)", "context": "\(engine.contextLength)",
            ])
        }
        state.setLoading(false)
        try? await gracefulShutdown()
    }

    /// A catalogue name as is; a path's file name without `.gguf`.
    static func defaultName(_ reference: String) -> String {
        if ModelCatalog.entry(named: reference) != nil { return reference }
        let file = URL(fileURLWithPath: reference).lastPathComponent
        return file.hasSuffix(".gguf") ? String(file.dropLast(5)) : file
    }
}

/// Byte sizes written as `1GiB`, `512MB`, `2g` or a plain number of bytes.
enum ByteSize {
    static func parse(_ text: String) throws -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        guard let value = Double(digits), value >= 0 else { throw ValidationError("'\(text)' is not a size like 1GiB or 512MB") }
        let scale: Double
        switch unit {
        case "", "b": scale = 1
        case "k", "kb": scale = 1e3
        case "kib": scale = 1024
        case "m", "mb": scale = 1e6
        case "mib": scale = 1_048_576
        case "g", "gb": scale = 1e9
        case "gib": scale = 1_073_741_824
        default: throw ValidationError("'\(text)': unknown size unit '\(unit)'")
        }
        return Int(value * scale)
    }
}
