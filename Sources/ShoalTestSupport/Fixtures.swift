public import Foundation

/// The reference fixtures committed under `Tests/Fixtures`, and the real model files tests may use.
public enum Fixtures {
    /// `Tests/Fixtures` of this repository.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Tests/Fixtures")

    /// A fixture file's URL, e.g. `url("smollm2/tokenizer_cases.json")`.
    public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// A fixture file's contents.
    public static func data(_ relative: String) throws -> Data { try Data(contentsOf: url(relative)) }

    /// A JSON fixture decoded as `T`.
    public static func decode<T: Decodable>(_ type: T.Type, _ relative: String) throws -> T {
        try JSONDecoder().decode(T.self, from: data(relative))
    }

    /// A little-endian float32 array (the logits `.bin` files).
    public static func floats(_ relative: String) throws -> [Float] {
        let bytes = try data(relative)
        return bytes.withUnsafeBytes { raw in
            (0..<bytes.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }
}

/// Real model files used by the fixture tests: `$SHOAL_TEST_MODEL_DIR` (default `~/.cache/shoal/models`).
///
/// A test that needs one is skipped when the file is missing, unless `SHOAL_REQUIRE_MODELS=1`
/// (CI sets it), in which case it runs and fails.
public enum RealModel {
    public static let smolLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"
    public static let gemma3 = "gemma-3-270m-q4_k_m.gguf"

    public static var directory: String {
        if let dir = ProcessInfo.processInfo.environment["SHOAL_TEST_MODEL_DIR"], !dir.isEmpty { return dir }
        return NSHomeDirectory() + "/.cache/shoal/models"
    }

    public static func path(_ file: String) -> String { directory + "/" + file }

    /// Whether tests of `file` should run: the file is there, or CI demands it.
    public static func shouldTest(_ file: String) -> Bool {
        ProcessInfo.processInfo.environment["SHOAL_REQUIRE_MODELS"] == "1"
            || FileManager.default.fileExists(atPath: path(file))
    }
}
