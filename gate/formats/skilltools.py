"""``allowed-tools`` in SKILL.md, and the commands a skill's instructions run.

The Agent Skills specification writes ``allowed-tools`` as a space-delimited
string; published skills also write it comma-delimited or as a YAML list, and
scope a tool with arguments that contain spaces, colons and wildcards
(``Read Write Bash(python scripts/*.py:*)``,
``Bash(cosign verify --certificate-identity=* nvcr.io/*)``). A separator
inside parentheses never splits a tool.

A scope becomes anchored regular expressions in which only ``*`` is special
(every other metacharacter is escaped): ``git:*`` is the command ``git`` alone or
followed by arguments; anything else matches as written, ``*`` standing for
any text. Rego matches the patterns against the commands the instructions
run (:func:`commands`); nothing here decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_TOOLS = 100
MAX_TOOL = 256
MAX_COMMANDS = 500
MAX_COMMAND = 512

_NAME = re.compile(r"^[A-Za-z][\w.:-]{0,127}$")
_REGEX_SPECIAL = re.compile(r"([\\.+?()|\[\]{}^$])")


@dataclass(frozen=True)
class Tool:
    """One granted tool: ``Bash`` (any use) or ``Bash(git:*)`` (scoped)."""

    raw: str
    name: str
    scope: str | None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"raw": self.raw[:MAX_TOOL], "name": self.name[:128]}
        out["scope"] = None if self.scope is None else self.scope[:MAX_TOOL]
        out["patterns"] = scope_patterns(self.scope) if self.scope is not None else []
        return out


def _split(text: str) -> list[str]:
    """Tokens of *text* split on spaces and commas outside parentheses."""
    out: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        if depth == 0 and (char.isspace() or char == ","):
            if current:
                out.append("".join(current))
                current = []
            continue
        current.append(char)
    if current:
        out.append("".join(current))
    return out


def _tool(token: str) -> Tool:
    token = token.strip()
    open_at = token.find("(")
    if open_at > 0 and token.endswith(")"):
        name = token[:open_at].strip()
        if _NAME.match(name):
            return Tool(token, name, token[open_at + 1 : -1].strip())
    if _NAME.match(token):
        return Tool(token, token, None)
    # Unbalanced or odd: granted under its raw text, so it grants nothing a rule looks for.
    return Tool(token, token, None)


def parse_allowed_tools(value: Any) -> list[Tool] | None:
    """The tools *value* grants (a string or a list of strings), or None when absent or not text."""
    if value is None:
        return None
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, list):
        items = [v for v in value if isinstance(v, str)]
        if len(items) != len(value):
            return None
    else:
        return None
    tools: list[Tool] = []
    for item in items:
        if re.fullmatch(r"\s*[A-Za-z][\w.:-]*\(.*\)\s*", item, re.S) and item.count("(") == 1:
            tools.append(_tool(item))  # one scoped tool per list item, spaces and all
        else:
            tools.extend(_tool(t) for t in _split(item) if t.strip())
        if len(tools) >= MAX_TOOLS:
            break
    return tools[:MAX_TOOLS]


def _regex(glob: str) -> str:
    """An anchored regular expression for *glob*, where only ``*`` (any text) is special."""
    parts = [_REGEX_SPECIAL.sub(r"\\\1", part) for part in glob.split("*")]
    return "^" + ".*".join(parts) + "$"


def scope_patterns(scope: str) -> list[str]:
    """Anchored regular expressions a command must match to fall under *scope* (RE2 and Rust syntax)."""
    scope = normalise_command(scope)
    if scope in ("", "*", ":*"):
        return ["^.*$"]
    if scope.endswith(":*"):
        prefix = scope[:-2].rstrip()
        return [_regex(prefix), _regex(prefix + " *")]
    return [_regex(scope)]


_SPAN = re.compile(r"(?<!`)`([^`\n]{1,512})`(?!`)")
_PROMPT = re.compile(r"^\s*(?:\$|>|#)\s+")


def normalise_command(command: str) -> str:
    """Whitespace collapsed and a leading ``./`` dropped from each word."""
    words = command.split()
    return " ".join(w[2:] if w.startswith("./") and len(w) > 2 else w for w in words)[:MAX_COMMAND]


def shell_lines(text: str, first_line: int) -> list[tuple[int, str]]:
    """Command lines of a fenced shell block: comments and blanks dropped, continuations joined."""
    out: list[tuple[int, str]] = []
    pending = ""
    start = first_line
    for offset, raw in enumerate(text.split("\n")):
        line = _PROMPT.sub("", raw, count=1) if not pending else raw
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if not pending:
            start = first_line + offset
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        out.append((start, pending + stripped))
        pending = ""
    if pending.strip():
        out.append((start, pending))
    return out


def inline_commands(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Inline code spans of prose lines: (line, text)."""
    out: list[tuple[int, str]] = []
    for number, line in lines:
        for match in _SPAN.finditer(line[:8192]):
            out.append((number, match.group(1).strip()))
            if len(out) >= MAX_COMMANDS:
                return out
    return out
