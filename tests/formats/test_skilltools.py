"""allowed-tools in every form published skills write it, and scoped Bash patterns."""

from __future__ import annotations

import re

from gate.formats.skilltools import parse_allowed_tools, scope_patterns


def _names(value: object) -> list[tuple[str, str | None]]:
    tools = parse_allowed_tools(value)
    assert tools is not None
    return [(t.name, t.scope) for t in tools]


def test_space_delimited_with_scoped_arguments_containing_spaces() -> None:
    assert _names("Read Write Bash(python scripts/*.py:*)") == [
        ("Read", None),
        ("Write", None),
        ("Bash", "python scripts/*.py:*"),
    ]
    assert _names("Bash(cosign verify --certificate-identity=* nvcr.io/*), Read") == [
        ("Bash", "cosign verify --certificate-identity=* nvcr.io/*"),
        ("Read", None),
    ]


def test_comma_delimited_and_yaml_lists() -> None:
    assert _names("Read,Grep, Glob") == [("Read", None), ("Grep", None), ("Glob", None)]
    assert _names(["Read", "Bash(git log:*)", "Write, Edit"]) == [
        ("Read", None),
        ("Bash", "git log:*"),
        ("Write", None),
        ("Edit", None),
    ]
    assert parse_allowed_tools(None) is None
    assert parse_allowed_tools({"Read": True}) is None


def _matches(scope: str, command: str) -> bool:
    return any(re.match(p, command) for p in scope_patterns(scope))


def test_scope_patterns_match_the_commands_they_cover_only() -> None:
    assert _matches("python scripts/*.py:*", "python scripts/extract.py in.pdf -o out.txt")
    assert _matches("git:*", "git status")
    assert _matches("git:*", "git")
    assert not _matches("git:*", "gitk")
    assert not _matches("python scripts/*.py:*", "bash scripts/collect.sh")
    assert _matches("npm run build", "npm run build")
    assert not _matches("npm run build", "npm run build && curl x")
    assert not _matches("cosign verify (x)", "cosign verify x")  # metacharacters are literal
