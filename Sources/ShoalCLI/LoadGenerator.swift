import ShoalBench
import ShoalEngine

/// Sends a run's requests when they are due, as vLLM's `bench serve` does: each at its arrival in the schedule,
/// and with `maxConcurrency` only once fewer than that many are in flight. Arrivals are absolute deadlines from
/// the start of the run (sleeping until each, never for a gap), so the schedule does not drift when a wake-up is
/// late; and a request's latencies run from when it was due (its arrival, or the end of the request that freed
/// its slot), so a late wake-up of the generator counts against the measurement instead of hiding in it.
struct LoadGenerator {
    var schedule: ArrivalSchedule
    /// Requests in flight at most; nil for no cap.
    var maxConcurrency: Int?

    /// Runs `requests` (as many as the schedule has arrivals) and returns their outcomes in order, with their start
    /// and queue times set, and the seconds from the start to the end of the last.
    func run(_ requests: [BenchRequest],
             send: @escaping @Sendable (BenchRequest, ContinuousClock.Instant) async -> RequestOutcome) async -> (outcomes: [RequestOutcome], duration: Double) {
        precondition(requests.count == schedule.offsets.count, "one arrival a request")
        let clock = ContinuousClock()
        let start = clock.now
        var outcomes = [RequestOutcome](repeating: RequestOutcome(), count: requests.count)
        await withTaskGroup(of: (index: Int, outcome: RequestOutcome, end: ContinuousClock.Instant).self) { group in
            var inFlight = 0
            for (index, request) in requests.enumerated() {
                let arrival = start + .seconds(schedule.offsets[index])
                if arrival > clock.now {
                    try? await clock.sleep(until: arrival, tolerance: nil)
                }
                var due = arrival
                if let maxConcurrency {
                    // Completions come back in the order they ended: the first is the one that freed a slot.
                    while inFlight >= maxConcurrency, let finished = await group.next() {
                        outcomes[finished.index] = finished.outcome
                        inFlight -= 1
                        due = max(due, finished.end)
                    }
                }
                let startTime = (due - start).seconds, queueTime = (due - arrival).seconds
                group.addTask {
                    var outcome = await send(request, due)
                    outcome.startTime = startTime
                    outcome.queueTime = queueTime
                    return (index, outcome, clock.now)
                }
                inFlight += 1
            }
            for await finished in group {
                outcomes[finished.index] = finished.outcome
            }
        }
        return (outcomes, (clock.now - start).seconds)
    }
}
