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
