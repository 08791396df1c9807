import ArgumentParser
import Foundation
import ShoalGGUF
import ShoalModels
import ShoalTokenizers

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the token ids of a text.")

    @OptionGroup var modelOptions: ModelOptions

    @Flag(help: "Print {\"ids\": [...], \"tokens\": [...]} as JSON.")
    var json = false

    @Argument(help: "The text.")
    var text: String

    func run() throws {
        let (_, tokenizer) = try modelOptions.openTokenizer()
        let ids = tokenizer.encode(text, addSpecial: true, parseSpecial: true)
        if json {
            struct Output: Encodable { var ids: [Int32]; var tokens: [String] }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            let data = try encoder.encode(Output(ids: ids, tokens: ids.map { tokenizer.token(of: $0) ?? "" }))
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}
