import Dispatch
import Foundation
public import Logging
import ShoalKernels
public import ShoalModels
public import ShoalTokenizers
import Synchronization

/// The serving engine: continuous batching over one model on a thread of its own.
///
/// `submit` validates and queues; the engine thread loops schedule → forward → sample → emit, with
/// decodes and chunked prefills of many sequences in one batch. A request's stream ending early (client
/// gone) aborts the sequence and frees its KV blocks at once.
public final class EngineCore: InferenceEngine, @unchecked Sendable {
    public let modelName: String
    public let tokenizer: any Tokenizer
    public let chatTemplate: String?
    public let contextLength: Int
    /// Runs the model (in this process or across workers) and owns its KV cache.
    public let executor: any ModelExecutor
    public let configuration: EngineConfiguration
    /// `configuration.checksInvariants`, or a debug build.
    private let checksInvariants: Bool
    /// Tokens the KV cache holds.
    public let cacheTokenCapacity: Int
    /// Ids both the tokenizer and the model know, and `contextLength`.
    public let promptLimits: PromptLimits
    private let state: Mutex<State>
    private let wakeup = DispatchSemaphore(value: 0)
    /// For requests that bring no logger of their own.
    private let logger: Logger

    /// One live request's output side.
    struct Live {
        var requestID: String
        /// The request's logger, with `choice` (the engine request's id) added to its metadata.
        var logger: Logger
        var output: SequenceOutput
        var continuation: AsyncThrowingStream<EngineEvent, any Error>.Continuation
        var promptTokens: Int
        var emitted = 0
        var cachedTokens = 0
        var maxTokens: Int
    }

    struct State {
        var scheduler: Scheduler
        var live: [SequenceID: Live] = [:]
        var nextID: UInt64 = 1
        var draining = false
        var stopped = false
        /// Whether `start` ran (the engine thread is started once).
        var started = false
        var stats = EngineStats()
        var stepStart: ContinuousClock.Instant?
        /// Requests whose `Live` the loop has taken out to sample outside the lock.
        var sampling: Set<SequenceID> = []
        /// Those of them aborted meanwhile.
        var abortedWhileSampling: Set<SequenceID> = []
    }

    /// Builds the engine over `model` in this process; call `start()` to begin serving.
    /// - Throws: `EngineError` for an invalid configuration or a cache too small for one block.
    public convenience init(model: any LanguageModel, tokenizer: any Tokenizer, modelName: String, chatTemplate: String?,
                            configuration: EngineConfiguration = EngineConfiguration(),
                            logger: Logger = Logger(label: "shoal.engine")) throws {
        try self.init(executor: LocalExecutor(model: model), tokenizer: tokenizer, modelName: modelName,
                      chatTemplate: chatTemplate, configuration: configuration, logger: logger)
    }

    /// Builds the scheduler and has `executor` allocate the KV cache; call `start()` to begin serving.
    /// - Throws: `EngineError` for an invalid configuration or a cache too small for one block.
    /// - Parameter logger: for requests that bring none (`EngineRequest.logger`), and for the engine itself.
    public init(executor: any ModelExecutor, tokenizer: any Tokenizer, modelName: String, chatTemplate: String?,
                configuration: EngineConfiguration = EngineConfiguration(),
                logger: Logger = Logger(label: "shoal.engine")) throws {
        try configuration.validate()
        let config = executor.config
        let blockSize = PagedKVCache.defaultBlockSize
        let bytesPerBlock = executor.cacheBytesPerToken * blockSize
        let blocks = configuration.kvCacheBytes / bytesPerBlock
        guard blocks >= 1 else {
            throw EngineError(.internalError, "kv-cache-memory of \(configuration.kvCacheBytes) bytes is below one block (\(bytesPerBlock) bytes)")
        }
        let context = min(configuration.maxModelLength ?? config.contextLength, config.contextLength)
        var schedulerConfiguration = SchedulerConfiguration()
        schedulerConfiguration.maxBatchedTokens = configuration.maxBatchedTokens
        schedulerConfiguration.maxSequences = configuration.maxSequences
        schedulerConfiguration.maxWaiting = configuration.maxWaiting
        schedulerConfiguration.longPrefillThreshold = configuration.longPrefillThreshold
        schedulerConfiguration.blockSize = blockSize
        schedulerConfiguration.prefixCaching = configuration.prefixCaching
        schedulerConfiguration.maxModelLength = context
        let scheduler: Scheduler
        do {
            scheduler = try Scheduler(configuration: schedulerConfiguration, blockCount: blocks)
        } catch {
            throw EngineError(.internalError, error.message)
        }
        do {
            try executor.allocateCache(blockCount: blocks, blockSize: blockSize)
        } catch {
            throw EngineError(.internalError, "cannot allocate the KV cache: \(error)")
        }
        self.executor = executor
        self.logger = logger
        self.tokenizer = tokenizer
        self.modelName = modelName
        self.chatTemplate = chatTemplate
        self.configuration = configuration
        var checks = configuration.checksInvariants
        assert({ checks = true; return true }())
        checksInvariants = checks
        contextLength = context
        promptLimits = PromptLimits(vocabularySize: min(tokenizer.vocabularySize, config.vocabularySize),
                                    contextLength: context)
        cacheTokenCapacity = blocks * blockSize
        var initial = State(scheduler: scheduler)
        initial.stats.kvBlocksTotal = blocks
        initial.stats.kvBlockSize = blockSize
        initial.stats.kvCacheType = executor.cacheType.rawValue
        state = Mutex(initial)
    }

    /// Starts the engine thread (once).
    public func start() {
        let first = state.withLock { state in
            defer { state.started = true }
            return !state.started
        }
        guard first else { return }
        let thread = Thread { [self] in loop() }
        thread.name = "shoal-engine"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Stops the loop: every live request ends with an error. Returns at once.
    public func shutdown() {
        let pending = state.withLock { state -> [Live] in
            state.stopped = true
            state.draining = true
            _ = state.scheduler.abortAll()
            defer { state.live.removeAll() }
            return Array(state.live.values)
        }
        for live in pending {
            live.logger.debug("request ended: the engine is shutting down")
            live.continuation.finish(throwing: EngineError(.draining, "the server is shutting down"))
        }
        wakeup.signal()
    }

    public func beginDrain() {
        state.withLock { $0.draining = true }
    }

    public func stats() -> EngineStats {
        let profile = executor.profile()
        return state.withLock { state in
            var stats = state.stats
            stats.running = state.scheduler.runningCount
            stats.waiting = state.scheduler.waitingCount
            stats.kvCacheUsage = state.scheduler.kvCacheUsage
            stats.kvBlocksUsed = state.scheduler.usedBlockCount
            stats.prefixCacheQueries = state.scheduler.prefixCacheQueries
            stats.prefixCacheHits = state.scheduler.prefixCacheHits
            stats.preemptions = state.scheduler.preemptionCount
            stats.isDraining = state.draining
            stats.currentStepSeconds = state.stepStart.map { (ContinuousClock.now - $0).seconds }
            stats.unavailableReason = executor.failure
            stats.profile = profile
            return stats
        }
    }

    public func submit(_ request: EngineRequest) throws -> AsyncThrowingStream<EngineEvent, any Error> {
        do {
            try request.params.validate()
        } catch let error as SamplingError {
            throw EngineError(.invalidPrompt, error.message)
        }
        let vocab = executor.config.vocabularySize
        do {
            try promptLimits.check(request.promptIDs, maxTokens: request.params.maxTokens)
        } catch {
            throw EngineError(error)
        }
        let (stream, continuation) = AsyncThrowingStream<EngineEvent, any Error>.makeStream()
        var requestLogger = request.logger ?? logger
        requestLogger[metadataKey: "choice"] = .string(request.id)
        let id: SequenceID = try state.withLock { state in
            if state.draining { throw EngineError(.draining, "the server is draining and admits no new requests") }
            let id = SequenceID(state.nextID)
            do {
                try state.scheduler.add(SchedulerRequest(
                    id: id, promptTokens: request.promptIDs, maxTokens: request.params.maxTokens, priority: request.priority))
            } catch let error as SchedulerError {
                // What only the scheduler knows: its queue, and a request that would not fit the whole KV cache.
                // (Prompt and context were checked above; the scheduler's own guards of them are its invariants.)
                switch error.code {
                case .queueFull: throw EngineError(.queueFull, error.message)
                case .exceedsCacheCapacity: throw EngineError(.contextExceeded, error.message)
                default: throw EngineError(.internalError, "the scheduler refused a checked request: \(error.message)")
                }
            }
            state.nextID += 1
            state.live[id] = Live(
                requestID: request.id, logger: requestLogger,
                output: SequenceOutput(params: request.params, prompt: request.promptIDs, tokenizer: tokenizer, vocabularySize: vocab),
                continuation: continuation, promptTokens: request.promptIDs.count, maxTokens: request.params.maxTokens)
            return id
        }
        continuation.onTermination = { [weak self] termination in
            if case .cancelled = termination { self?.abort(id) }
        }
        requestLogger.debug("request queued", metadata: [
            "prompt_tokens": "\(request.promptIDs.count)", "max_tokens": "\(request.params.maxTokens)",
        ])
        wakeup.signal()
        return stream
    }

    /// Ends a sequence early (its client went away) and frees its blocks.
    private func abort(_ id: SequenceID) {
        let logger = state.withLock { state -> Logger? in
            if let live = state.live.removeValue(forKey: id) {
                state.scheduler.abort(id)
                return live.logger
            } else if state.sampling.contains(id) {
                state.abortedWhileSampling.insert(id)
                state.scheduler.abort(id)
            }
            return nil
        }
        logger?.debug("request aborted: its stream was cancelled (the client went away)")
    }

    // MARK: The loop

    /// Schedules and runs steps until stopped: up to `executor.pipelineDepth` steps in flight (each with a
    /// share of the sequences, so that a pipeline's stages all have work), collected and sampled oldest first.
    private func loop() {
        var logits: [Float] = []
        let vocab = executor.config.vocabularySize
        let depth = max(1, executor.pipelineDepth)
        var inFlight: [SchedulerStep] = []
        while true {
            // Fill the pipeline.
            var stopped = false
            while inFlight.count < depth {
                let next = state.withLock { state -> SchedulerStep? in
                    if state.stopped { return nil }
                    // Spread the sequences over the steps in flight.
                    let sequences = state.scheduler.runningCount + state.scheduler.waitingCount
                    let limit = depth == 1 ? nil : max(1, (sequences + depth - 1) / depth)
                    let step = state.scheduler.schedule(sequenceLimit: limit)
                    if !step.isEmpty, state.stepStart == nil { state.stepStart = .now }
                    return step
                }
                guard let step = next else {
                    stopped = true
                    break
                }
                if step.isEmpty { break }
                do {
                    try executor.submit(step.forwardBatch)
                } catch {
                    fail(step, error)
                    inFlight.removeAll()
                    break
                }
                inFlight.append(step)
            }
            if stopped { return }
            guard !inFlight.isEmpty else {
                wakeup.wait()
                continue
            }
            let step = inFlight.removeFirst()
            let batch = step.forwardBatch
            let rows = batch.logitRows.count
            if logits.count < rows * vocab { logits = [Float](repeating: 0, count: rows * vocab) }
            do {
                try logits.withUnsafeMutableBufferPointer { try executor.collect(batch, logits: $0.baseAddress!) }
            } catch {
                fail(step, error)
                inFlight.removeAll()
                continue
            }
            let events = logits.withUnsafeMutableBufferPointer {
                sampleAndComplete(step, logits: $0, vocab: vocab, stillInFlight: !inFlight.isEmpty)
            }
            for (continuation, event, last) in events {
                continuation.yield(event)
                if last { continuation.finish() }
            }
        }
    }

    private typealias Emission = (AsyncThrowingStream<EngineEvent, any Error>.Continuation, EngineEvent, Bool)

    /// Samples every row of the step outside the lock (a 262k-vocabulary sampling step must not hold up `/metrics`
    /// and `/health`), then hands the results to the scheduler under it. Returns the events to emit.
    private func sampleAndComplete(_ step: SchedulerStep, logits all: UnsafeMutableBufferPointer<Float>, vocab: Int,
                                   stillInFlight: Bool) -> [Emission] {
        // Take the rows' outputs out of the shared state.
        var taken = state.withLock { state -> [(row: Int, id: SequenceID, live: Live)] in
            state.stepStart = stillInFlight ? .now : nil
            state.stats.steps += 1
            var taken: [(row: Int, id: SequenceID, live: Live)] = []
            for (row, id) in step.samplingSequences.enumerated() {
                guard var live = state.live.removeValue(forKey: id) else { continue }
                if live.emitted == 0, let sequence = state.scheduler.sequence(id) {
                    live.cachedTokens = sequence.cachedPromptTokens
                }
                state.sampling.insert(id)
                taken.append((row, id, live))
            }
            return taken
        }
        var decisions: [SequenceOutput.Decision] = []
        decisions.reserveCapacity(taken.count)
        for index in taken.indices {
            let row = taken[index].row
            let rowLogits = UnsafeMutableBufferPointer(rebasing: all[(row * vocab)..<((row + 1) * vocab)])
            decisions.append(taken[index].live.output.next(logits: rowLogits))
        }
        var events: [Emission] = []
        var finishedLogs: [(Logger, FinishReason, EngineUsage)] = []
        var orphans: [Live] = []
        var failures: [(Live, String)] = []
        state.withLock { state in
            var sampled: [SequenceID: Int32] = [:]
            var stopped: Set<SequenceID> = []
            var failed: [SequenceID: String] = [:]
            var stopTokens: [SequenceID: Int32] = [:]
            for id in step.samplingSequences { sampled[id] = 0 }  // aborted meanwhile: the scheduler skips it
            for (index, entry) in taken.enumerated() {
                var live = entry.live
                let id = entry.id
                state.sampling.remove(id)
                if state.abortedWhileSampling.remove(id) != nil { continue }
                if state.stopped {
                    orphans.append(live)
                    continue
                }
                state.stats.generationTokens += 1
                switch decisions[index] {
                case .stop(let token):
                    sampled[id] = token
                    stopped.insert(id)
                    stopTokens[id] = token
                case .token(let token):
                    sampled[id] = token.id
                    live.emitted += 1
                    events.append((live.continuation, .token(token), false))
                case .tokenThenStop(let token):
                    sampled[id] = token.id
                    stopped.insert(id)
                    live.emitted += 1
                    events.append((live.continuation, .token(token), false))
                case .failed(let message):
                    // Ends like a stop for the scheduler (its blocks are freed); the client gets the error.
                    sampled[id] = 0
                    stopped.insert(id)
                    failed[id] = message
                }
                state.live[id] = live
            }
            if state.stopped { return }
            let finished: [SequenceState]
            var broken: String?
            do {
                finished = try state.scheduler.complete(step, sampled: sampled, stopped: stopped)
            } catch {
                // The scheduler and the step disagree: what it would compute next cannot be trusted.
                broken = "the scheduler refused step \(step.index)'s results: \(error)"
                finished = []
            }
            if broken == nil, checksInvariants {
                let problems = state.scheduler.invariantViolations()
                if !problems.isEmpty { broken = "scheduler bookkeeping broken: \(problems.joined(separator: "; "))" }
            }
            if let broken {
                // Loudly: every live request ends with the error, and the cache starts over.
                failures += state.abandonAll().map { ($0, broken) }
                return
            }
            for sequence in finished {
                guard var live = state.live.removeValue(forKey: sequence.id) else { continue }
                if let message = failed[sequence.id] {
                    failures.append((live, message))
                    continue
                }
                let tail = live.output.finish()
                let reason: FinishReason = (stopped.contains(sequence.id) || tail.stopped) ? .stop : .length
                let queued = sequence.firstScheduledTime.map { ($0 - sequence.arrivalTime).seconds }
                let usage = EngineUsage(promptTokens: live.promptTokens, completionTokens: sequence.outputCount,
                                        cachedTokens: live.cachedTokens, queueSeconds: queued)
                state.stats.promptTokens += live.promptTokens
                events.append((live.continuation, .finished(reason: reason, usage: usage, trailingText: tail.text,
                                                                stopToken: stopTokens[sequence.id]), true))
                finishedLogs.append((live.logger, reason, usage))
            }
        }
        for (logger, reason, usage) in finishedLogs {
            logger.debug("request finished", metadata: [
                "finish_reason": "\(reason.rawValue)", "prompt_tokens": "\(usage.promptTokens)",
                "completion_tokens": "\(usage.completionTokens)", "cached_tokens": "\(usage.cachedTokens)",
                "queue_seconds": "\(usage.queueSeconds ?? 0)",
            ])
        }
        for live in orphans {
            live.logger.debug("request ended: the engine is shutting down")
            live.continuation.finish(throwing: EngineError(.draining, "the server is shutting down"))
        }
        for (live, message) in failures {
            live.logger.error("request failed", metadata: ["error": "\(message)"])
            live.continuation.finish(throwing: EngineError(.internalError, message))
        }
        return events
    }

    /// A step failed: a bug for a local model (it validates its batch), or a lost worker of a model-parallel group,
    /// whose KV caches are gone with it. Every live request ends with an error and the prefix cache is emptied, so
    /// nothing computed before the failure is reused.
    private func fail(_ step: SchedulerStep, _ error: any Error) {
        let failed = state.withLock { $0.abandonAll() }
        logger.error("forward pass failed; ending every live request", metadata: [
            "error": "\(error)", "requests": "\(failed.count)",
        ])
        for live in failed {
            live.logger.error("request failed: the forward pass failed", metadata: ["error": "\(error)"])
            live.continuation.finish(throwing: EngineError(.internalError, "forward pass failed: \(error)"))
        }
    }
}

extension EngineCore.State {
    /// Ends everything after a failure the engine cannot recover from (a lost worker, broken bookkeeping): aborts
    /// every sequence, empties the prefix cache so nothing computed before is reused, and returns the live requests
    /// for the caller to fail.
    mutating func abandonAll() -> [EngineCore.Live] {
        stepStart = nil
        _ = scheduler.abortAll()
        scheduler.blocks.resetPrefixCache()
        defer { live.removeAll() }
        return Array(live.values)
    }
}
