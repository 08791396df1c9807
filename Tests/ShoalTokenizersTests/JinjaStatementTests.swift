// Expected strings in this file were produced by jinja2 3.1.6 with Hugging Face's chat-template environment.
import Testing
import ShoalTokenizers

/// Whitespace control, loops, scoping, set, macros and blocks, against jinja2.
struct JinjaStatementTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let template: String
        let context: String
        let expected: String
        var testDescription: String { name }
    }

    @Test(arguments: Self.cases)
    func rendersLikeJinja2(_ c: Case) throws {
        guard case .object(let pairs) = try TemplateValue(jsonString: c.context) else {
            Issue.record("context is not an object")
            return
        }
        let context = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        #expect(try ChatTemplate(c.template).render(context, secondsSince1970: 1_721_995_200) == c.expected)
    }

    static let cases: [Case] = [
        Case(name: "ws-trim-blocks", template: "{% if true %}\nyes\n{% endif %}\nafter",
             context: #"{}"#,
             expected: "yes\nafter"),
        Case(name: "ws-lstrip-blocks", template: "  {% if true %}\n  x\n  {% endif %}\n",
             context: #"{}"#,
             expected: "  x\n"),
        Case(name: "ws-lstrip-not-expr", template: "  {{ 'a' }}\n  {% if true %}b{% endif %}",
             context: #"{}"#,
             expected: "  a\nb"),
        Case(name: "ws-minus", template: "a  \n  {%- if true -%}  \n  b  {{- ' c ' -}}  d  {%- endif %}  e",
             context: #"{}"#,
             expected: "ab c d  e"),
        Case(name: "ws-plus", template: "  {%+ if true %}\nx{% endif +%}\ny",
             context: #"{}"#,
             expected: "  x\ny"),
        Case(name: "ws-comment", template: "a\n  {# comment #}\nb {#- c -#}  c",
             context: #"{}"#,
             expected: "a\nbc"),
        Case(name: "ws-trailing-newline", template: "line\n",
             context: #"{}"#,
             expected: "line"),
        Case(name: "ws-two-trailing-newlines", template: "line\n\n",
             context: #"{}"#,
             expected: "line\n"),
        Case(name: "ws-crlf", template: "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc",
             context: #"{}"#,
             expected: "a\nb\nc"),
        Case(name: "ws-for-lines", template: "{% for x in items %}\n  - {{ x }}\n{% endfor %}\n",
             context: #"{"items": [1, 2]}"#,
             expected: "  - 1\n  - 2\n"),
        Case(name: "ws-raw", template: "{% raw %}{{ not }}{% x %}{% endraw %}!",
             context: #"{}"#,
             expected: "{{ not }}{% x %}!"),
        Case(name: "ws-midline-block", template: "a {% if true %}b{% endif %} c\n  d {% if true %}\n e{% endif %}",
             context: #"{}"#,
             expected: "a b c\n  d  e"),
        Case(name: "for-loop-vars", template: "{% for x in items %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }}/{{ loop.previtem }}/{{ loop.nextitem }}/{{ loop.cycle('a', 'b') }}/{{ loop.depth }};{% endfor %}",
             context: #"{"msgs": [{"role": "user", "content": " Hi "}, {"role": "assistant", "content": "Yo", "tool_calls": [{"function": {"name": "f", "arguments": {"b": 1, "a": [1.5, null, true]}}}]}], "d": {"b": 2, "a": 1, "C": 3}, "s": "Hello, World", "n": 7, "f": 2.5, "items": [3, 1, 2], "empty": [], "none": null, "t": true, "names": ["bob", "Alice", "carol", "alice"], "nested": {"x": {"y": {"z": "deep"}}}, "uni": "héllo wörld ß 😀"}"#,
             expected: "1/0/3/2/True/False/3//1/a/1;2/1/2/1/False/False/3/3/2/b/1;3/2/1/0/False/True/3/1//a/1;"),
        Case(name: "for-else", template: "{% for x in empty %}x{% else %}empty{% endfor %}|{% for x in items if x > 5 %}{{ x }}{% else %}none>5{% endfor %}",
             context: #"{"msgs": [{"role": "user", "content": " Hi "}, {"role": "assistant", "content": "Yo", "tool_calls": [{"function": {"name": "f", "arguments": {"b": 1, "a": [1.5, null, true]}}}]}], "d": {"b": 2, "a": 1, "C": 3}, "s": "Hello, World", "n": 7, "f": 2.5, "items": [3, 1, 2], "empty": [], "none": null, "t": true, "names": ["bob", "Alice", "carol", "alice"], "nested": {"x": {"y": {"z": "deep"}}}, "uni": "héllo wörld ß 😀"}"#,
             expected: "empty|none>5"),
        Case(name: "for-filter-loop", template: "{% for x in items if x != 1 %}{{ x }}:{{ loop.index }}/{{ loop.length }}/{{ loop.last }} {% endfor %}",
             context: #"{"msgs": [{"role": "user", "content": " Hi "}, {"role": "assistant", "content": "Yo", "tool_calls": [{"function": {"name": "f", "arguments": {"b": 1, "a": [1.5, null, true]}}}]}], "d": {"b": 2, "a": 1, "C": 3}, "s": "Hello, World", "n": 7, "f": 2.5, "items": [3, 1, 2], "empty": [], "none": null, "t": true, "names": ["bob", "Alice", "carol", "alice"], "nested": {"x": {"y": {"z": "deep"}}}, "uni": "héllo wörld ß 😀"}"#,
             expected: "3:1/2/False 2:2/2/True "),
        Case(name: "for-unpack", template: "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }},{% endfor %}{% for (k, v) in d.items() %}{{ k }}{% endfor %}",
             context: #"{"msgs": [{"role": "user", "content": " Hi "}, {"role": "assistant", "content": "Yo", "tool_calls": [{"function": {"name": "f", "arguments": {"b": 1, "a": [1.5, null, true]}}}]}], "d": {"b": 2, "a": 1, "C": 3}, "s": "Hello, World", "n": 7, "f": 2.5, "items": [3, 1, 2], "empty": [], "none": null, "t": true, "names": ["bob", "Alice", "carol", "alice"], "nested": {"x": {"y": {"z": "deep"}}}, "uni": "héllo wörld ß 😀"}"#,
             expected: "3,7,baC"),
        Case(name: "for-string-dict", template: "{% for c in 'abc' %}{{ c }}.{% endfor %}{% for k in d %}{{ k }}{% endfor %}",
             context: #"{"msgs": [{"role": "user", "content": " Hi "}, {"role": "assistant", "content": "Yo", "tool_calls": [{"function": {"name": "f", "arguments": {"b": 1, "a": [1.5, null, true]}}}]}], "d": {"b": 2, "a": 1, "C": 3}, "s": "Hello, World", "n": 7, "f": 2.5, "items": [3, 1, 2], "empty": [], "none": null, "t": true, "names": ["bob", "Alice", "carol", "alice"], "nested": {"x": {"y": {"z": "deep"}}}, "uni": "héllo wörld ß 😀"}"#,
             expected: "a.b.c.baC"),
        Case(name: "for-nested-loop", template: "{% for a in [1, 2] %}{% for b in [1, 2] %}{{ loop.depth }}{{ a }}{{ b }}{{ loop.index }} {% endfor %}{{ loop.index }}|{% endfor %}",
             context: #"{}"#,
             expected: "1111 1122 1|1211 1222 2|"),
        Case(name: "for-break-continue", template: "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}",
             context: #"{}"#,
             expected: "0134"),
        Case(name: "for-scoping", template: "{% set x = 'outer' %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}",
             context: #"{}"#,
             expected: "outer1outer2outer"),
        Case(name: "for-scoping-if", template: "{% set y = 0 %}{% if true %}{% set y = 5 %}{% endif %}{{ y }}",
             context: #"{}"#,
             expected: "5"),
        Case(name: "namespace", template: "{% set ns = namespace(count=0, found=false, items=[]) %}{% for m in msgs %}{% set ns.count = ns.count + 1 %}{% if m.role == 'assistant' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }} {{ ns.items }}",
             context: #"{"msgs": [{"role": "user", "content": " Hi "}, {"role": "assistant", "content": "Yo", "tool_calls": [{"function": {"name": "f", "arguments": {"b": 1, "a": [1.5, null, true]}}}]}], "d": {"b": 2, "a": 1, "C": 3}, "s": "Hello, World", "n": 7, "f": 2.5, "items": [3, 1, 2], "empty": [], "none": null, "t": true, "names": ["bob", "Alice", "carol", "alice"], "nested": {"x": {"y": {"z": "deep"}}}, "uni": "héllo wörld ß 😀"}"#,
             expected: "2 True []"),
        Case(name: "namespace-empty", template: "{% set ns = namespace() %}{% set ns.x = 3 %}{{ ns.x }}{{ ns.missing }}",
             context: #"{}"#,
             expected: "3"),
        Case(name: "set-tuple", template: "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = 1, 2 %}{{ c }}",
             context: #"{}"#,
             expected: "12(1, 2)"),
        Case(name: "set-block", template: "{% set block %}\n  hello {{ n }}\n{% endset %}[{{ block }}]{% set b2 | upper | trim %} hi {% endset %}[{{ b2 }}]",
             context: #"{"msgs": [{"role": "user", "content": " Hi "}, {"role": "assistant", "content": "Yo", "tool_calls": [{"function": {"name": "f", "arguments": {"b": 1, "a": [1.5, null, true]}}}]}], "d": {"b": 2, "a": 1, "C": 3}, "s": "Hello, World", "n": 7, "f": 2.5, "items": [3, 1, 2], "empty": [], "none": null, "t": true, "names": ["bob", "Alice", "carol", "alice"], "nested": {"x": {"y": {"z": "deep"}}}, "uni": "héllo wörld ß 😀"}"#,
             expected: "[  hello 7\n][HI]"),
        Case(name: "set-overrides-context", template: "{% set msgs = msgs[1:] %}{{ msgs | length }}{% set n = n + 1 %}{{ n }}",
             context: #"{"msgs": [{"role": "user", "content": " Hi "}, {"role": "assistant", "content": "Yo", "tool_calls": [{"function": {"name": "f", "arguments": {"b": 1, "a": [1.5, null, true]}}}]}], "d": {"b": 2, "a": 1, "C": 3}, "s": "Hello, World", "n": 7, "f": 2.5, "items": [3, 1, 2], "empty": [], "none": null, "t": true, "names": ["bob", "Alice", "carol", "alice"], "nested": {"x": {"y": {"z": "deep"}}}, "uni": "héllo wörld ß 😀"}"#,
             expected: "18"),
        Case(name: "if-elif-else", template: "{% for v in [1, 2, 3] %}{% if v == 1 %}one{% elif v == 2 %}two{% else %}other{% endif %},{% endfor %}",
             context: #"{}"#,
             expected: "one,two,other,"),
        Case(name: "macro", template: "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Bob') }} {{ greet('Al', greeting='Hi') }} {{ greet('X', 'Yo') }} [{{ greet() }}]",
             context: #"{}"#,
             expected: "Hello, Bob! Hi, Al! Yo, X! [Hello, !]"),
        Case(name: "macro-recursive", template: "{% macro fact(k) %}{% if k <= 1 %}1{% else %}{{ k * (fact(k - 1) | int) }}{% endif %}{% endmacro %}{{ fact(5) }}",
             context: #"{}"#,
             expected: "120"),
        Case(name: "macro-sees-globals", template: "{% macro m() %}{{ n }}{% endmacro %}{{ m() }}",
             context: #"{"msgs": [{"role": "user", "content": " Hi "}, {"role": "assistant", "content": "Yo", "tool_calls": [{"function": {"name": "f", "arguments": {"b": 1, "a": [1.5, null, true]}}}]}], "d": {"b": 2, "a": 1, "C": 3}, "s": "Hello, World", "n": 7, "f": 2.5, "items": [3, 1, 2], "empty": [], "none": null, "t": true, "names": ["bob", "Alice", "carol", "alice"], "nested": {"x": {"y": {"z": "deep"}}}, "uni": "héllo wörld ß 😀"}"#,
             expected: "7"),
        Case(name: "filter-block", template: "{% filter upper %}hello {{ n }}{% endfilter %}",
             context: #"{"msgs": [{"role": "user", "content": " Hi "}, {"role": "assistant", "content": "Yo", "tool_calls": [{"function": {"name": "f", "arguments": {"b": 1, "a": [1.5, null, true]}}}]}], "d": {"b": 2, "a": 1, "C": 3}, "s": "Hello, World", "n": 7, "f": 2.5, "items": [3, 1, 2], "empty": [], "none": null, "t": true, "names": ["bob", "Alice", "carol", "alice"], "nested": {"x": {"y": {"z": "deep"}}}, "uni": "héllo wörld ß 😀"}"#,
             expected: "HELLO 7"),
        Case(name: "with-block", template: "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]",
             context: #"{}"#,
             expected: "3[]"),
        Case(name: "generation-tag", template: "{% generation %}assistant text{% endgeneration %}",
             context: #"{}"#,
             expected: "assistant text"),
    ]
}
