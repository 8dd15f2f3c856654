"""What a skill's licence is: an SPDX expression, a licence file identified by its text, or none.

The ``license`` field of SKILL.md is optional in the Agent Skills
specification. When present it is an SPDX expression (checked with
``license-expression``), or prose that points at a file of the package
(``Proprietary. LICENSE.txt has complete terms``); when absent, a licence
file at the package root (LICENSE, LICENCE, COPYING, with any suffix) speaks
for it. A file is identified by its text with ``licenseclassifier`` (SPDX
identifiers from the licence templates, with a coverage threshold: it
reports nothing rather than guessing). Nothing here decides:
``rego/gate/skills`` judges the kind and identifiers per tier.

Kinds: ``spdx`` (the field is a valid SPDX expression), ``file`` (a licence
file's text was identified), ``unidentified`` (a field or file that names no
known licence), ``none`` (no field and no licence file).
"""

from __future__ import annotations

import functools
import re
from typing import Any

MAX_LICENSE_TEXT = 256 * 1024
_LICENSE_FILE = re.compile(r"^(?:licen[cs]e|copying|unlicense)(?:[._-][\w.-]{0,40})?$", re.I)
_NAMED_FILE = re.compile(r"[\w./-]{0,200}\b(?:licen[cs]e|copying)[\w.-]{0,40}", re.I)


@functools.lru_cache(maxsize=256)
def _identify(text: str) -> tuple[str, ...]:
    from licenseclassifier import identify_license

    ids: list[str] = []
    for result in identify_license(text):
        if result.id not in ids:
            ids.append(result.id)
    return tuple(ids[:20])


def _keys(expression: str) -> list[str]:
    from gate.registry.record import _licensing

    return sorted({str(k) for k in _licensing().license_keys(expression)})[:50]


def _named_file(field: str, texts: dict[str, str]) -> str | None:
    """The package file the field's prose points at (``LICENSE.txt has complete terms``)."""
    by_lower = {path.lower(): path for path in texts}
    for match in _NAMED_FILE.finditer(field):
        token = match.group(0).strip("./").lower()
        if token in by_lower:
            return by_lower[token]
        base = token.rsplit("/", 1)[-1]
        same = [p for p in texts if p.lower().rsplit("/", 1)[-1] == base]
        if len(same) == 1:
            return same[0]
    return None


def _root_file(texts: dict[str, str]) -> str | None:
    found = sorted(p for p in texts if "/" not in p and _LICENSE_FILE.match(p))
    return found[0] if found else None


def _from_file(field: str | None, path: str, text: str) -> dict[str, Any]:
    ids = list(_identify(text[:MAX_LICENSE_TEXT]))
    out: dict[str, Any] = {"field": field, "file": path, "ids": ids}
    if ids:
        return {**out, "kind": "file", "expression": " AND ".join(ids), "problem": None}
    return {
        **out,
        "kind": "unidentified",
        "expression": None,
        "problem": f"the text of {path} matches no known licence",
    }


def license_facts(field: Any, texts: dict[str, str]) -> dict[str, Any]:
    """The licence of a package whose SKILL.md has *field* and whose text files are *texts*."""
    from gate.registry.record import spdx_problem

    field = field.strip()[:512] if isinstance(field, str) and field.strip() else None
    if field is not None:
        problem = spdx_problem(field)
        if problem is None:
            return {
                "kind": "spdx",
                "field": field,
                "expression": field,
                "ids": _keys(field),
                "file": None,
                "problem": None,
            }
        named = _named_file(field, texts)
        if named is not None:
            return _from_file(field, named, texts[named])
        return {
            "kind": "unidentified",
            "field": field,
            "expression": None,
            "ids": [],
            "file": None,
            "problem": f"license {field[:120]!r} is {problem.split(':', 1)[0]}"
            " and names no licence file of the package",
        }
    root = _root_file(texts)
    if root is not None:
        return _from_file(None, root, texts[root])
    return {
        "kind": "none",
        "field": None,
        "expression": None,
        "ids": [],
        "file": None,
        "problem": "SKILL.md has no license field and the package no LICENSE file",
    }
