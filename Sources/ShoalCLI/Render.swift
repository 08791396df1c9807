import ArgumentParser
import Foundation
import ShoalGGUF
import ShoalModels
import ShoalTokenizers
import ShoalTokenizers

struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the chat-template text for an OpenAI-style messages JSON array.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "A JSON file holding an array of {role, content} messages.")
    var messages: String

    @Flag(name: .customLong("no-generation-prompt"), help: "Leave out the assistant prompt at the end.")
    var noGenerationPrompt = false

    func run() throws {
        let (file, tokenizer) = try modelOptions.openTokenizer()
        guard let source = file.metadata["tokenizer.chat_template"]?.stringValue else {
            throw ValidationError("this model has no chat template (tokenizer.chat_template is missing)")
        }
        guard let data = FileManager.default.contents(atPath: messages) else {
            throw ValidationError("cannot read \(messages)")
        }
        let list = try ChatMessages.parse(data)
        let text = try ChatTemplate(source).render(
            messages: list, addGenerationPrompt: !noGenerationPrompt,
            bosToken: tokenizer.bosID.flatMap { tokenizer.token(of: $0) } ?? "",
            eosToken: tokenizer.eosID.flatMap { tokenizer.token(of: $0) } ?? "")
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
