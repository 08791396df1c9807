public import ArgumentParser

extension AsyncParsableCommand {
    /// What `main` does for Shoal's executables: parses the arguments, shows the chosen command to `prepare`
    /// (on the main thread, before any task starts: the place for process-wide set-up), runs it, and exits with
    /// its error.
    public static func parseAndRun(prepare: @Sendable (any ParsableCommand) -> Void = { _ in }) async {
        do {
            var command = try parseAsRoot()
            prepare(command)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
