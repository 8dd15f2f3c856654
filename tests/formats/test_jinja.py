"""Chat-template inspection: real-style benign templates pass, sandbox escapes are caught."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gate.formats import jinja
from gate.formats.interface import BytesBlob

# Benign templates written in the style of widely used model families (Llama 3, Llama 3.1 with
# tools, Mistral, Qwen with tools and namespace(), Gemma, Phi-3, DeepSeek-R1, a training template
# with {% generation %}, loop controls, cycler() and map(attribute=...)).
TEMPLATES = Path(__file__).parent / "data" / "templates"
BENIGN = {p.stem: p.read_text(encoding="utf-8") for p in sorted(TEMPLATES.glob("*.jinja"))}

# CVE-2024-34359 and its relatives: each one must be reported as chat_template_injection.
MALICIOUS = {
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "cve-2024-34359": '{% for x in ().__class__.__base__.__subclasses__() %}{% if "warning" in x.__name__ %}'
    "{{ x()._module.__builtins__['__import__']('os').popen(\"touch /tmp/pwned\") }}{% endif %}{% endfor %}",
    "cycler-init": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "joiner-init": "{{ joiner.__init__.__globals__ }}",
    "lipsum-globals": "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "namespace-init": "{{ namespace.__init__.__globals__.os.system('id') }}",
    "self-context": "{{ self._TemplateReference__context.cycler }}",
    "self-attr": "{{ self.__init__.__globals__ }}",
    "request-chain": "{{ request.application.__globals__.__builtins__.__import__('os') }}",
    "config-items": "{{ config.items() }}",
    "url-for": "{{ url_for.__globals__['current_app'] }}",
    "get-flashed": "{{ get_flashed_messages.__globals__ }}",
    "item-dunder": "{{ messages['__class__'] }}",
    "item-concat": '{{ messages["__cl" ~ "ass__"] }}',
    "item-plus": "{{ messages['__cl' + 'ass__'] }}",
    "attr-filter": "{{ messages|attr('__class__') }}",
    "attr-filter-concat": "{{ messages|attr('__cla' ~ 'ss__')|attr('__mro__') }}",
    "attr-filter-join": "{{ messages|attr(['__', 'class', '__']|join) }}",
    "attr-filter-format": "{{ messages|attr('%sclass%s'|format('__', '__')) }}",
    "attr-filter-percent": "{{ messages|attr('%c%cclass%c%c' % (95, 95, 95, 95)) }}",
    "attr-filter-reverse": "{{ messages|attr('__ssalc__'|reverse) }}",
    "attr-filter-mul": "{{ messages|attr('_' * 2 ~ 'class' ~ '_' * 2) }}",
    "set-var": "{% set u = '_' * 2 %}{% set n = u ~ 'class' ~ u %}{{ messages[n] }}",
    "loop-var": "{% for n in ['__class__'] %}{{ messages|attr(n) }}{% endfor %}",
    "namespace-accumulate": "{% set ns = namespace(s='') %}{% for p in ['__cla', 'ss__'] %}"
    "{% set ns.s = ns.s ~ p %}{% endfor %}{{ messages[ns.s] }}",
    "str-format-method": "{{ '{0}{0}class{0}{0}'.format('_') }}{{ x['{0}{0}class{0}{0}'.format('_')] }}",
    "format-field-attr": "{{ '{0.__class__.__mro__}'.format(messages) }}",
    "join-method": "{{ messages[''.join(['__cla', 'ss__'])] }}",
    "replace": "{{ messages['XXclassXX'|replace('X', '_')] }}",
    "escaped-literal": "{{ messages['\\x5f\\x5fclass\\x5f\\x5f'] }}",
    "slice-literal": "{{ messages['aa__class__'[2:]] }}",
    "char-smuggle": "{% set c = (lipsum|string)[19] %}{{ messages|attr(c ~ c ~ 'class' ~ c ~ c) }}",
    "char-smuggle-item": "{% set c = (x|string|list)[5] %}{{ messages[c ~ c ~ 'globals' ~ c ~ c] }}",
    "dict-keyword": "{{ messages|attr(dict(__class__=1)|first) }}",
    "map-attribute": "{{ messages|map(attribute='__class__')|list }}",
    "selectattr": "{{ messages|selectattr('__class__')|list }}",
    "mro-call": "{{ ''.__class__.mro()[1] }}",
    "mro-plain": "{{ x.mro() }}",
    "builtins-name": "{{ __builtins__ }}",
    "import-name": "{{ __import__('os') }}",
    "os-name": "{{ os.popen('id').read() }}",
    "eval-name": "{{ eval('1+1') }}",
    "popen-attr": "{{ x.popen('id') }}",
    "system-call": "{{ x.system('id') }}",
    "frame-walk": "{% for g in x.gi_frame.f_back.f_globals %}{% endfor %}",
    "import-stmt": "{% import 'os' as os %}",
    "from-import": "{% from 'x.html' import y %}",
    "include": "{% include '/etc/passwd' %}",
    "extends": "{% extends '/etc/passwd' %}",
    "do-ext": "{% do messages.__class__ %}",
    "private-attr": "{{ loop._after }}",
    "lipsum-item": "{{ lipsum['__globals__'] }}",
    "range-attr": "{{ range.__doc__ }}",
    "namespace-smuggle": "{% set ns = namespace(c=cycler) %}{{ ns.c.__init__ }}",
    "dyn-kwargs": "{{ dict(**{'__class__': 1}) }}",
    "set-block": "{% set n %}__class__{% endset %}{{ x[n] }}",
    "set-block-pieces": "{% set n %}{{ '_' }}{{ '_' }}class__{% endset %}{{ x|attr(n) }}",
    "set-block-dynamic": "{% set n %}{{ lipsum|string|first }}{% endset %}{{ x[n ~ n ~ 'class' ~ n ~ n] }}",
    "map-attr-filter": "{{ messages|map('attr', '__class__')|list }}",
    "attr-from-user-data": "{{ messages|attr(messages[0].content) }}",
    "map-attribute-from-user": "{{ messages|map(attribute=messages[-1].content)|list }}",
    "macro-built-name": "{% macro u() %}__{% endmacro %}{{ x[u() ~ 'class' ~ u()] }}",
    # names passed through macro parameters, or taken from the conversation at render time
    "macro-param-attr": "{% macro g(o, n) %}{{ o|attr(n) }}{% endmacro %}"
    "{{ g(cycler, '__' ~ 'init' ~ '__') }}",
    "macro-kwarg-item": "{% macro g(o, n='x') %}{{ o[n] }}{% endmacro %}{{ g(messages, n='__class__') }}",
    "macro-callblock": "{% macro g(n) %}{{ caller()|attr(n) }}{% endmacro %}"
    "{% call g('__cl' ~ 'ass__') %}x{% endcall %}",
    "attr-from-context": "{{ messages|attr(messages[0]['content']) }}",
    "map-attr-variable": "{{ messages|map(attribute=field)|list }}",
    "filter-unpacked-args": "{{ messages|attr(*['__class__']) }}",
    "filter-unpacked-kwargs": "{{ messages|map(**{'attribute': '__class__'})|list }}",
    "groupby-positional": "{{ messages|groupby('__class__') }}",
    "sum-positional": "{{ messages|sum('__class__') }}",
    "sort-positional": "{{ messages|sort(false, false, '__class__') }}",
}


def test_benign_corpus_is_present() -> None:
    assert len(BENIGN) >= 8


@pytest.mark.parametrize("name", sorted(BENIGN))
def test_benign_templates_produce_no_finding(name: str) -> None:
    assert jinja.inspect(BENIGN[name], source="tokenizer.chat_template") == []


@pytest.mark.parametrize("name", sorted(MALICIOUS))
def test_sandbox_escapes_are_reported(name: str) -> None:
    findings = jinja.inspect(MALICIOUS[name], source="tokenizer.chat_template", offset=100)
    codes = {f.code for f in findings}
    assert codes == {"chat_template_injection"}, (name, [f.to_json() for f in findings])
    assert all(f.offset == 100 and f.data["source"] == "tokenizer.chat_template" for f in findings)


def test_escapes_are_critical_and_name_the_check() -> None:
    findings = jinja.inspect(MALICIOUS["cycler-init"])
    checks = {f.check for f in findings}
    assert {"jinja.dunder_attribute", "jinja.gadget_global"} <= checks
    assert all(f.severity == "critical" for f in findings if f.check != "jinja.import_statement")


def test_parse_error_is_an_invalid_header_finding() -> None:
    [finding] = jinja.inspect("{% for x in %}", source="tokenizer.chat_template")
    assert (finding.code, finding.check) == ("invalid_header", "jinja.parse_error")
    assert jinja.inspect("{% for x in %}", report_parse_errors=False) == []


def test_template_is_never_rendered(tmp_path: object) -> None:
    import pathlib

    marker = pathlib.Path(str(tmp_path)) / "rendered"
    src = "{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}"
    assert jinja.inspect(src)
    assert not marker.exists()


def test_standalone_template_file() -> None:
    report = jinja.parse(BytesBlob(MALICIOUS["subclasses"].encode()))
    assert report.format == "jinja" and report.findings
    assert jinja.looks_like(BytesBlob(BENIGN["llama3"].encode()))
    assert not jinja.looks_like(BytesBlob(b"\x80\x04K\x01."))


def test_huge_width_format_is_not_folded() -> None:
    findings = jinja.inspect("{{ x['%999999999s'|format('a')] }}{{ x['{:>999999999}'.format('a')] }}")
    assert all(f.code == "chat_template_injection" for f in findings)


def test_deep_nesting_is_a_finding_not_a_crash() -> None:
    src = "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"
    findings = jinja.inspect(src, source="tokenizer.chat_template")
    assert [f.check for f in findings] == ["jinja.parse_error"]


def test_random_mutations_never_raise() -> None:
    rng = random.Random(6)
    corpus = list(BENIGN.values()) + list(MALICIOUS.values())
    for _ in range(400):
        src = list(rng.choice(corpus))
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(src))
            src[pos] = rng.choice("{}%()[]'\"_.|~ abc\\")
        for finding in jinja.inspect("".join(src)):
            assert finding.code in ("chat_template_injection", "invalid_header")
