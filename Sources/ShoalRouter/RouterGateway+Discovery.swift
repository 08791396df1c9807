internal import Logging

extension RouterGateway {
    /// Follows every `configuration.discover` target until cancelled (part of `run()`).
    func runDiscovery() async {
        await withDiscardingTaskGroup { group in
            for target in configuration.discover {
                group.addTask { await self.follow(target) }
            }
        }
    }

    /// Resolves `target` every interval and admits or drains replicas to match, until cancelled.
    private func follow(_ target: DiscoveryTarget) async {
        var state = DiscoveryState()
        logger.info("discovering replicas from DNS", metadata: ["target": "\(target)"])
        while !Task.isCancelled {
            await discover(target, state: &state)
            do {
                try await sleepOnEventLoop(for: target.interval)
            } catch {
                return
            }
        }
    }

    /// One resolution of `target` and the membership changes it calls for. A failed or empty resolution keeps
    /// the current replicas.
    private func discover(_ target: DiscoveryTarget, state: inout DiscoveryState) async {
        let label = target.hostPort
        let addresses: [String]
        do {
            addresses = try await resolve(target)
        } catch {
            guard !Task.isCancelled else { return }
            metrics.discoveryResolution(name: label, outcome: "failure")
            logger.warning("DNS discovery failed; keeping the current replicas",
                           metadata: ["target": "\(label)", "error": "\(error)"])
            return
        }
        guard !addresses.isEmpty else {
            metrics.discoveryResolution(name: label, outcome: "empty")
            logger.warning("DNS discovery found no addresses; keeping the current replicas", metadata: ["target": "\(label)"])
            return
        }
        metrics.discoveryResolution(name: label, outcome: "ok")
        let found = Set(addresses.map(target.replica(at:)))
        metrics.discoveredAddresses(name: label, count: found.count)

        var admissions: [ReplicaID] = []
        for action in state.resolved(found) {
            switch action {
            case .drain(let id):
                logger.info("replica gone from DNS; draining it", metadata: ["target": "\(label)", "replica": "\(id)"])
                _ = try? drainReplica(id.rawValue)
            case .admit(let id):
                admissions.append(id)
            }
        }
        let admitted = await withTaskGroup(of: ReplicaID?.self) { group in
            for id in admissions {
                group.addTask {
                    do {
                        try await self.admit(id, model: target.model)
                        return id
                    } catch {
                        guard !Task.isCancelled else { return nil }
                        self.logger.warning("discovered replica could not be added; retrying next resolution",
                                            metadata: ["replica": "\(id)", "error": "\(error)"])
                        return nil
                    }
                }
            }
            var admitted: [ReplicaID] = []
            for await id in group { if let id { admitted.append(id) } }
            return admitted
        }
        for id in admitted { state.admitted(id) }
    }

    /// Adds a discovered replica: with a model, as serving it; without, as `POST /admin/replicas` does.
    private func admit(_ id: ReplicaID, model: String?) async throws {
        guard let model else {
            try await addReplica(id.rawValue)
            return
        }
        replicas.add(id, models: [PoolModel(name: model)])
        logger.info("replica added", metadata: ["replica": "\(id)", "models": "[\(model)]"])
    }

    /// The addresses of `target.name`, or an error after `target.timeout`.
    private func resolve(_ target: DiscoveryTarget) async throws -> [String] {
        let resolver = resolver
        guard let addresses = try await withDeadline(target.timeout, { try await resolver.addresses(of: target.name) }) else {
            throw RouterError(.discoveryFailed, "resolving '\(target.name)' took longer than \(target.timeout)")
        }
        return addresses
    }
}
