import ShoalCommands
import ShoalAPI
import ArgumentParser

@main
struct Shoal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shoal",
        abstract: "Shoal: a distributed LLM inference server for CPUs.",
        version: ShoalVersion.string,
        subcommands: [Serve.self, Route.self, Generate.self, Pull.self, Tokenize.self, Render.self, Bench.self, Worker.self]
    )

    static func main() async {
        ParentWatch.startIfChild()
        await parseAndRun { command in
            if let route = command as? Route { RouterProcess.runTasksOnEventLoops(threads: route.threads) }
        }
    }
}
