import Foundation

/// Runs a command to completion, passing each line of its merged stdout and stderr to a callback.
struct Subprocess {
    struct Result {
        var status: Int32
        /// The last lines of output, for error messages.
        var tail: [String]

        /// The most telling line of the output: the last `ERROR` line, else the last line.
        var summary: String {
            let line = tail.last { $0.contains("ERROR") || $0.contains("Error") } ?? tail.last ?? "no output"
            return line.count > 300 ? String(line.prefix(300)) + "…" : line
        }

        func contains(_ text: String) -> Bool { tail.contains { $0.contains(text) } }
    }

    let executable: String
    let arguments: [String]
    let environment: [String: String]

    /// Finds `name` on the `PATH` in `environment` (or checks it when it contains a slash).
    static func locate(_ name: String, environment: [String: String]) -> String? {
        if name.contains("/") {
            return access(name, X_OK) == 0 ? name : nil
        }
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(name)"
            var info = stat()
            if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return nil
    }

    /// Runs the command.
    /// - Throws: `StoreError.io` when it cannot be started.
    func run(onLine: (String) -> Void) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw StoreError(.io, "cannot run \(executable): \(error.localizedDescription)")
        }
        // The parent's copy of the write end must close, or reading never sees the end of the output.
        try? pipe.fileHandleForWriting.close()

        var tail: [String] = []
        var pending = Data()
        func emit(_ bytes: Data) {
            let line = String(decoding: bytes, as: UTF8.self)
                .split(separator: "\r").last.map(String.init)?
                .trimmingCharacters(in: .whitespaces) ?? ""
            guard !line.isEmpty else { return }
            onLine(line)
            tail.append(line)
            if tail.count > 40 { tail.removeFirst(tail.count - 40) }
        }
        let reader = pipe.fileHandleForReading
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                emit(pending[pending.startIndex..<newline])
                pending.removeSubrange(pending.startIndex...newline)
            }
        }
        if !pending.isEmpty { emit(pending) }
        process.waitUntilExit()
        let status = process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
        return Result(status: status, tail: tail)
    }
}
