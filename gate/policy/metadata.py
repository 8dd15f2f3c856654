"""METADATA annotations: the single source of every reason code's docs.

A ``# METADATA`` comment block directly above a rule holds YAML. Rules whose
metadata has ``custom.short_name`` define a reason code; gate turns them into
``data.gate.catalog`` (so Rego can build results from them on any engine)
and into the ``gate rules`` catalogue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gate.document import parse_yaml_one
from gate.errors import InputError, PolicyError

SEVERITIES = ("critical", "high", "medium", "low", "info")
MAX_BLOCK_CHARS = 64 * 1024

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_RULE_HEAD = re.compile(r"^([A-Za-z_]\w*)")


@dataclass(frozen=True)
class RuleMeta:
    """What a reason code means, from its rule's METADATA block."""

    short_name: str
    """The reason code."""
    title: str
    """One line a person reads first."""
    description: str
    """Why the rule exists and exactly when it fires."""
    failure_msg: str
    """sprintf template for the result message."""
    solution: str
    """What to do about it."""
    severity: str
    """One of SEVERITIES."""
    collections: tuple[str, ...]
    """Profiles' collections that include the rule."""
    package: str
    """Rego package that defines the rule."""
    rule: str
    """Rule name (e.g. ``deny``)."""
    location: str
    """``file:line`` of the rule head."""
    order: int
    """Position among the annotated rules of its file (gate order)."""

    def as_data(self) -> dict[str, Any]:
        """The JSON object Rego sees in data.gate.catalog."""
        return {
            "short_name": self.short_name,
            "title": self.title,
            "description": self.description,
            "failure_msg": self.failure_msg,
            "solution": self.solution,
            "severity": self.severity,
            "collections": list(self.collections),
            "order": self.order,
        }

    def as_catalog_entry(self) -> dict[str, Any]:
        """The entry ``gate rules -o json`` prints."""
        return {
            "code": self.short_name,
            "title": self.title,
            "description": self.description,
            "solution": self.solution,
            "severity": self.severity,
            "collections": list(self.collections),
            "package": self.package,
            "rule": self.rule,
            "location": self.location,
        }


def _blocks(text: str) -> list[tuple[int, str, int]]:
    """(line of ``# METADATA``, YAML text, line of the annotated statement)."""
    lines = text.splitlines()
    found = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "# METADATA":
            i += 1
            continue
        start = i
        body = []
        i += 1
        while i < len(lines) and lines[i].lstrip().startswith("#"):
            content = lines[i].lstrip()[1:]
            body.append(content[1:] if content.startswith(" ") else content)
            i += 1
        while i < len(lines) and not lines[i].strip():
            i += 1
        found.append((start + 1, "\n".join(body), i + 1))
    return found


def _text_field(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(f"{where}: METADATA needs a non-empty {key!r}")
    return value.strip()


def _statement_extent(lines: list[str], head: int) -> str:
    """The annotated rule's text: from its head to its closing brace."""
    end = head
    if lines[head - 1].rstrip().endswith("{"):
        while end < len(lines) and lines[end].rstrip() != "}":
            end += 1
        end += 1
    return "\n".join(lines[head - 1 : end])


def extract_metadata(path: str, text: str, package: str) -> list[RuleMeta]:
    """Parse the reason-code METADATA blocks of one module.

    Raises PolicyError naming ``file:line`` for invalid YAML, a missing
    field, a bad severity, or a rule whose body never names its own code.
    """
    lines = text.splitlines()
    metas: list[RuleMeta] = []
    for block_line, body, head_line in _blocks(text):
        where = f"{path}:{block_line}"
        if len(body) > MAX_BLOCK_CHARS:
            raise PolicyError(f"{where}: METADATA block larger than {MAX_BLOCK_CHARS} characters")
        try:
            data = parse_yaml_one(where, body.encode("utf-8"))  # a field given twice is refused
        except InputError as exc:
            problem = str(exc).removeprefix(f"{where}: ").removeprefix("not valid YAML: ")
            raise PolicyError(f"{where}: METADATA is not valid YAML: {problem}") from None
        if not isinstance(data, dict):
            raise PolicyError(f"{where}: METADATA must be a YAML mapping")
        if head_line > len(lines):
            raise PolicyError(f"{where}: METADATA is not followed by a rule")
        head = lines[head_line - 1]
        if head.startswith("package "):
            continue
        custom = data.get("custom") or {}
        if not isinstance(custom, dict):
            raise PolicyError(f"{where}: METADATA 'custom' must be a mapping")
        if "short_name" not in custom:
            continue
        metas.append(_rule_meta(data, custom, where, lines, head_line, path, package, len(metas)))
    return metas


def _rule_meta(
    data: dict[str, Any],
    custom: dict[str, Any],
    where: str,
    lines: list[str],
    head_line: int,
    path: str,
    package: str,
    order: int,
) -> RuleMeta:
    code = custom.get("short_name")
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise PolicyError(f"{where}: custom.short_name must be snake_case, got {code!r}")
    severity = custom.get("severity")
    if severity not in SEVERITIES:
        raise PolicyError(
            f"{where}: custom.severity must be one of {', '.join(SEVERITIES)}, got {severity!r}"
        )
    collections = custom.get("collections")
    if (
        not isinstance(collections, list)
        or not collections
        or not all(isinstance(c, str) and c for c in collections)
    ):
        raise PolicyError(f"{where}: custom.collections must be a non-empty list of names")
    rule_match = _RULE_HEAD.match(lines[head_line - 1])
    if rule_match is None:
        raise PolicyError(f"{path}:{head_line}: METADATA is not followed by a rule head")
    extent = _statement_extent(lines, head_line)
    if not re.search(rf'\.{code}\b|"{code}"', extent):
        raise PolicyError(f"{path}:{head_line}: rule annotated as {code!r} never refers to its own code")
    return RuleMeta(
        short_name=code,
        title=_text_field(data, "title", where),
        description=_text_field(data, "description", where),
        failure_msg=_text_field(custom, "failure_msg", where),
        solution=_text_field(custom, "solution", where),
        severity=severity,
        collections=tuple(collections),
        package=package,
        rule=rule_match.group(1),
        location=f"{path}:{head_line}",
        order=order,
    )
