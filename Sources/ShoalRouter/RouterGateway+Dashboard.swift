internal import Hummingbird
internal import NIOCore
internal import NIOHTTP1
internal import ShoalDashboard

extension RouterGateway {
    /// Samples the dashboard every `configuration.dashboardInterval` until cancelled (part of `run()`).
    func runDashboard() async {
        while !Task.isCancelled {
            await sampleDashboard()
            do {
                try await sleepOnEventLoop(for: configuration.dashboardInterval)
            } catch {
                return
            }
        }
    }

    /// One sampling: scrapes every replica's `/metrics` at once (each within the health timeout) and records them
    /// with the router's view of each replica (health, breaker, leases, errors, migrations).
    func sampleDashboard() async {
        let statuses = replicas.statuses()
        let timeout = configuration.health.timeout
        let headers = upstream.replicaHeaders
        let scrapes = await withTaskGroup(of: (String, Result<ReplicaMetrics, DashboardScrapeError>).self) { group in
            for status in statuses {
                group.addTask {
                    (status.url, await Self.scrape(ReplicaID(status.url), upstream: self.upstream, timeout: timeout,
                                                   headers: headers))
                }
            }
            var results: [String: Result<ReplicaMetrics, DashboardScrapeError>] = [:]
            for await (url, result) in group { results[url] = result }
            return results
        }
        dashboard.record(statuses.map { status in
            let scrape = scrapes[status.url]
            var metrics: ReplicaMetrics?
            var failure: String?
            switch scrape {
            case .success(let scraped)?: metrics = scraped
            case .failure(let error)?: failure = error.message
            case nil: failure = "not scraped"
            }
            return ReplicaObservation(
                id: status.url, models: status.models,
                status: status.draining ? "draining" : status.healthy ? "healthy" : "unhealthy",
                healthy: status.healthy && !status.draining && status.breaker != "open", breaker: status.breaker,
                inFlight: status.outstanding, errors: status.errors, migrations: status.migrations,
                metrics: metrics, scrapeError: failure)
        })
    }

    private static func scrape(_ replica: ReplicaID, upstream: Upstream, timeout: Duration,
                               headers: HTTPHeaders) async -> Result<ReplicaMetrics, DashboardScrapeError> {
        let answer: (status: Int, body: ByteBuffer)
        do {
            answer = try await upstream.get(replica, path: "/metrics", timeout: timeout, headers: headers)
        } catch {
            return .failure(DashboardScrapeError("\(error)"))
        }
        guard answer.status == 200 else { return .failure(DashboardScrapeError("/metrics answered \(answer.status)")) }
        do {
            return .success(ReplicaMetrics(samples: try PrometheusTextParser.parse(String(buffer: answer.body))))
        } catch {
            return .failure(DashboardScrapeError("/metrics does not parse: \(error)"))
        }
    }

    /// `GET /dashboard`: the page.
    func dashboardPage() -> Response {
        Response(status: .ok, headers: [.contentType: DashboardPage.contentType, .cacheControl: "no-store",
                                        .contentSecurityPolicy: DashboardPage.contentSecurityPolicy],
                 body: .init(byteBuffer: ByteBuffer(string: DashboardPage.html(title: "Shoal router"))))
    }

    /// `GET /dashboard/data`: the latest snapshot as JSON.
    func dashboardData() throws -> Response {
        Response(status: .ok, headers: [.contentType: DashboardPage.dataContentType, .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(bytes: try dashboard.snapshot().json())))
    }
}

/// Why a replica's `/metrics` could not be read, as the dashboard shows it.
struct DashboardScrapeError: Error {
    let message: String

    init(_ message: String) {
        self.message = message.count > 200 ? String(message.prefix(200)) + "…" : message
    }
}
