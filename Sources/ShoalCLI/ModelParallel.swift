import ShoalCommands
import ArgumentParser
import Foundation
import ShoalCluster
import ShoalEngine
import ShoalGGUF
import ShoalKernels
import ShoalModels
import ShoalStore
import ShoalTokenizers
import Synchronization

/// `--pipeline-parallel`, `--tensor-parallel`, `--workers` and the link options, shared by `serve`, `generate`
/// and `bench`.
struct ParallelOptions: ParsableArguments {
    @Option(name: .customLong("pipeline-parallel"), help: "Split the model's layers into N pipeline stages: this process and N-1 workers.")
    var pipelineParallel: Int = 1

    @Option(name: .customLong("tensor-parallel"), help: "Split every layer across N ranks: this process and N-1 workers.")
    var tensorParallel: Int = 1

    @Option(help: "The workers, as host:port,...: stage 0's ranks 1..<T, then each later stage's ranks 0..<T (default: start them here as child processes).")
    var workers: String?

    @Option(name: .customLong("worker-key"), help: "Link key the workers expect (default: $SHOAL_WORKER_KEY; a fresh one for child workers).")
    var workerKey: String?

    @Flag(name: .customLong("no-shared-memory"), help: "Tensor parallelism: exchange partial sums over the links even between ranks on one host.")
    var noSharedMemory = false

    @Option(name: .customLong("step-timeout"), help: "Seconds a worker may take for one step before its requests fail.")
    var stepTimeout: Double = 30

    func validate() throws {
        guard (1...64).contains(pipelineParallel) else { throw ValidationError("--pipeline-parallel must be 1...64") }
        guard (1...64).contains(tensorParallel) else { throw ValidationError("--tensor-parallel must be 1...64") }
        guard processes <= 64 else { throw ValidationError("--tensor-parallel x --pipeline-parallel must be at most 64 processes") }
        guard stepTimeout > 0 else { throw ValidationError("--step-timeout must be positive") }
        if let workers {
            let list = try Self.endpoints(workers)
            guard list.count == processes - 1 else {
                let flag = [tensorParallel > 1 ? "--tensor-parallel \(tensorParallel)" : nil,
                            pipelineParallel > 1 ? "--pipeline-parallel \(pipelineParallel)" : nil].compactMap { $0 }.joined(separator: " ")
                throw ValidationError("--workers names \(list.count) workers; \(flag) needs \(processes - 1)")
            }
        }
    }

    /// Processes in the group: the leader and its workers.
    var processes: Int { pipelineParallel * tensorParallel }

    static func endpoints(_ text: String) throws -> [(host: String, port: Int)] {
        try text.split(separator: ",").map { try Worker.parse(listen: String($0).trimmingCharacters(in: .whitespaces)) }
    }
}

/// A model ready to run: its file, tokenizer and executor (local, or a pipeline over workers), plus the child
/// worker processes to stop at the end.
struct ModelGroup {
    let file: GGUFFile
    let tokenizer: any Tokenizer
    let executor: any ModelExecutor
    let workers: LocalWorkers?

    var config: ModelConfig { executor.config }

    /// Opens `reference` and builds the executor `options` ask for, on `threads` threads in all.
    static func open(_ reference: String, threads: Int, precision: MatmulPrecision, cacheType: KVCacheType = .f32,
                     options: ParallelOptions, progress: @escaping (String) -> Void) throws -> ModelGroup {
        if options.processes == 1 {
            let loaded = try LoadedModel.open(reference, threads: threads, precision: precision, progress: progress)
            return ModelGroup(file: loaded.file, tokenizer: loaded.tokenizer,
                              executor: try LocalExecutor(model: loaded.model, cacheType: cacheType), workers: nil)
        }
        let path = try ModelStore().resolve(reference, pull: true, progress: progress)
        // Each stage maps the file and touches only its own tensors' pages.
        let file = try GGUFFile(path: path, residency: .mapped)
        let tokenizer = try loadTokenizer(from: file)
        let description = try ModelRegistry.describe(file)
        let layerCount = description.config.layerCount
        let perProcess = max(1, threads / options.processes)
        var stages = [0..<layerCount]
        if options.pipelineParallel > 1 {
            let cost = try StageCost.measure(file, precision: precision, threads: perProcess, tensorCount: options.tensorParallel)
            stages = ModelShard.balancedStages(layerCosts: cost.layers, headCost: cost.head, stages: options.pipelineParallel)
            // Timing touched layer 0, the embedding and the head: hand those pages back (this stage binds its own below).
            file.releasePages(file.bytes)
            progress(String(format: "stage balance: a layer %.2f ms, the head %.2f ms on a step of 8 sequences x 2 tokens", cost.layers[0] * 1000, cost.head * 1000))
        }
        guard stages.count == options.pipelineParallel else {
            throw ValidationError("the model has \(layerCount) layers: too few for \(options.pipelineParallel) stages")
        }
        let ranks = options.tensorParallel
        /// The shard of process `index` (0 is this one): stage `index / ranks`, rank `index % ranks`.
        func shard(_ index: Int) -> ModelShard {
            .stage(index / ranks, of: stages, tensorRank: index % ranks, tensorCount: ranks)
        }
        if ranks > 1 { progress("tensor-parallel ranks: \(ranks)") }
        if stages.count > 1 {
            progress("pipeline stages: " + stages.map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: ", "))
        }
        let sha = try ModelStore().sha256(ofFile: path)
        var key = options.workerKey ?? ProcessInfo.processInfo.environment["SHOAL_WORKER_KEY"] ?? ""
        var localWorkers: LocalWorkers?
        var endpoints: [@Sendable () -> (host: String, port: Int)?] = []
        if let list = options.workers {
            for endpoint in try ParallelOptions.endpoints(list) { endpoints.append({ endpoint }) }
        } else {
            if options.workerKey == nil { key = LocalWorkers.freshKey() }
            let started = try LocalWorkers(count: options.processes - 1, threads: perProcess, key: key)
            endpoints = (0..<started.count).map { index in { started.endpoint(index) } }
            localWorkers = started
        }
        do {
            let local = try ModelRegistry.load(file, pool: ComputePool(threadCount: perProcess), precision: precision,
                                               shard: shard(0))
            let timeout = Duration.milliseconds(Int64(options.stepTimeout * 1000))
            // A worker without a copy of the model receives its share from this file.
            let shards = ShardSource(file: file)
            let links = endpoints.enumerated().map { index, endpoint in
                let request = WorkerProtocol.LoadRequest(modelSHA256: sha, modelBytes: file.fileSize, pathHint: path, precision: precision.rawValue,
                                                         shard: shard(index + 1), cacheType: cacheType.rawValue)
                return WorkerLink(endpoint: endpoint, key: key, request: request, timeout: timeout, shards: shards)
            }
            try localWorkers?.waitUntilListening(timeout: .seconds(60))
            // Stage 0's workers are ranks 1..<T; each later stage has T.
            let byStage = (0..<stages.count).map { stage in
                Array(links[max(0, stage * ranks - 1)..<(stage * ranks + ranks - 1)])
            }
            let executor = try ModelParallelExecutor(local: local, stages: byStage, sharedMemory: !options.noSharedMemory,
                                                     cacheType: cacheType)
            return ModelGroup(file: file, tokenizer: tokenizer, executor: executor, workers: localWorkers)
        } catch {
            localWorkers?.stop()
            throw error
        }
    }

    /// Stops the executor and any child workers.
    func shutdown() {
        executor.shutdown()
        workers?.stop()
    }
}

/// `shoal worker` child processes on loopback, restarted when they exit until `stop()`.
final class LocalWorkers: @unchecked Sendable {
    let count: Int
    private let folder: String
    private let state = Mutex<(processes: [ChildProcess?], stopped: Bool)>(([], false))
    private let arguments: [[String]]
    private let key: String

    static func freshKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(generator.next() as UInt64, radix: 16) }.joined()
    }

    init(count: Int, threads: Int, key: String) throws {
        self.count = count
        self.key = key
        let folder = NSTemporaryDirectory() + "shoal-workers-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        self.folder = folder
        arguments = (0..<count).map { index in
            ["worker", "--listen", "127.0.0.1:0", "--threads", "\(threads)", "--exit-with-parent",
             "--port-file", "\(folder)/port-\(index)"]
        }
        state.withLock { $0.processes = Array(repeating: nil, count: count) }
        for index in 0..<count { try launch(index) }
    }

    private func portFile(_ index: Int) -> String { arguments[index].last! }

    private func launch(_ index: Int) throws {
        try? FileManager.default.removeItem(atPath: portFile(index))
        let process = ChildProcess(executable: LocalCluster.currentExecutable(), arguments: arguments[index],
                                   environment: ["SHOAL_WORKER_KEY": key], prefix: "[worker \(index + 1)] ")
        _ = try process.start()
        state.withLock { $0.processes[index] = process }
        Task.detached { [self] in
            let status = await process.exitStatus()
            let stopped = state.withLock { $0.stopped }
            if stopped { return }
            printError("worker \(index + 1) exited (status \(status)); restarting it")
            try? launch(index)
        }
    }

    /// Where worker `index` listens now, or nil while it is (re)starting.
    func endpoint(_ index: Int) -> (host: String, port: Int)? {
        PortFile.read(portFile(index)).map { ("127.0.0.1", $0) }
    }

    /// Waits until every worker has written its port file.
    func waitUntilListening(timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        while (0..<count).contains(where: { endpoint($0) == nil }) {
            guard ContinuousClock.now < deadline else { throw ValidationError("the local workers did not start listening") }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    func stop() {
        let processes = state.withLock { state -> [ChildProcess?] in
            state.stopped = true
            return state.processes
        }
        for process in processes { process?.terminate() }
        for index in 0..<count { try? FileManager.default.removeItem(atPath: portFile(index)) }
        try? FileManager.default.removeItem(atPath: folder)
    }
}

/// What pipeline stages are balanced by: the time one decoder layer and the output head take here, on the real
/// kernels, for a serving-like step of 8 sequences with 2 tokens each and every sequence sampled. The head's weight
/// against a layer's depends on the step: it sees one row per sequence while the layers see every token, so on
/// SmolLM2 it costs ~17 layers in a pure decode step and ~5 in a 4-token-per-sequence step; measured under c=8
/// load (100-token prompts, 64 output tokens; `shoal:model_parallel_compute_seconds_total`) it cost ~9, which
/// this step reproduces. Layer 0 is timed; the others are scaled by their weight bytes (quantization mixes differ
/// between layers); the head counts as a whole number of layers. Best of 5 runs.
enum StageCost {
    static func measure(_ file: GGUFFile, precision: MatmulPrecision, threads: Int, tensorCount: Int) throws -> (layers: [Double], head: Double) {
        let description = try ModelRegistry.describe(file)
        let layerCount = description.config.layerCount
        let bytes = (0..<layerCount).map { layer in
            Double(file.tensors.filter { $0.name.hasPrefix("blk.\(layer).") }.reduce(0) { $0 + $1.byteCount })
        }
        // One rank's share when the stages are split tensor-parallel too.
        let shard = ModelShard(layers: 0..<1, holdsEmbedding: true, holdsHead: true, tensorRank: 0, tensorCount: tensorCount)
        let model = try ModelRegistry.load(file, pool: ComputePool(threadCount: threads), precision: precision, shard: shard)
        let sequences = 8, perSequence = 2, blockSize = 16
        let cache = try PagedKVCache(layers: 0..<1, kvWidth: model.cacheKVWidth, blockCount: sequences, blockSize: blockSize)
        let tokens = (0..<(sequences * perSequence)).map { Int32(($0 * 7919) % max(1, model.config.vocabularySize)) }
        let batch = ForwardBatch(
            tokens: tokens,
            positions: (0..<tokens.count).map { Int32($0 % perSequence) },
            sequences: (0..<sequences).map { .init(start: $0 * perSequence, count: perSequence, blockTable: [Int32($0)]) },
            logitRows: (0..<sequences).map { $0 * perSequence + perSequence - 1 })
        var hidden = [Float](repeating: 0, count: tokens.count * model.config.hiddenSize)
        var logits = [Float](repeating: 0, count: sequences * model.logitsWidth)
        var layer = Double.infinity, head = Double.infinity
        let clock = ContinuousClock()
        try hidden.withUnsafeMutableBufferPointer { x in
            for _ in 0..<5 {
                model.embed(batch, into: x.baseAddress!)
                var start = clock.now
                try model.forward(batch, layers: 0..<1, hidden: x.baseAddress!, cache: cache, reducer: nil)
                layer = min(layer, (clock.now - start).seconds)
                start = clock.now
                logits.withUnsafeMutableBufferPointer { model.head(batch, hidden: x.baseAddress!, logits: $0.baseAddress!) }
                head = min(head, (clock.now - start).seconds)
            }
        }
        // The head in whole layers' worth, so that timing noise rarely moves a cut.
        let headInLayers = (head / max(layer, 1e-9)).rounded()
        return (bytes.map { layer * $0 / max(bytes[0], 1) }, headInLayers * layer)
    }
}
