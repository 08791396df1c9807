internal import ShoalDashboard
internal import Synchronization

/// The router's live dashboard: the recorder that the sampling loop feeds (every replica's scraped `/metrics`
/// with the router's own view of it) and `/dashboard/data` reads.
final class RouterDashboard: Sendable {
    private let recorder: Mutex<DashboardRecorder>
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant

    /// - Parameter interval: the time between samplings.
    init(interval: Duration) {
        recorder = Mutex(DashboardRecorder(configuration: .init(interval: interval.inSeconds)))
        start = clock.now
    }

    /// Records one sampling of every replica, timed now.
    func record(_ observations: [ReplicaObservation]) {
        let time = (clock.now - start).inSeconds
        recorder.withLock { $0.record(observations, at: time) }
    }

    func snapshot() -> DashboardSnapshot {
        recorder.withLock { $0.snapshot(kind: "router", title: "Shoal router") }
    }
}
