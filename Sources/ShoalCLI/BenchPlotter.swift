import Foundation

/// Draws a sweep's plots with `scripts/plot-bench` (Python and matplotlib), found next to the checkout the `shoal`
/// binary was built in, in the current directory's `scripts/`, or at `$SHOAL_PLOT_BENCH`.
enum BenchPlotter {
    /// The plot script, if one can be found.
    static func script() -> String? {
        let files = FileManager.default
        if let path = ProcessInfo.processInfo.environment["SHOAL_PLOT_BENCH"], !path.isEmpty {
            return files.fileExists(atPath: path) ? path : nil
        }
        var candidates: [URL] = []
        let executable = URL(fileURLWithPath: (try? files.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .resolvingSymlinksInPath()
        var dir = executable.deletingLastPathComponent()
        while dir.path != "/" && !dir.path.isEmpty {
            candidates.append(dir.appendingPathComponent("scripts/plot-bench"))
            dir = dir.deletingLastPathComponent()
        }
        candidates.append(URL(fileURLWithPath: files.currentDirectoryPath).appendingPathComponent("scripts/plot-bench"))
        return candidates.first { files.fileExists(atPath: $0.path) }?.path
    }

    /// Draws the plots of `sweepFile` into `directory`. Returns nil when they were drawn, else why not and how to
    /// draw them by hand.
    static func draw(sweepFile: String, into directory: String) -> String? {
        let command = "python3 scripts/plot-bench --out \(directory) \(sweepFile)"
        guard let script = script() else {
            return "plots not drawn: scripts/plot-bench not found (set SHOAL_PLOT_BENCH); from a Shoal checkout run: \(command)"
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--out", directory, sweepFile]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.standardError
        do {
            try process.run()
        } catch {
            return "plots not drawn: cannot run python3 (\(error)); with python3 and matplotlib (pip install matplotlib) run: \(command)"
        }
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let reason = message.trimmingCharacters(in: .whitespacesAndNewlines)
            return "plots not drawn: \(reason.isEmpty ? "python3 \(script) exited with \(process.terminationStatus)" : reason)\n"
                + "with python3 and matplotlib (pip install matplotlib) run: python3 \(script) --out \(directory) \(sweepFile)"
        }
        return nil
    }
}
