import ShoalTestSupport
import Foundation
import ShoalStore
import Testing

/// A temporary directory with a store root, fake pip commands and hand-made wheels; removed on deinit.
final class StoreSandbox {
    let dir: String
    var root: String { dir + "/models" }
    var wheels: String { dir + "/wheels" }

    static var python: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    init() throws {
        dir = NSTemporaryDirectory() + "shoal-store-test-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: dir + "/wheels", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// A store over this sandbox's root with `SHOAL_PIP` set (or removed), and any other variables.
    func store(pip: String?, extra: [String: String] = [:]) -> ModelStore {
        var env = ProcessInfo.processInfo.environment
        env["SHOAL_PIP"] = pip
        env.merge(extra) { $1 }
        return ModelStore(root: root, environment: env)
    }

    /// Writes an executable shell script into the sandbox's bin directory and returns its path.
    func script(_ name: String, _ body: String) throws -> String {
        let path = dir + "/bin/" + name
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    /// A fake pip: copies `wheels/<package>.whl` into the `-d` directory (what `pip download` leaves behind).
    func copyingPip() throws -> String {
        try script("fake-pip", """
            dir=""; pkg=""
            while [ $# -gt 0 ]; do
              case "$1" in
                -d) dir="$2"; shift 2 ;;
                *) pkg="$1"; shift ;;
              esac
            done
            echo "Collecting $pkg"
            [ -f "\(wheels)/$pkg.whl" ] || { echo "ERROR: No matching distribution found for $pkg" >&2; exit 1; }
            cp "\(wheels)/$pkg.whl" "$dir/$pkg-1.0-py3-none-any.whl"
            echo "Saved $dir/$pkg-1.0-py3-none-any.whl"
            """)
    }

    /// Builds `wheels/<package>.whl`, a deflated zip holding `member` with `bytes`.
    func makeWheel(package: String, member: String, bytes: [UInt8]) throws {
        let python = try #require(Self.python)
        let payload = dir + "/payload-\(package)"
        try Data(bytes).write(to: URL(fileURLWithPath: payload))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            "-c",
            "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED); "
                + "z.writestr('x/METADATA', 'Name: x'); z.write(sys.argv[3], sys.argv[2]); z.close()",
            "\(wheels)/\(package).whl", member, payload,
        ]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
    }

    /// The names in the store root (hidden work directories included).
    func rootContents() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted()
    }
}

/// Random bytes from a seed.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SeededGenerator(seed: seed)
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
}

/// Records lines passed to a progress callback.
final class ProgressLog {
    var lines: [String] = []
    var callback: (String) -> Void { { [self] in lines.append($0) } }
}
