internal import Foundation

/// What `GET /dashboard/data` answers: the rows, the pool's totals and the recent history for the sparklines.
package struct DashboardSnapshot: Sendable, Equatable, Codable {
    /// `router` or `server`.
    package var kind: String
    package var title: String
    /// The recorder's clock at the latest sampling (seconds; history times are on the same clock).
    package var now: Double
    package var intervalSeconds: Double
    package var rateWindowSeconds: Double
    package var quantileWindowSeconds: Double
    /// How far back the history reaches once full (interval x points kept).
    package var historySeconds: Double
    package var rows: [DashboardRow]
    package var totals: DashboardTotals
    /// Oldest first.
    package var history: [DashboardPoint]

    package init(kind: String, title: String, now: Double, intervalSeconds: Double, rateWindowSeconds: Double,
                 quantileWindowSeconds: Double, historySeconds: Double, rows: [DashboardRow], totals: DashboardTotals, history: [DashboardPoint]) {
        self.kind = kind
        self.title = title
        self.now = now
        self.intervalSeconds = intervalSeconds
        self.rateWindowSeconds = rateWindowSeconds
        self.quantileWindowSeconds = quantileWindowSeconds
        self.historySeconds = historySeconds
        self.rows = rows
        self.totals = totals
        self.history = history
    }

    enum CodingKeys: String, CodingKey {
        case kind, title, now, rows, totals, history
        case intervalSeconds = "interval_seconds"
        case rateWindowSeconds = "rate_window_seconds"
        case quantileWindowSeconds = "quantile_window_seconds"
        case historySeconds = "history_seconds"
    }

    /// The snapshot as JSON (keys sorted; absent values left out).
    package func json() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }
}
