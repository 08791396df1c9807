package import ArgumentParser
package import Foundation
package import Logging

/// `--port-file`: the port a server bound, written once it listens, so that whoever started it with `--port 0`
/// learns where it is without a race for a port picked in advance.
package enum PortFile {
    /// The `onListening` callback of a server started with `--port-file path` (nil: it writes nothing).
    package static func writer(_ path: String?, logger: Logger) -> @Sendable (Int) async -> Void {
        { port in if let path { write(port, to: path, logger: logger) } }
    }

    /// Writes `port` and a newline to `path` atomically (a reader sees the whole number or no file).
    private static func write(_ port: Int, to path: String, logger: Logger) {
        do {
            try Data("\(port)\n".utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            logger.error("cannot write the port file", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }

    /// Checks up front that `path` can be written (its folder exists and is writable, it is not a folder), so a
    /// mistake is one clear error at start-up rather than a log line once the server listens.
    package static func validate(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ValidationError("--port-file \(path) is a directory")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard FileManager.default.isWritableFile(atPath: folder) else {
            throw ValidationError("--port-file \(path): cannot write in \(folder)")
        }
    }

    /// The port in the file at `path`, or nil while there is none (or it does not hold a port).
    package static func read(_ path: String) -> Int? {
        guard let data = FileManager.default.contents(atPath: path),
              let port = Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
              (1...65535).contains(port) else { return nil }
        return port
    }
}
