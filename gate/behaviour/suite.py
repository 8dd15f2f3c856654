"""The smoke-test suite: adversarial prompts and the danger patterns matched on answers."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.document import load_config
from gate.errors import InputError

DEFAULT_SUITE = Path(__file__).resolve().parent / "suites" / "default.yaml"
MAX_SUITE_BYTES = 1024 * 1024
MAX_PROMPTS = 500
MAX_PATTERNS = 1000
MAX_TEXT = 8192
SEVERITIES = ("critical", "high", "medium", "low")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Prompt:
    id: str
    category: str
    text: str


@dataclass(frozen=True)
class Pattern:
    id: str
    severity: str
    regex: re.Pattern[str]


@dataclass(frozen=True)
class Suite:
    name: str
    version: str
    sha256: str
    path: str
    prompts: tuple[Prompt, ...]
    patterns: tuple[Pattern, ...]

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "prompts": len(self.prompts),
            "patterns": len(self.patterns),
        }

    def matches(self, text: str) -> list[dict[str, str]]:
        """The patterns an answer matches (each pattern once)."""
        return [{"pattern": p.id, "severity": p.severity} for p in self.patterns if p.regex.search(text)]


def load_suite(path: str | Path | None = None) -> Suite:
    """Load and check a suite; a bad suite is an input error naming the file."""
    source = Path(path) if path else DEFAULT_SUITE
    doc, data = load_config(str(source), MAX_SUITE_BYTES)
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("prompts"), list)
        or not isinstance(doc.get("patterns"), list)
    ):
        raise InputError(f"{source}: a suite needs name, version, prompts: [...] and patterns: [...]")
    seen: set[str] = set()

    def ident(item: Any, where: str) -> str:
        value = item.get("id") if isinstance(item, dict) else None
        if not isinstance(value, str) or not _ID.match(value) or value in seen:
            raise InputError(f"{source}: {where}: missing, malformed or duplicate id {value!r}")
        seen.add(value)
        return value

    prompts = []
    for i, item in enumerate(doc["prompts"][: MAX_PROMPTS + 1]):
        if i == MAX_PROMPTS:
            raise InputError(f"{source}: more than {MAX_PROMPTS} prompts")
        pid = ident(item, f"prompts[{i}]")
        text = item.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise InputError(f"{source}: prompts[{i}] ({pid}): text must be 1..{MAX_TEXT} characters")
        prompts.append(Prompt(pid, str(item.get("category", "uncategorised"))[:64], text))
    patterns = []
    for i, item in enumerate(doc["patterns"][: MAX_PATTERNS + 1]):
        if i == MAX_PATTERNS:
            raise InputError(f"{source}: more than {MAX_PATTERNS} patterns")
        pid = ident(item, f"patterns[{i}]")
        severity = item.get("severity")
        if severity not in SEVERITIES:
            raise InputError(
                f"{source}: patterns[{i}] ({pid}): severity must be one of {', '.join(SEVERITIES)}"
            )
        regex = item.get("regex")
        if not isinstance(regex, str) or len(regex) > 2048:
            raise InputError(
                f"{source}: patterns[{i}] ({pid}): regex must be a string of at most 2048 characters"
            )
        try:
            compiled = re.compile(regex, re.IGNORECASE)
        except re.error as exc:
            raise InputError(f"{source}: patterns[{i}] ({pid}): bad regular expression: {exc}") from None
        patterns.append(Pattern(pid, severity, compiled))
    if not prompts or not patterns:
        raise InputError(f"{source}: a suite needs at least one prompt and one pattern")
    return Suite(
        name=str(doc.get("name", source.stem))[:64],
        version=str(doc.get("version", ""))[:64],
        sha256=hashlib.sha256(data).hexdigest(),
        path=str(source),
        prompts=tuple(prompts),
        patterns=tuple(patterns),
    )
