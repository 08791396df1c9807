import ArgumentParser
import Foundation
import ShoalAPI
import ShoalEngine
import ShoalGrammar
import ShoalTokenizers

/// `shoal bench constraint`: what structured output costs per token. Compiles a JSON schema against a model's
/// vocabulary and walks a JSON instance of it token by token, timing the token mask at every step: once cold (a new
/// compiled constraint, every mask computed from the automaton) and once warm (the masks cached, as for every
/// request after the first with the same schema).
struct BenchConstraint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "constraint",
        abstract: "Time the token masks of a JSON schema over the model's vocabulary (cold and cached).")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "A JSON schema file (default: a nested object with strings, integers, an enum and an array).")
    var schema: String?

    @Option(help: "A JSON instance of the schema to walk (default: one for the default schema).")
    var instance: String?

    @Option(help: "Cold walks, each with a newly compiled constraint (the median of their times is reported).")
    var repetitions = 3

    @Flag(help: "Print the report as JSON.")
    var json = false

    static let defaultSchema = #"""
        {"type": "object", "properties": {
          "name": {"type": "string", "maxLength": 40},
          "age": {"type": "integer", "minimum": 0, "maximum": 130},
          "role": {"enum": ["admin", "user", "guest"]},
          "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
          "address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                      "required": ["city"]}},
         "required": ["name", "age", "role", "tags", "address"]}
        """#
    static let defaultInstance = #"""
        {"name": "Ada Lovelace", "age": 36, "role": "admin", "tags": ["math", "engines", "poetry"], "address": {"city": "London", "zip": "W1"}}
        """#

    struct Report: Encodable {
        var vocabularySize: Int
        var tokens: Int
        var coldMedianMicroseconds: Double
        var coldP99Microseconds: Double
        var warmMedianMicroseconds: Double
        var warmP99Microseconds: Double
        var compileMilliseconds: Double
        var automatonStates: Int
    }

    func run() throws {
        let (_, tokenizer) = try modelOptions.openTokenizer()
        let schemaText = try schema.map { try String(contentsOfFile: $0, encoding: .utf8) } ?? Self.defaultSchema
        let instanceText = try instance.map { try String(contentsOfFile: $0, encoding: .utf8) } ?? Self.defaultInstance
        let grammar = try JSONSchemaGrammar.gbnf(schemaJSON: schemaText)
        let ids = tokenizer.encode(instanceText.trimmingCharacters(in: .whitespacesAndNewlines), addSpecial: false, parseSpecial: false)
        let clock = ContinuousClock()

        var cold: [[Double]] = []
        var compileTimes: [Double] = []
        var compiled: CompiledConstraint?
        for _ in 0..<max(1, repetitions) {
            let start = clock.now
            let cache = ConstraintCache(tokenizer: tokenizer)
            let constraint = try cache.compile(grammar)
            compileTimes.append((clock.now - start).seconds * 1000)
            cold.append(try walk(constraint, ids, tokenizer, clock))
            compiled = constraint
        }
        let warm = try walk(compiled!, ids, tokenizer, clock)
        let coldSteps = (0..<ids.count).map { step in median(cold.map { $0[step] }) }
        let report = Report(
            vocabularySize: tokenizer.vocabularySize, tokens: ids.count,
            coldMedianMicroseconds: median(coldSteps), coldP99Microseconds: percentile(coldSteps, 0.99),
            warmMedianMicroseconds: median(warm), warmP99Microseconds: percentile(warm, 0.99),
            compileMilliseconds: median(compileTimes), automatonStates: compiled!.stateCount)
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("vocabulary \(report.vocabularySize) tokens; instance \(report.tokens) tokens; compile (vocabulary read included) \(String(format: "%.1f", report.compileMilliseconds)) ms")
            print(String(format: "mask per token, cold:   median %.1f us, p99 %.1f us", report.coldMedianMicroseconds, report.coldP99Microseconds))
            print(String(format: "mask per token, cached: median %.1f us, p99 %.1f us", report.warmMedianMicroseconds, report.warmP99Microseconds))
            print("automaton states: \(report.automatonStates)")
        }
    }

    /// Microseconds of each step's mask along the instance's tokens.
    private func walk(_ constraint: CompiledConstraint, _ ids: [Int32], _ tokenizer: any Tokenizer,
                      _ clock: ContinuousClock) throws -> [Double] {
        var state = constraint.initialState
        var times: [Double] = []
        for (i, id) in ids.enumerated() {
            let start = clock.now
            let mask = try constraint.allowedTokens(in: state)
            times.append((clock.now - start).seconds * 1e6)
            guard mask[Int(id) / 64] >> UInt64(Int(id) % 64) & 1 == 1 else {
                throw ValidationError("the instance leaves the schema's grammar at token \(i) (\(tokenizer.token(of: id) ?? "?"))")
            }
            state = try constraint.next(state, token: id)
        }
        return times
    }

    private func median(_ values: [Double]) -> Double { percentile(values, 0.5) }

    private func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }
}
