internal import Foundation

/// A Hugging Face chat template (the Jinja subset real templates use), parsed once and rendered per request.
///
/// Rendering follows `transformers`' `apply_chat_template`: `trim_blocks` and `lstrip_blocks` on, the final
/// newline of the template dropped, `loopcontrols` (`break`/`continue`), `raise_exception(message)`,
/// `strftime_now(format)`, and a `tojson` that keeps key order and non-ASCII text (`json.dumps`).
public struct ChatTemplate: Sendable {
    /// The template text as given.
    public let source: String
    private let nodes: [JinjaNode]

    /// Parses `source`.
    /// - Throws: `ChatTemplateError` with code `.syntax` for malformed Jinja, `.unsupported` for constructs
    ///   this interpreter does not implement (`include`, `extends`, `block`, unknown filters or tests), naming
    ///   the construct and its line.
    public init(_ source: String) throws(ChatTemplateError) {
        self.source = source
        var lexer = JinjaLexer(source)
        var parser = JinjaParser(tokens: try lexer.tokenize())
        nodes = try parser.parseTemplate()
    }

    /// Renders with the given top-level variables.
    /// - Throws: `ChatTemplateError`: `.raisedException` when the template calls `raise_exception` (the
    ///   message is the template's), `.undefined`, `.runtime` or `.unsupported` for failures while rendering.
    public func render(_ context: [String: TemplateValue]) throws(ChatTemplateError) -> String {
        try render(context, secondsSince1970: nil)
    }

    /// Renders a conversation as `apply_chat_template(messages, add_generation_prompt=...)` does.
    ///
    /// The context holds `messages`, `add_generation_prompt`, `bos_token`, `eos_token`, `tools` and
    /// `documents` (both `none` unless `extra` sets them, as in `transformers`), plus everything in `extra`
    /// (for example `tools`, `date_string`, `enable_thinking`). `messages` and `add_generation_prompt` always
    /// come from the arguments.
    /// - Parameters:
    ///   - messages: objects with at least `role` and `content`.
    ///   - addGenerationPrompt: whether to end with the header that starts the assistant's reply.
    /// - Throws: `ChatTemplateError`, as `render(_:)`.
    public func render(
        messages: [TemplateValue], addGenerationPrompt: Bool, bosToken: String = "", eosToken: String = "",
        extra: [String: TemplateValue] = [:]
    ) throws(ChatTemplateError) -> String {
        try render(Self.context(messages: messages, addGenerationPrompt: addGenerationPrompt, bosToken: bosToken,
                                eosToken: eosToken, extra: extra), secondsSince1970: nil)
    }

    /// The variables `render(messages:...)` passes (also used by tests with a fixed clock).
    package static func context(
        messages: [TemplateValue], addGenerationPrompt: Bool, bosToken: String, eosToken: String,
        extra: [String: TemplateValue]
    ) -> [String: TemplateValue] {
        var context: [String: TemplateValue] = ["tools": .null, "documents": .null, "bos_token": .string(bosToken), "eos_token": .string(eosToken)]
        context.merge(extra) { _, new in new }
        context["messages"] = .array(messages)
        context["add_generation_prompt"] = .bool(addGenerationPrompt)
        return context
    }

    /// Renders with `strftime_now` reporting a fixed time (tests).
    package func render(_ context: [String: TemplateValue], secondsSince1970: Double?) throws(ChatTemplateError) -> String {
        let interpreter = JinjaInterpreter(fixedTime: secondsSince1970)
        let scope = JinjaScope(parent: nil)
        for (name, value) in context { scope.set(name, JinjaValue(value)) }
        var out = ""
        do {
            _ = try interpreter.render(nodes, scope: scope, into: &out)
        } catch let error as ChatTemplateError {
            throw error
        } catch {
            throw ChatTemplateError(.runtime, "\(error)")
        }
        return out
    }
}
