/// The dashboard's state as a value-type state machine, without I/O or a clock of its own: its owner samples
/// the replicas on a timer and calls `record(_:at:)` with what it saw and when (seconds on a monotonic clock);
/// `snapshot` turns the kept scrapes into rows, totals and history.
///
/// Rates and percentiles come from differences between the newest scrape of a row and an older one inside the
/// window (counters that went back count from zero: a restarted replica), never from lifetime totals.
package struct DashboardRecorder: Sendable {
    package struct Configuration: Sendable, Equatable {
        /// Seconds between samplings.
        package var interval: Double
        /// Points of pool history kept for the sparklines.
        package var historyLength: Int
        /// Seconds over which tokens per second are computed.
        package var rateWindow: Double
        /// Seconds over which TTFT percentiles and the prefix-cache hit rate are computed.
        package var quantileWindow: Double

        /// - Parameters: defaults: a sampling every 2 s, 5 minutes of history, rates over 10 s, percentiles over 60 s.
        package init(interval: Double = 2, historyLength: Int = 150, rateWindow: Double = 10, quantileWindow: Double = 60) {
            self.interval = interval
            self.historyLength = historyLength
            self.rateWindow = rateWindow
            self.quantileWindow = quantileWindow
        }

        /// Scrapes kept per row: enough to reach back over the longer window.
        var scrapesKept: Int {
            Int((max(rateWindow, quantileWindow) / max(interval, 0.001)).rounded(.up)) + 2
        }
    }

    private struct TimedMetrics: Sendable {
        var time: Double
        var metrics: ReplicaMetrics
    }

    package let configuration: Configuration
    private var scrapes: [String: HistoryRing<TimedMetrics>] = [:]
    private var observations: [ReplicaObservation] = []
    private var history: HistoryRing<DashboardPoint>
    private var now: Double = 0

    package init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        history = HistoryRing(capacity: max(1, configuration.historyLength))
    }

    /// Records one sampling of every row. Rows absent from `observations` (removed replicas) are forgotten.
    /// - Parameters:
    ///   - observations: every row, in display order.
    ///   - time: seconds on a monotonic clock, not before the previous sampling's.
    package mutating func record(_ observations: [ReplicaObservation], at time: Double) {
        var kept: [String: HistoryRing<TimedMetrics>] = [:]
        for observation in observations {
            var ring = scrapes[observation.id] ?? HistoryRing(capacity: configuration.scrapesKept)
            if let metrics = observation.metrics { ring.append(TimedMetrics(time: time, metrics: metrics)) }
            kept[observation.id] = ring
        }
        scrapes = kept
        self.observations = observations
        now = time
        history.append(point())
    }

    /// The rows, totals and history as of the latest sampling.
    package func snapshot(kind: String, title: String) -> DashboardSnapshot {
        let rows = observations.map(row)
        return DashboardSnapshot(
            kind: kind, title: title, now: now, intervalSeconds: configuration.interval,
            rateWindowSeconds: configuration.rateWindow, quantileWindowSeconds: configuration.quantileWindow,
            historySeconds: configuration.interval * Double(history.capacity), rows: rows, totals: totals(rows), history: Array(history))
    }

    // MARK: Rows

    /// The newest scrape of a row, if it was taken at the latest sampling.
    private func current(_ id: String) -> TimedMetrics? {
        guard let latest = scrapes[id]?.last, latest.time == now else { return nil }
        return latest
    }

    /// The oldest scrape of a row inside `window` seconds before its newest one (the newest excluded). A window
    /// shorter than the interval still reaches the previous scrape.
    private func baseline(_ id: String, window: Double) -> TimedMetrics? {
        guard let ring = scrapes[id], ring.count >= 2, let latest = ring.last else { return nil }
        let earliest = latest.time - max(window, configuration.interval) - configuration.interval / 2
        return ring.dropLast().first { $0.time >= earliest }
    }

    private func row(_ observation: ReplicaObservation) -> DashboardRow {
        var row = DashboardRow(
            id: observation.id, models: observation.models, status: observation.status, healthy: observation.healthy,
            breaker: observation.breaker, inFlight: observation.inFlight, errors: observation.errors,
            migrations: observation.migrations, scrapeError: observation.scrapeError)
        guard let latest = current(observation.id) else { return row }
        let metrics = latest.metrics
        row.running = finite(metrics.running)
        row.waiting = finite(metrics.waiting)
        row.kvCacheUsage = metrics.kvCacheUsage.flatMap(finite)
        row.finishedRequests = finite(metrics.finishedRequests)
        row.generationTokens = finite(metrics.generationTokens)
        if let base = baseline(observation.id, window: configuration.rateWindow) {
            row.outputTokensPerSecond = CounterMath.rate(
                from: base.metrics.generationTokens, to: metrics.generationTokens, seconds: latest.time - base.time
            ).flatMap(finite)
        }
        if let base = baseline(observation.id, window: configuration.quantileWindow) {
            let queries = CounterMath.increase(from: base.metrics.prefixCacheQueries, to: metrics.prefixCacheQueries)
            let hits = CounterMath.increase(from: base.metrics.prefixCacheHits, to: metrics.prefixCacheHits)
            if queries > 0 { row.prefixCacheHitRate = finite(min(1, hits / queries)) }
            if let ttft = ttftIncrease(observation.id) {
                row.ttftP50Seconds = ttft.quantile(0.5).flatMap(finite)
                row.ttftP99Seconds = ttft.quantile(0.99).flatMap(finite)
            }
        }
        return row
    }

    /// The TTFT observations of a row over the quantile window.
    private func ttftIncrease(_ id: String) -> HistogramBuckets? {
        guard let latest = current(id), let now = latest.metrics.timeToFirstToken,
              let base = baseline(id, window: configuration.quantileWindow) else { return nil }
        guard let before = base.metrics.timeToFirstToken else { return now }
        return now.increase(since: before)
    }

    // MARK: Pool

    private func totals(_ rows: [DashboardRow]) -> DashboardTotals {
        var totals = DashboardTotals()
        totals.replicas = rows.count
        totals.healthyReplicas = rows.filter(\.healthy).count
        totals.inFlight = rows.reduce(0) { $0 + $1.inFlight }
        totals.running = rows.reduce(0) { $0 + ($1.running ?? 0) }
        totals.waiting = rows.reduce(0) { $0 + ($1.waiting ?? 0) }
        totals.errors = rows.reduce(0) { $0 + $1.errors }
        let migrations = rows.compactMap(\.migrations)
        totals.migrations = migrations.isEmpty ? nil : migrations.reduce(0, +)
        totals.finishedRequests = rows.reduce(0) { $0 + ($1.finishedRequests ?? 0) }
        totals.generationTokens = rows.reduce(0) { $0 + ($1.generationTokens ?? 0) }
        let usage = rows.compactMap(\.kvCacheUsage)
        totals.kvCacheUsage = usage.isEmpty ? nil : usage.reduce(0, +) / Double(usage.count)
        let rates = rows.compactMap(\.outputTokensPerSecond)
        totals.outputTokensPerSecond = rates.isEmpty ? nil : rates.reduce(0, +)

        var hits = 0.0
        var queries = 0.0
        var ttft: HistogramBuckets?
        for row in rows {
            guard let latest = current(row.id), let base = baseline(row.id, window: configuration.quantileWindow) else {
                continue
            }
            hits += CounterMath.increase(from: base.metrics.prefixCacheHits, to: latest.metrics.prefixCacheHits)
            queries += CounterMath.increase(from: base.metrics.prefixCacheQueries, to: latest.metrics.prefixCacheQueries)
            if let increase = ttftIncrease(row.id) { ttft = ttft.map { $0.adding(increase) ?? $0 } ?? increase }
        }
        if queries > 0 { totals.prefixCacheHitRate = finite(min(1, hits / queries)) }
        totals.ttftP50Seconds = ttft?.quantile(0.5).flatMap(finite)
        totals.ttftP99Seconds = ttft?.quantile(0.99).flatMap(finite)
        return totals
    }

    /// The pool at the latest sampling, with rates over the interval since each row's previous scrape.
    private func point() -> DashboardPoint {
        var point = DashboardPoint(time: now, replicas: observations.count)
        var tokens: Double?
        var requests: Double?
        var usage: [Double] = []
        for observation in observations {
            if observation.healthy { point.healthyReplicas += 1 }
            point.inFlight += observation.inFlight
            guard let latest = current(observation.id) else { continue }
            point.running += latest.metrics.running
            point.waiting += latest.metrics.waiting
            if let kv = latest.metrics.kvCacheUsage { usage.append(kv) }
            guard let ring = scrapes[observation.id], ring.count >= 2 else { continue }
            let previous = ring[ring.count - 2]
            // A row that missed scrapes for long has no rate for this point (its growth is not this interval's).
            let seconds = latest.time - previous.time
            guard seconds > 0, seconds <= configuration.interval * 3 else { continue }
            tokens = (tokens ?? 0) + CounterMath.increase(
                from: previous.metrics.generationTokens, to: latest.metrics.generationTokens) / seconds
            requests = (requests ?? 0) + CounterMath.increase(
                from: previous.metrics.finishedRequests, to: latest.metrics.finishedRequests) / seconds
        }
        point.outputTokensPerSecond = tokens.flatMap(finite)
        point.requestsPerSecond = requests.flatMap(finite)
        point.running = finite(point.running) ?? 0
        point.waiting = finite(point.waiting) ?? 0
        point.kvCacheUsage = usage.isEmpty ? nil : finite(usage.reduce(0, +) / Double(usage.count))
        return point
    }
}

/// `value` when it is finite (JSON has no infinities or NaN), else nil.
private func finite(_ value: Double) -> Double? {
    value.isFinite ? value : nil
}
