import Foundation
import ShoalRouter
import Testing

@Suite struct ConfigurationTests {
    @Test func appliesAJSONConfigFile() throws {
        let json = #"""
        {"port": 9000, "policy": "least-loaded", "admin_key": "k", "replicas": ["http://10.0.0.5:8080/"],
         "aliases": {"auto": ["tokens>=512->big|small", "*->small"]},
         "health": {"interval": 1.5, "unhealthy_threshold": 4},
         "breaker": {"failure_threshold": 7, "open_duration": 10},
         "retry": {"max_attempts": 5}, "max_migrations": 2}
        """#
        var configuration = RouterConfiguration()
        try configuration.apply(configFile: Data(json.utf8), path: "router.json")
        try configuration.validate()
        #expect(configuration.port == 9000)
        #expect(configuration.policy == .leastLoaded)
        #expect(configuration.adminKey == "k")
        #expect(configuration.replicas == ["http://10.0.0.5:8080/"])
        #expect(configuration.aliases.first?.rules.count == 2)
        #expect(configuration.health.interval == .milliseconds(1500))
        #expect(configuration.health.unhealthyThreshold == 4)
        #expect(configuration.breaker.failureThreshold == 7)
        #expect(configuration.breaker.openDuration == .seconds(10))
        #expect(configuration.retry.maxAttempts == 5)
        #expect(configuration.maxMigrations == 2)
    }

    @Test func appliesAYAMLConfigFileWithEveryKey() throws {
        let yaml = """
        # The router in front of a Kubernetes Deployment of shoal serve.
        host: 0.0.0.0
        port: 9000
        policy: consistent-hash
        admin_key: sesame
        replicas:
          - http://10.0.0.5:8080/
          - http://[fd00::6]:8080
        discover:
          - dns://shoal-serve.default.svc.cluster.local:8080?interval=500ms
          - dns://shoal-big:8081?model=big&interval=1m
        aliases:
          auto: ["tokens>=512->big|small", "*->small:60,big:40"]
          code:
            - regex:(?i)code->big
        health: {interval: 1.5, timeout: 250ms, unhealthy_threshold: 4, healthy_threshold: 3}
        breaker:
          failure_threshold: 7
          open_duration: 10s
          success_threshold: 1
        retry: {max_attempts: 5, initial_backoff: 10ms, max_backoff: 2, max_total_time: 1m}
        prefix_affinity: {cache_threshold: 0.25, balance_abs_threshold: 16, balance_rel_threshold: 1.5, max_blocks_per_replica: 4096}
        max_migrations: 2
        connect_timeout: 3s
        stream_idle_timeout: 90
        request_timeout: 10m
        """
        var configuration = RouterConfiguration()
        configuration.replicas = ["http://10.0.0.4:8080"]
        try configuration.apply(configFile: Data(yaml.utf8), path: "router.yaml")
        try configuration.validate()
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.port == 9000)
        #expect(configuration.policy == .consistentHash)
        #expect(configuration.adminKey == "sesame")
        #expect(configuration.replicas == ["http://10.0.0.4:8080", "http://10.0.0.5:8080/", "http://[fd00::6]:8080"])
        #expect(configuration.discover == [
            DiscoveryTarget(name: "shoal-serve.default.svc.cluster.local", port: 8080, interval: .milliseconds(500)),
            DiscoveryTarget(name: "shoal-big", port: 8081, model: "big", interval: .seconds(60)),
        ])
        #expect(configuration.aliases.map(\.alias) == ["auto", "code"])
        #expect(configuration.aliases.map(\.rules.count) == [2, 1])
        #expect(configuration.health.interval == .milliseconds(1500))
        #expect(configuration.health.timeout == .milliseconds(250))
        #expect(configuration.health.unhealthyThreshold == 4)
        #expect(configuration.health.healthyThreshold == 3)
        #expect(configuration.breaker.failureThreshold == 7)
        #expect(configuration.breaker.openDuration == .seconds(10))
        #expect(configuration.breaker.successThreshold == 1)
        #expect(configuration.retry.maxAttempts == 5)
        #expect(configuration.retry.initialBackoff == .milliseconds(10))
        #expect(configuration.retry.maxBackoff == .seconds(2))
        #expect(configuration.retry.maxTotalTime == .seconds(60))
        #expect(configuration.prefixAffinity.cacheThreshold == 0.25)
        #expect(configuration.prefixAffinity.balanceAbsThreshold == 16)
        #expect(configuration.prefixAffinity.balanceRelThreshold == 1.5)
        #expect(configuration.prefixAffinity.maxBlocksPerReplica == 4096)
        #expect(configuration.maxMigrations == 2)
        #expect(configuration.connectTimeout == .seconds(3))
        #expect(configuration.streamIdleTimeout == .seconds(90))
        #expect(configuration.requestTimeout == .seconds(600))
    }

    @Test func nullAndEmptyFilesChangeNothing() throws {
        for text in ["", "# nothing yet\n", "port: null\nadmin_key: ~\n"] {
            var configuration = RouterConfiguration()
            try configuration.apply(configFile: Data(text.utf8), path: "router.yaml")
            #expect(configuration.port == RouterConfiguration().port)
            #expect(configuration.adminKey == nil)
        }
    }

    @Test func acceptsPrettyPrintedJSON() throws {
        let json = "{\n\t\"port\": 9001,\n\t\"discover\": [\"dns://shoal:8080?model=tiny\"],\n\t\"health\": {\"interval\": 2}\n}\n"
        var configuration = RouterConfiguration()
        try configuration.apply(configFile: Data(json.utf8), path: "router.json")
        #expect(configuration.port == 9001)
        #expect(configuration.discover == [DiscoveryTarget(name: "shoal", port: 8080, model: "tiny")])
        #expect(configuration.health.interval == .seconds(2))
    }

    @Test(arguments: [
        ("port: x", RouterError.Code.invalidConfiguration, "router.yaml:1:7: port: must be an integer, not 'x'"),
        ("port: 8000.5", .invalidConfiguration, "router.yaml:1:7: port: must be an integer, not '8000.5'"),
        ("policy: random", .invalidConfiguration, "router.yaml:1:9: policy: 'random' is not one of prefix-affinity"),
        ("host: h\nhealth:\n  interval: soon", .invalidConfiguration, "router.yaml:3:13: health.interval: must be a duration"),
        ("retry: {max_backoff: -1}", .invalidConfiguration, "router.yaml:1:22: retry.max_backoff: must be a duration"),
        ("helth: {interval: 1}", .invalidConfiguration, "router.yaml:1:1: helth: unknown key (known: host, port"),
        ("retry:\n  max_atempts: 2", .invalidConfiguration, "router.yaml:2:3: retry.max_atempts: unknown key"),
        ("replicas: http://x:80", .invalidConfiguration, "router.yaml:1:11: replicas: must be a list, not 'http://x:80'"),
        ("health: 5", .invalidConfiguration, "router.yaml:1:9: health: must be a mapping, not '5'"),
        ("discover:\n  - http://x:80", .invalidConfiguration, "router.yaml:2:5: discover[0]: 'http://x:80' must start with dns://"),
        ("discover: [dns://x:80?interval=fast]", .invalidConfiguration, "router.yaml:1:12: discover[0]: 'dns://x:80?interval=fast' has interval"),
        ("aliases:\n  auto: [\"*->small\", nonsense]", .invalidRule, "router.yaml:2:22: aliases.auto[1]: rule 'nonsense'"),
        ("- port\n- 8000", .invalidConfiguration, "router.yaml:1:1: the file: must be a mapping, not a list"),
        ("port: [1, 2", .invalidConfiguration, "router.yaml:2:1: malformed YAML: "),
        ("port: 1\nport: 2", .invalidConfiguration, "router.yaml:1:1: key port is given twice"),
        ("aliases:\n  auto: [*->small]", .invalidConfiguration, "router.yaml:2:12: malformed YAML: "),
        (#"{"port": "9000"}"#, .invalidConfiguration, "router.yaml:1:10: port: must be an integer, not '9000'"),
        ("not json", .invalidConfiguration, "router.yaml:1:1: the file: must be a mapping, not 'not json'"),
    ])
    func refusesBadYAMLNamingTheLineAndKey(yaml: String, code: RouterError.Code, message: String) {
        var configuration = RouterConfiguration()
        #expect {
            try configuration.apply(configFile: Data(yaml.utf8), path: "router.yaml")
        } throws: { error in
            guard let error = error as? RouterError else { return false }
            return error.code == code && error.message.hasPrefix(message) && !error.message.contains("\n")
        }
    }

    @Test(arguments: [#"{"port": "x"}"#, #"{"policy": "random"}"#, #"{"aliases": {"auto": ["nonsense"]}}"#, "not json"])
    func refusesBadConfigFiles(json: String) {
        var configuration = RouterConfiguration()
        #expect(throws: RouterError.self) { try configuration.apply(configFile: Data(json.utf8), path: "router.json") }
    }

    @Test(arguments: ["10.0.0.5:8080", "ftp://x:1", "http://", "http://host:1/v1"])
    func refusesBadReplicaURLs(url: String) {
        var configuration = RouterConfiguration()
        configuration.replicas = [url]
        #expect(throws: RouterError.self) { try configuration.validate() }
    }
}
