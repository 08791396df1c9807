import ArgumentParser
import ShoalCommands

/// `shoal-router`: the router alone (`shoal route` and its options), built without the kernels' CPU flags, so
/// that it runs on a host whose CPU differs from the one that built Shoal.
@main
struct ShoalRouterMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shoal-router", abstract: Route.configuration.abstract, subcommands: [Route.self],
        defaultSubcommand: Route.self)

    static func main() async {
        await parseAndRun { command in RouterProcess.runTasksOnEventLoops(threads: (command as? Route)?.threads ?? 1) }
    }
}
