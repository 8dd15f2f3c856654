"""Agent-skill code, analysed without running it: Python, shell and JavaScript.

Each analyzer parses (Python with :mod:`ast`, shell and JavaScript with
tree-sitter grammars), walks the tree iteratively within node and depth
bounds, and reports what the code would do: the capabilities it uses
(process, network, filesystem reads and writes, environment, external
APIs), the literal hosts it contacts, the environment variables it reads,
its comments (for the instruction scan), and findings for the dangerous
classes (see :mod:`.rules`). Hostile input never raises: a source that does
not parse, or hits a bound, is a finding (fail closed).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from gate.formats.interface import Finding

MAX_SOURCE = 2 * 1024 * 1024
MAX_COMMENTS = 2_000
MAX_COMMENT = 2_000

_EXTENSIONS = {
    ".py": "python",
    ".pyw": "python",
    ".sh": "shell",
    ".bash": "shell",
    ".zsh": "shell",
    ".ksh": "shell",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
}
_INTERPRETERS = {
    "python": "python",
    "python3": "python",
    "python2": "python",
    "sh": "shell",
    "bash": "shell",
    "zsh": "shell",
    "dash": "shell",
    "ksh": "shell",
    "node": "javascript",
    "nodejs": "javascript",
    "deno": "javascript",
    "bun": "javascript",
}


@dataclass
class CodeReport:
    """What one source file does, as far as static analysis can tell."""

    language: str
    findings: list[Finding] = field(default_factory=list)
    capabilities: dict[str, list[str]] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    env_reads: list[str] = field(default_factory=list)
    comments: list[tuple[int, str]] = field(default_factory=list)
    parse_error: str | None = None

    def add(self, code: str, check: str, severity: str, detail: str, path: str, line: int) -> None:
        """Record a finding (at most 500 per file)."""
        if len(self.findings) < 500:
            self.findings.append(Finding(code, check, severity, detail, member=path, data={"line": line}))

    def uses(self, capability: str, evidence: str) -> None:
        """Record a capability with where it is used (at most 50 per capability)."""
        found = self.capabilities.setdefault(capability, [])
        if len(found) < 50 and evidence not in found:
            found.append(evidence[:300])

    def comment(self, line: int, text: str) -> None:
        """Keep a comment or docstring for the instruction scan."""
        if len(self.comments) < MAX_COMMENTS and text.strip():
            self.comments.append((line, text[:MAX_COMMENT]))

    def finish(self, hosts: set[str], env: set[str]) -> CodeReport:
        """Sort and bound the collected hosts and variables."""
        self.hosts = sorted(hosts)[:500]
        self.env_reads = sorted(env)[:500]
        return self


def error_share(root: Any, max_nodes: int) -> float:
    """The share of a tree-sitter tree's bytes covered by ERROR or MISSING nodes."""
    if not root.has_error:
        return 0.0
    size = max(1, root.end_byte - root.start_byte)
    covered = 0
    stack = [root]
    seen = 0
    while stack and seen < max_nodes:
        node = stack.pop()
        seen += 1
        if node.type == "ERROR" or node.is_missing:
            covered += max(1, node.end_byte - node.start_byte)
            continue
        if node.has_error:
            stack.extend(node.children)
    return float(covered) / float(size)


def language_of(path: str, head: bytes) -> str | None:
    """python, shell or javascript, by extension or (for any name) by shebang; None otherwise."""
    if head.startswith(b"#!"):
        line = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
        words = line[2:].split()
        if words:
            program = posixpath.basename(words[0])
            if program == "env" and len(words) > 1:
                rest = [w for w in words[1:] if not w.startswith("-")]
                program = posixpath.basename(rest[0]) if rest else ""
            found = _INTERPRETERS.get(program) or _INTERPRETERS.get(program.rstrip("0123456789."))
            if found:
                return found
    suffix = posixpath.splitext(path.lower())[1]
    return _EXTENSIONS.get(suffix)


def analyse(data: bytes, path: str, language: str) -> CodeReport:
    """Analyse one source file; never raises on hostile input."""
    report = CodeReport(language)
    if len(data) > MAX_SOURCE:
        report.parse_error = f"larger than {MAX_SOURCE} bytes"
        report.add(
            "skill_limits_exceeded",
            f"{language}.too_large",
            "high",
            f"{path} is larger than {MAX_SOURCE} bytes; not analysed.",
            path,
            0,
        )
        return report
    text = data.decode("utf-8", "replace")
    if "\x00" in text:
        report.parse_error = "contains NUL bytes"
        report.add(
            "skill_unparseable",
            f"{language}.nul_bytes",
            "high",
            f"{path} contains NUL bytes: not source code.",
            path,
            0,
        )
        return report
    try:
        if language == "python":
            from gate.formats.skillcode import python

            return python.analyse(text, path, report)
        if language == "shell":
            from gate.formats.skillcode import shell

            return shell.analyse(text, path, report)
        if language == "javascript":
            from gate.formats.skillcode import javascript

            return javascript.analyse(text, path, report)
    except (RecursionError, MemoryError) as exc:
        report.parse_error = f"analysis exhausted a bound ({type(exc).__name__})"
        report.add(
            "skill_limits_exceeded",
            f"{language}.too_deep",
            "high",
            f"{path}: nested too deeply to analyse.",
            path,
            0,
        )
        return report
    report.parse_error = f"unknown language {language!r}"
    report.add(
        "skill_unparseable",
        "code.unknown_language",
        "high",
        f"{path}: no analyzer for {language!r}.",
        path,
        0,
    )
    return report
