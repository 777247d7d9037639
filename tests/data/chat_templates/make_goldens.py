#!/usr/bin/env python3
"""Writes golden_cases.json: extra chat-template cases rendered by the reference Jinja2 configured
exactly as transformers' apply_chat_template configures it (sandboxed, trim_blocks, lstrip_blocks,
loopcontrols, tojson = json.dumps(ensure_ascii=False, ...), raise_exception, strftime_now at the
fixed time 2024-07-26 12:00:00). Run: python3 make_goldens.py (needs python3-jinja2).
Each case: {name, template, vars, expected} or {name, template, vars, error: "Kind: message"}."""
import datetime, json, os, sys
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.exceptions import TemplateError

def raise_exception(message):
    raise TemplateError(message)

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

def render(source, variables):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda f: datetime.datetime(2024, 7, 26, 12, 0, 0).strftime(f)
    return env.from_string(source).render(**variables)

M = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
     {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"}]

CASES = [
    # whitespace control, trim_blocks, lstrip_blocks
    ("trim_blocks", "{% if true %}\nyes\n{% endif %}\nend", {}),
    ("lstrip_blocks", "a\n    {% if true %}\n    b\n    {% endif %}\nc", {}),
    ("lstrip_plus", "a\n    {%+ if true %}b{% endif %}", {}),
    ("trim_plus", "{% if true +%}\nb{% endif %}", {}),
    ("minus_both", "a   \n  {{- 'x' -}}  \n  b", {}),
    ("minus_block", "a \n {%- if true -%} \n b \n {%- endif -%} \n c", {}),
    ("var_no_lstrip", "a\n    {{ 'v' }}\n", {}),
    ("comment_trim", "a\n  {# note #}\nb", {}),
    ("comment_minus", "a  {#- note -#}  b", {}),
    ("raw", "{% raw %}{{ not evaluated }}{% endraw %}", {}),
    ("trailing_newline", "x\n", {}),
    ("two_trailing_newlines", "x\n\n", {}),
    ("crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\n", {}),
    ("unicode_space_lstrip", "a\n\u3000{% if true %}b{% endif %}", {}),
    # expressions and Python semantics
    ("arith", "{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 7 / 2 }} {{ 6 / 3 }}", {}),
    ("float_repr", "{{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 1.5e-7 }} {{ 0.0001 }} {{ 2.0 }} {{ -0.0 }} {{ 1e100 }}", {}),
    ("str_values", "{{ none }} {{ true }} {{ [1, 'a', none, 1.0, {'k': True}] }} {{ (1,) }} {{ ('a', 2) }}", {}),
    ("repr_quotes", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'tab\\tnl\\n', '\u00e9\u65e5'] }}", {}),
    ("concat_tilde", "{{ 'a' ~ 1 ~ none ~ true ~ undefined_var }}", {}),
    ("compare_chain", "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ true == 1 }}", {}),
    ("in_ops", "{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'abc' }} {{ 'x' in undefined_var }}", {}),
    ("cond_expr", "{{ 'y' if true else 'n' }} {{ 'y' if false else 'n' }} [{{ 'y' if false }}]", {}),
    ("and_or_values", "{{ 0 or 'x' }} {{ 1 and 'y' }} {{ '' or [] }} {{ not none }}", {}),
    ("string_literals", "{{ 'a\\nb' }}|{{ \"q\\\"q\" }}|{{ '\\x41\\u00e9\\U0001F999' }}|{{ 'adj' 'acent' }}|{{ '\\d' }}", {}),
    ("numbers", "{{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1.5e3 }}", {}),
    ("slicing", "{{ 'abcdef'[1:4] }} {{ 'abcdef'[::-1] }} {{ 'abcdef'[-2:] }} {{ [1,2,3,4][::2] }} {{ [1,2,3][5:] }} {{ 'h\u00e9llo'[1] }}", {}),
    ("negative_index", "{{ [1, 2, 3][-1] }} {{ 'abc'[-1] }} [{{ [1][5] }}]", {}),
    ("attr_vs_item", "{{ d.items is callable }}|{{ d['items'] }}|{{ d.name }}|{{ d['name'] }}|{{ d.missing }}|{{ d.0 }}", {"d": {"items": 5, "name": "n"}}),
    ("none_attr", "[{{ n.x }}]", {"n": None}),
    ("dict_literal", "{% set d = {'a': 1, 'b': [1, 2]} %}{{ d }} {{ d.a }} {{ d['b'][1] }}", {}),
    # statements
    ("for_loop_vars", "{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ x }};{% endfor %}", {}),
    ("for_prev_next", "{% for x in [1, 2, 3] %}[{{ loop.previtem }}|{{ loop.nextitem }}]{% endfor %}", {}),
    ("for_else", "{% for x in [] %}x{% else %}empty{% endfor %}", {}),
    ("for_filter", "{% for x in range(10) if x is odd %}{{ x }}{{ ',' if not loop.last }}{% endfor %}", {}),
    ("for_break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("for_unpack", "{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}", {}),
    ("for_dict_keys", "{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}", {}),
    ("for_string", "{% for c in 'h\u00e9!' %}[{{ c }}]{% endfor %}", {}),
    ("for_cycle", "{% for x in range(5) %}{{ loop.cycle('a', 'b') }}{% endfor %}", {}),
    ("nested_loops", "{% for a in [1, 2] %}{% for b in [3, 4] %}{{ a }}{{ b }}{{ loop.index }} {% endfor %}{{ loop.index }}|{% endfor %}", {}),
    ("loop_scoping", "{% set x = 5 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}", {}),
    ("if_scoping", "{% if true %}{% set y = 1 %}{% endif %}{{ y }}", {}),
    ("namespace", "{% set ns = namespace(n=0, s='') %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.n }} {{ ns.s }}", {}),
    ("namespace_empty", "{% set ns = namespace() %}{% set ns.index = 0 %}{% set ns.index = ns.index + 1 %}{{ ns.index }}", {}),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}", {}),
    ("set_block", "{% set x %}  hello {{ 1 + 1 }}  {% endset %}[{{ x }}]", {}),
    ("set_block_filter", "{% set x | upper | trim %}  hello  {% endset %}[{{ x }}]", {}),
    ("filter_block", "{% filter upper %}abc{{ 'd' }}{% endfilter %}", {}),
    ("with_block", "{% set a = 1 %}{% with a = 2, b = 3 %}{{ a }}{{ b }}{% endwith %}{{ a }}", {}),
    ("macro_basic", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(punct='.', name='C') }}", {}),
    ("macro_recursive", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% endmacro %}{{ fact(5) }}", {}),
    ("macro_missing_arg", "{% macro m(a, b) %}[{{ a }}|{{ b }}]{% endmacro %}{{ m(1) }}", {}),
    ("macro_sees_globals", "{% set g = 'G' %}{% macro m() %}{{ g }}{{ bos_token }}{% endmacro %}{{ m() }}", {"bos_token": "<s>"}),
    ("macro_result_concat", "{% macro t(x) %}{{ x }}{% endmacro %}{{ 'list[' + t('int') + ']' }}", {}),
    ("call_block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold{% endcall %}", {}),
    ("call_block_args", "{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each([1, 2]) %}<{{ x }}>{% endcall %}", {}),
    # filters
    ("filter_tojson", "{{ v | tojson }}|{{ v | tojson(indent=2) }}|{{ v | tojson(sort_keys=true) }}", {"v": {"b": [1, 2.5, None, True], "a": "\u00e9\"\\\n\t\u0001", "e": [], "o": {}}}),
    ("filter_tojson_indent_string", "{{ [1, {'a': 2}] | tojson(indent='--') }}", {}),
    ("filter_tojson_separators", "{{ {'a': [1, 2]} | tojson(separators=(',', ':')) }}", {}),
    ("filter_tojson_ascii", "{{ '\u00e9\U0001F999' | tojson(ensure_ascii=true) }}", {}),
    ("filter_tojson_floats", "{{ [1.0, 0.1, 1e20, 1e-7, 3] | tojson }}", {}),
    ("filter_strings", "{{ '  x  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ 'aBc' | upper }}|{{ 'aBc' | lower }}|{{ 'hello world' | title }}|{{ 'hELLO' | capitalize }}|{{ 'aaa' | replace('a', 'b', 2) }}", {}),
    ("filter_length", "{{ 'h\u00e9' | length }} {{ [1, 2] | length }} {{ {'a': 1} | count }} {{ undefined_var | length }}", {}),
    ("filter_first_last", "{{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ 'abc' | first }} {{ 'abc' | last }}", {}),
    ("filter_join", "{{ [1, 'a', none] | join(', ') }}|{{ users | join(', ', attribute='name') }}", {"users": [{"name": "x"}, {"name": "y"}]}),
    ("filter_map", "{{ users | map(attribute='name') | list }} {{ ['a', 'b'] | map('upper') | join }} {{ users | map(attribute='age', default=0) | list }}", {"users": [{"name": "x", "age": 3}, {"name": "y"}]}),
    ("filter_select", "{{ [1, 2, 3, 4] | select('odd') | list }} {{ [0, 1, '', 'a'] | select | list }} {{ [1, 2, 3] | reject('equalto', 2) | list }}", {}),
    ("filter_selectattr", "{{ m | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ m | rejectattr('role', 'eq', 'user') | list | length }} {{ m | selectattr('tool') | list }}", {"m": M}),
    ("filter_default", "{{ undefined_var | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ none | d('x') }}", {}),
    ("filter_int_float", "{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '2.5' | float }} {{ 3 | float }} {{ true | int }}", {}),
    ("filter_string_list", "{{ 5 | string }}{{ none | string }} {{ 'ab' | list }} {{ {'a': 1} | list }}", {}),
    ("filter_items", "{% for k, v in {'a': 1, 'b': 2} | items %}{{ k }}{{ v }}{% endfor %}", {}),
    ("filter_dictsort", "{{ {'b': 1, 'A': 2, 'c': 0} | dictsort }} {{ {'b': 1, 'a': 2} | dictsort(by='value') }}", {}),
    ("filter_sort_unique", "{{ [3, 1, 2] | sort }} {{ ['b', 'A', 'c'] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ users | sort(attribute='age') | map(attribute='name') | join }} {{ [1, 2, 1, 3] | unique | list }}", {"users": [{"name": "x", "age": 3}, {"name": "y", "age": 1}]}),
    ("filter_min_max_sum", "{{ [3, 1, 2] | min }} {{ [3, 1, 2] | max }} {{ [1, 2, 3] | sum }} {{ users | sum(attribute='age') }}", {"users": [{"age": 3}, {"age": 1}]}),
    ("filter_reverse_abs_round", "{{ 'abc' | reverse }} {{ [1, 2] | reverse | list }} {{ -3 | abs }} {{ 2.5 | round }} {{ 3.14159 | round(2) }} {{ 2.1 | round(0, 'ceil') }} {{ 7 | round }}", {}),
    ("filter_indent", "{{ 'a\nb\n\nc' | indent(2) }}|{{ 'a\nb' | indent(2, true) }}|{{ 'a\n\nb' | indent(2, blank=true) }}", {}),
    ("filter_escape_safe", "{{ '<a href=\"x\">&\\'' | e }} {{ '<b>' | safe }}", {}),
    ("filter_wordcount_batch", "{{ 'hello big world' | wordcount }} {{ [1, 2, 3, 4, 5] | batch(2) | list }} {{ [1, 2, 3] | batch(2, 0) | list }}", {}),
    # tests
    ("tests_types", "{{ 1 is integer }} {{ 1.0 is float }} {{ true is boolean }} {{ 1 is number }} {{ 's' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ 's' is iterable }} {{ none is none }} {{ x is defined }} {{ x is undefined }}", {}),
    ("tests_values", "{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 2 is eq 2 }} {{ 2 is ne 3 }} {{ 1 is lt 2 }} {{ 3 is ge 3 }} {{ 1 is in [1] }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ false is false }} {{ true is true }} {{ none is sameas none }}", {}),
    ("test_not", "{{ x is not defined }} {{ none is not none }} {{ not x is defined }}", {}),
    ("test_callable", "{{ range is callable }} {{ 's'.upper is callable }} {{ 1 is callable }}", {}),
    # methods
    ("str_methods", "{{ '  a b  '.strip() }}|{{ 'xxaxx'.lstrip('x') }}|{{ 'a\\n\\n'.rstrip('\\n') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}", {}),
    ("str_methods2", "{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'abc'.replace('b', 'B') }} {{ 'abc'.upper() }} {{ 'ABC'.lower() }} {{ 'ab cd'.title() }} {{ 'abc'.find('c') }} {{ 'aaa'.count('a') }} {{ '-'.join(['a', 'b']) }} {{ 'a\\nb'.splitlines() }} {{ '12'.isdigit() }}", {}),
    ("dict_methods", "{{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }} {{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 0) }}", {"d": {"a": 1, "b": 2}}),
    ("list_methods", "{{ [1, 2, 3].index(2) }} {{ [1, 1, 2].count(1) }}", {}),
    ("think_split", "{% set c = m.split('</think>')[-1].lstrip('\\n') %}{{ c }}|{{ m.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}", {"m": "<think>\nreason\n</think>\n\nanswer"}),
    # globals
    ("range_global", "{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ range(5, 0, -2) | list }}", {}),
    ("dict_global", "{{ dict(a=1, b='x') }}", {}),
    ("strftime_now", "{{ strftime_now('%Y-%m-%d %H:%M %d %b %Y %B %A') }}", {}),
    # chat-template shapes
    ("chatml_like", "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}", {"messages": M, "add_generation_prompt": True}),
    ("loop_messages_slice", "{% set loop_messages = messages[1:] %}{% for m in loop_messages %}{{ loop.index0 }}:{{ m['role'] }} {% endfor %}", {"messages": M}),
    ("tool_args_string_or_dict", "{% for a in args %}{% if a is string %}{{ a }}{% else %}{{ a | tojson }}{% endif %};{% endfor %}", {"args": ["{\"x\": 1}", {"x": 1}]}),
    # errors
    ("err_raise_exception", "{{ raise_exception('Custom failure: ' ~ 42) }}", {}),
    ("err_undefined_attr", "{{ missing.attr }}", {}),
    ("err_undefined_add", "{{ missing + 'x' }}", {}),
    ("err_str_plus_int", "{{ 'a' + 1 }}", {}),
    ("err_div_zero", "{{ 1 / 0 }}", {}),
    ("err_unknown_filter", "{{ 1 | nosuchfilter }}", {}),
    ("err_unknown_test", "{{ 1 is nosuchtest }}", {}),
    ("err_syntax_unclosed", "{% if true %}never closed", {}),
    ("err_syntax_unknown_tag", "{% frobnicate %}", {}),
    ("err_syntax_bad_expr", "{{ 1 + }}", {}),
    ("err_syntax_comment", "{# never closed", {}),
    ("err_range_too_big", "{% for i in range(1000000) %}{% endfor %}", {}),
    ("err_not_iterable", "{% for x in 5 %}{% endfor %}", {}),
    ("err_unpack", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
    ("err_namespace_assign", "{% set x = 1 %}{% set x.a = 2 %}", {}),
    ("err_call_undefined", "{{ nothing() }}", {}),
    ("err_mutating_method", "{{ [1].append(2) }}", {}),
]

# The fixture templates with further conversations and variables (reasoning content, null
# content, parallel tool calls, several system messages, odd whitespace, richer tool schemas).
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city.", "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}
SEARCH = {"type": "function", "function": {"name": "search", "description": "Search the web.", "parameters": {"type": "object", "properties": {"q": {"type": "string", "description": "query"}, "n": {"type": "integer", "default": 5}, "tags": {"type": "array", "items": {"type": "string"}}, "mode": {"type": ["string", "null"]}, "kind": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}, "required": ["q"]}}}
CONVERSATIONS = [
    ("null_content", [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": None, "tool_calls": [{"id": "abcdefghi", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]}, {"role": "tool", "tool_call_id": "abcdefghi", "content": "sunny"}], {}),
    ("reasoning", [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "<think>\nplan\n</think>\n\nA1"}, {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "A2", "reasoning_content": "r2"}], {"enable_thinking": False}),
    ("two_calls", [{"role": "user", "content": "Both?"}, {"role": "assistant", "content": "Checking.", "tool_calls": [{"id": "call_aaaaa", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "A"}}}, {"id": "call_bbbbb", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"B\"}"}}]}, {"role": "tool", "tool_call_id": "call_aaaaa", "content": "1"}, {"role": "tool", "tool_call_id": "call_bbbbb", "content": "2"}], {"reasoning_effort": "high", "model_identity": "You are X."}),
    ("multi_system", [{"role": "system", "content": "S1 /no_think"}, {"role": "user", "content": "u"}, {"role": "system", "content": "S2"}, {"role": "user", "content": "u2"}], {"documents": [{"doc_id": 1, "text": "D1"}], "controls": {"citations": True}}),
    ("unicode_ws", [{"role": "user", "content": "\u00a0\u3000lead\ttab\r\nCRLF \u2028 trail \n"}], {"tools_in_user_message": False, "date_string": "1 Jan 2025"}),
    ("thinking_field", [{"role": "user", "content": "x"}, {"role": "assistant", "content": "final", "thinking": "deep"}], {"thinking": True, "builtin_tools": ["browser", "python"]}),
]

def template_cases():
    here = os.path.dirname(os.path.abspath(__file__))
    names = sorted(f for f in os.listdir(here) if f.endswith(".jinja"))
    for t in names:
        for i, (conv_name, messages, extra) in enumerate(CONVERSATIONS):
            variables = dict(extra, messages=messages, bos_token="<s>", eos_token="</s>",
                             add_generation_prompt=i % 3 != 0)
            if i % 2 == 0:
                variables["tools"] = [WEATHER, SEARCH]
            yield {"name": t[:-6].replace("-", "_").replace(".", "_") + "__" + conv_name,
                   "template_file": t, "vars": variables}

def main():
    out = []
    for case in template_cases():
        here = os.path.dirname(os.path.abspath(__file__))
        source = open(os.path.join(here, case["template_file"]), encoding="utf-8").read()
        try:
            case["expected"] = render(source, case["vars"])
        except Exception as e:
            case["error"] = "%s: %s" % (type(e).__name__, e)
        out.append(case)
    for name, source, variables in CASES:
        case = {"name": name, "template": source, "vars": variables}
        try:
            case["expected"] = render(source, variables)
        except Exception as e:  # the reference's error, as "Kind: message"
            case["error"] = "%s: %s" % (type(e).__name__, e)
        out.append(case)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_cases.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"renderer": "jinja2 %s, configured as transformers" % __import__("jinja2").__version__,
                   "cases": out}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote %d cases to %s" % (len(out), path))

if __name__ == "__main__":
    main()
