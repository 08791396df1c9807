public import ShoalAPI
public import ShoalEngine
public import ShoalGrammar

extension StructuredOutput {
    /// The engine's constraint for this format, compiled through `compile` (a model's `ConstraintCache`), starting
    /// after the last `resumeTokens` tokens of `prompt`.
    /// - Throws: 400 naming the field when the format cannot be enforced, or when the resumed tokens do not follow it.
    public func outputConstraint(prompt: [Int32], compile: (String) throws(GrammarError) -> CompiledConstraint)
        throws(APIError) -> OutputConstraint
    {
        let compiled: CompiledConstraint
        do {
            compiled = try compile(try format.grammarText())
        } catch {
            throw .invalid(param, "\(param): \(error.message)")
        }
        var constraint = OutputConstraint(compiled)
        guard resumeTokens > 0 else { return constraint }
        guard resumeTokens <= prompt.count else {
            throw .invalid(Self.resumeField, "\(Self.resumeField) (\(resumeTokens)) exceeds the prompt's \(prompt.count) tokens")
        }
        do {
            for token in prompt.suffix(resumeTokens) {
                constraint.state = try compiled.next(constraint.state, token: token)
                if compiled.isDead(constraint.state) { break }
            }
        } catch {
            throw .invalid(param, "\(param): \(error.message)")
        }
        if compiled.isDead(constraint.state) {
            throw .invalid(Self.resumeField, "the prompt's last \(resumeTokens) tokens do not follow the output constraint")
        }
        return constraint
    }
}

