"""Jinja templates stored in JSON configs (``tokenizer_config.json``'s ``chat_template``).

Transformers renders ``chat_template`` from ``tokenizer_config.json`` (a
string, or a list of ``{"name", "template"}``) and ``chat_template.json``;
other fields that hold ``{{`` or ``{%`` may be templates too. Each is
inspected by :func:`gate.formats.jinja.inspect` (parsed, never rendered);
parse errors count only for fields named ``chat_template``.
"""

from __future__ import annotations

import json
from typing import Any

from gate.formats.interface import Finding

MAX_CONFIG_BYTES = 16 * 1024 * 1024
MAX_STRINGS = 100_000
MAX_DEPTH = 64


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _strings(
    value: Any, path: str, under_template: bool, depth: int, out: list[tuple[str, str, bool]]
) -> None:
    if depth > MAX_DEPTH or len(out) >= MAX_STRINGS:
        return
    if isinstance(value, str):
        out.append((path, value, under_template))
    elif isinstance(value, dict):
        for key, child in value.items():
            named = under_template or key == "chat_template"
            _strings(child, f"{path}.{key}" if path else key, named, depth + 1, out)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            _strings(child, f"{path}[{i}]", under_template, depth + 1, out)


def template_findings(data: bytes) -> list[Finding]:
    """Findings for the templates in one JSON document (nothing if it is not JSON)."""
    from gate.formats import jinja

    if len(data) > MAX_CONFIG_BYTES:
        return []
    try:
        value = json.loads(data, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):
        return []  # the format stage reports JSON that does not parse
    strings: list[tuple[str, str, bool]] = []
    _strings(value, "", False, 0, strings)
    findings: list[Finding] = []
    for where, text, named in strings:
        if not named and "{{" not in text and "{%" not in text:
            continue
        if named and where.endswith(".name"):
            continue  # {"name": "default", "template": "..."}: the name is not a template
        findings.extend(jinja.inspect(text, source=where, report_parse_errors=named))
    return findings
