import ShoalServer
import Testing

@Suite struct ServerConfigurationTests {
    @Test func defaultsAreLocalAndValid() throws {
        let configuration = ServerConfiguration()
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8080)
        #expect(configuration.apiKeys.isEmpty)
        #expect(configuration.maxBodyBytes == 8 << 20)
        try configuration.validate()
    }

    @Test(arguments: [
        (ServerConfiguration(host: ""), "host"),
        (ServerConfiguration(port: 70_000), "port"),
        (ServerConfiguration(apiKeys: ["ok", ""]), "apiKeys"),
        (ServerConfiguration(apiKeys: ["has space"]), "apiKeys"),
        (ServerConfiguration(maxBodyBytes: 0), "maxBodyBytes"),
        (ServerConfiguration(healthStepDeadline: .zero), "healthStepDeadline"),
        (ServerConfiguration(shutdownTimeout: .seconds(-1)), "shutdownTimeout"),
        (ServerConfiguration(retryAfterSeconds: -1), "retryAfterSeconds"),
    ])
    func invalidValuesNameTheSetting(configuration: ServerConfiguration, setting: String) {
        let error = #expect(throws: ServerConfigurationError.self) { try configuration.validate() }
        #expect(error?.setting == setting)
        #expect(error?.message.hasPrefix(setting) == true)
    }
}
