import Foundation
import ShoalGGUF
import ShoalTestSupport

// Writes a synthetic Llama GGUF with random weights, for benchmarks that need more work per step than the
// catalogue models (scripts/bench-parallel's ~1B model): `shoal-synthetic-model --out PATH [--layers 16]
// [--hidden 2048] [--heads 32] [--kv-heads 8] [--feed-forward 8192] [--type q4_0]`. Its vocabulary is the tiny
// byte-level one of the test models, so the output head is negligible and the layers are the work.

var model = TinyModel()
model.layers = 16
model.hidden = 2048
model.heads = 32
model.kvHeads = 8
model.feedForward = 8192
model.contextLength = 4096
model.weightType = .q4_0
model.embeddingType = .q4_0
var out: String?
var arguments = CommandLine.arguments.dropFirst()
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("shoal-synthetic-model: \(message)\n".utf8))
    exit(2)
}
while let flag = arguments.popFirst() {
    guard let value = arguments.popFirst() else { fail("\(flag) needs a value") }
    func int() -> Int {
        guard let n = Int(value), n > 0 else { fail("\(flag) needs a positive integer, got '\(value)'") }
        return n
    }
    switch flag {
    case "--out": out = value
    case "--layers": model.layers = int()
    case "--hidden": model.hidden = int()
    case "--heads": model.heads = int()
    case "--kv-heads": model.kvHeads = int()
    case "--feed-forward": model.feedForward = int()
    case "--seed": model.seed = UInt64(int())
    case "--type":
        switch value {
        case "q4_0": model.weightType = .q4_0
        case "q4_1": model.weightType = .q4_1
        case "q8_0": model.weightType = .q8_0
        default: fail("--type must be q4_0, q4_1 or q8_0")
        }
        model.embeddingType = model.weightType
    default: fail("unknown option \(flag)")
    }
}
guard let out else { fail("--out PATH is required") }
do {
    let partial = out + ".partial"
    try model.writer().write(to: partial)
    try? FileManager.default.removeItem(atPath: out)
    try FileManager.default.moveItem(atPath: partial, toPath: out)
    print(out)
} catch {
    fail("\(error)")
}
