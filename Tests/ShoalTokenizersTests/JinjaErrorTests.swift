import ShoalTokenizers
import Testing

/// What the interpreter refuses, and how errors name the construct and the line.
struct JinjaErrorTests {
    struct Refusal: Sendable, CustomTestStringConvertible {
        let source: String
        let code: ChatTemplateError.Code
        let message: String
        var testDescription: String { message }
    }

    static let refusals: [Refusal] = [
        Refusal(source: "{% include 'header.jinja' %}", code: .unsupported, message: "unsupported tag 'include' at line 1"),
        Refusal(source: "a\n{% extends 'base.jinja' %}", code: .unsupported, message: "unsupported tag 'extends' at line 2"),
        Refusal(source: "{% block body %}{% endblock %}", code: .unsupported, message: "unsupported tag 'block' at line 1"),
        Refusal(source: "{% import 'm.jinja' as m %}", code: .unsupported, message: "unsupported tag 'import' at line 1"),
        Refusal(source: "{% call m() %}x{% endcall %}", code: .unsupported, message: "unsupported tag 'call' at line 1"),
        Refusal(source: "{% frobnicate %}", code: .unsupported, message: "unsupported tag 'frobnicate' at line 1"),
        Refusal(source: "line 1\nline 2\n{{ x | xyz }}", code: .unsupported, message: "unsupported filter 'xyz' at line 3"),
        Refusal(source: "{% if x is frobbed %}{% endif %}", code: .unsupported, message: "unsupported test 'frobbed' at line 1"),
        Refusal(source: "{% for x in xs recursive %}{% endfor %}", code: .unsupported, message: "unsupported recursive for loop at line 1"),
        Refusal(source: "{{ f(*args) }}", code: .unsupported, message: "unsupported *args/**kwargs in a call at line 1"),
        Refusal(source: "{% if true %}x", code: .syntax, message: "unexpected end of template, expected 'elif' or 'else' or 'endif' at line 1"),
        Refusal(source: "{% for x in xs %}\n{% endif %}", code: .syntax, message: "unexpected tag 'endif' at line 2"),
        Refusal(source: "{{ x ", code: .syntax, message: "missing end of variable tag at line 1"),
        Refusal(source: "\n\n{{ 1 + }}", code: .syntax, message: "expected an expression, got '}}' at line 3"),
        Refusal(source: "{# never closed", code: .syntax, message: "missing end of comment tag at line 1"),
        Refusal(source: "{{ 'unterminated }}", code: .syntax, message: "unterminated string at line 1"),
        Refusal(source: "{{ (1 + 2 }}", code: .syntax, message: "unexpected '}' at line 1"),
        Refusal(source: "{% set = 1 %}", code: .syntax, message: "expected a name, got '=' at line 1"),
        Refusal(source: "{{ a ? b }}", code: .syntax, message: "unexpected character '?' at line 1"),
    ]

    @Test(arguments: Self.refusals)
    func parsingRefuses(_ r: Refusal) {
        let error = #expect(throws: ChatTemplateError.self) { try ChatTemplate(r.source) }
        #expect(error?.code == r.code)
        #expect(error?.message == r.message)
        #expect(error?.description == r.message)
    }

    struct Failure: Sendable, CustomTestStringConvertible {
        let source: String
        let code: ChatTemplateError.Code
        let message: String
        var testDescription: String { message }
    }

    static let failures: [Failure] = [
        Failure(source: "{{ raise_exception('Roles must alternate') }}", code: .raisedException, message: "Roles must alternate"),
        Failure(source: "\n{{ missing + 1 }}", code: .undefined, message: "'missing' is undefined at line 2"),
        Failure(source: "{{ nothing() }}", code: .undefined, message: "'nothing' is undefined at line 1"),
        Failure(source: "{{ -missing }}", code: .undefined, message: "'missing' is undefined at line 1"),
        Failure(source: "{{ missing < 1 }}", code: .undefined, message: "'missing' is undefined at line 1"),
        Failure(source: "{{ 'a' + 1 }}", code: .runtime, message: "unsupported operand type(s) for +: 'str' and 'int' at line 1"),
        Failure(source: "{{ 1 / 0 }}", code: .runtime, message: "division by zero at line 1"),
        Failure(source: "{{ 1 < 'a' }}", code: .runtime, message: "'<' not supported between instances of 'int' and 'str' at line 1"),
        Failure(source: "{% for x in 5 %}{% endfor %}", code: .runtime, message: "'int' object is not iterable at line 1"),
        Failure(source: "{{ none | length }}", code: .runtime, message: "object of type 'NoneType' has no len() at line 1"),
        Failure(source: "{% set x = 1 %}{% set x.y = 2 %}", code: .runtime, message: "cannot assign attribute on non-namespace object 'x' at line 1"),
        Failure(source: "{% break %}", code: .syntax, message: "'break' outside of a loop at line 1"),
        Failure(source: "{{ range(1000000) }}", code: .runtime, message: "range too big (1000000 items, at most 100000) at line 1"),
        Failure(source: "{{ [1].append(2) }}", code: .unsupported, message: "unsupported method 'append' on list at line 1"),
        Failure(source: "{{ {'a': 1}.update({}) }}", code: .unsupported, message: "unsupported method 'update' on dict at line 1"),
        Failure(source: "{{ 'x'.encode() }}", code: .unsupported, message: "unsupported method 'encode' on str at line 1"),
        Failure(source: "{{ '%s' % 1 }}", code: .unsupported, message: "unsupported string formatting with '%' at line 1"),
        Failure(source: "{{ 9223372036854775807 + 1 }}", code: .runtime, message: "integer overflow in + at line 1"),
        Failure(source: "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", code: .runtime, message: "macro 'm' recursed too deeply at line 1"),
        Failure(source: "{{ missing | tojson }}", code: .undefined, message: "'missing' is undefined at line 1"),
        Failure(source: "{{ namespace() | tojson }}", code: .runtime, message: "object of type Namespace is not JSON serializable at line 1"),
        Failure(source: "{% set a, b = [1, 2, 3] %}", code: .runtime, message: "cannot unpack 3 values into 2 names at line 1"),
    ]

    @Test(arguments: Self.failures)
    func renderingFails(_ f: Failure) throws {
        let template = try ChatTemplate(f.source)
        let error = #expect(throws: ChatTemplateError.self) { try template.render([:]) }
        #expect(error?.code == f.code)
        #expect(error?.message == f.message)
    }

    @Test func raisedExceptionCarriesTheTemplatesMessageAndLine() throws {
        let template = try ChatTemplate("{% for m in messages %}\n{% if m.role == 'system' %}\n{{ raise_exception('System role not supported') }}\n{% endif %}\n{% endfor %}")
        let error = #expect(throws: ChatTemplateError.self) {
            try template.render(messages: [["role": "system", "content": "x"]], addGenerationPrompt: true)
        }
        #expect(error?.code == .raisedException)
        #expect(error?.message == "System role not supported")
        #expect(error?.line == 3)
    }

    @Test func undefinedValuesAreEmptyAndFalsy() throws {
        // Like Jinja's default Undefined; attributes of undefined values are undefined too (jinja2 would raise).
        let source = "[{{ missing }}][{{ missing.attr.deeper }}][{{ missing['k'] }}][{{ missing | length }}][{{ 'y' if missing else 'n' }}][{% for x in missing %}x{% endfor %}][{{ m.nope is defined }}]"
        #expect(try ChatTemplate(source).render(["m": ["role": "user"]]) == "[][][][0][n][][False]")
    }

    @Test func errorsAreEquatableAndDescribed() {
        let a = ChatTemplateError(.syntax, "bad", line: 4)
        #expect(a.message == "bad at line 4")
        #expect(a.line == 4)
        #expect(a == ChatTemplateError(.syntax, "bad", line: 4))
        #expect(ChatTemplateError(.raisedException, "msg", line: 2).message == "msg")
        #expect(ChatTemplateError.Code.unsupported.description == "unsupported")
    }
}
