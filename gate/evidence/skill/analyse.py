"""Every file of a skill package, analysed by what its content is.

- ``SKILL.md`` (and every other Markdown or text document): the instruction
  scan of :mod:`gate.formats.skilltext`; fenced blocks in a shell, Python or
  JavaScript language are analysed as code the agent would run.
- Code, recognised by extension or by shebang whatever the name: the
  analyzers of :mod:`gate.formats.skillcode` (Python through ``ast``, shell
  and JavaScript through tree-sitter); their comments and docstrings get the
  instruction scan too.
- Dependency manifests and lockfiles: :mod:`gate.formats.skilldeps`.
- Anything else is binary: executables, pickles and nested archives are
  findings (``skill_binary_payload``), other assets are hashed and listed.

Nothing here decides: the findings, the capability surface and the
documented names go into the input document for ``rego/gate/skills``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gate.evidence.skill.package import MAX_READ, Package, PackageFile
from gate.formats.interface import BytesBlob, Finding

MAX_FINDINGS = 2_000
MAX_EVIDENCE = 50
"""Evidence strings kept per capability."""

TEXT_SUFFIXES = (
    ".md",
    ".markdown",
    ".txt",
    ".rst",
    ".mdx",
    ".adoc",
    ".html",
    ".htm",
    ".xml",
    ".yaml",
    ".yml",
)
MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx")
BINARY_PAYLOADS = {
    "elf": "an ELF executable",
    "pe": "a Windows executable",
    "macho": "a Mach-O executable",
    "pickle": "a Python pickle (code on load)",
    "pytorch-legacy": "a Python pickle (code on load)",
    "joblib": "a joblib pickle (code on load)",
    "zip": "a nested zip archive",
    "tar": "a nested tar archive",
    "7z": "a nested 7z archive",
    "pytorch-zip": "a PyTorch pickle archive",
}
SECRET_ENV = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|AUTH)", re.I
)


@dataclass
class Analysis:
    """What the files of one package say."""

    findings: list[dict[str, Any]] = field(default_factory=list)
    capabilities: dict[str, list[str]] = field(default_factory=dict)
    hosts: set[str] = field(default_factory=set)
    env_reads: set[str] = field(default_factory=set)
    documented: set[str] = field(default_factory=set)
    files: list[dict[str, Any]] = field(default_factory=list)
    manifests: dict[str, bytes] = field(default_factory=dict)
    skill_md: str | None = None
    commands: list[tuple[str, int, str]] = field(default_factory=list)
    """(document, line, text) of what the instructions may run (code spans, shell fences)."""
    runs: list[dict[str, Any]] = field(default_factory=list)
    """Commands of the instructions that run a file of the package: {path, line, command, target}."""

    def add(self, finding: Finding, path: str) -> None:
        """Record a finding against *path*."""
        if len(self.findings) >= MAX_FINDINGS:
            return
        out = finding.to_json()
        out["path"] = path
        out.pop("member", None)
        line = finding.data.get("line") if finding.data else None
        if isinstance(line, int):
            out["line"] = line
        out.pop("data", None)
        self.findings.append(out)

    def capability(self, kind: str, evidence: str) -> None:
        """Record that the package uses *kind*, with where."""
        found = self.capabilities.setdefault(kind, [])
        if len(found) < MAX_EVIDENCE:
            found.append(evidence[:300])


def _decode(data: bytes) -> str | None:
    """The text of *data*, or None when it is binary (NUL bytes or mostly undecodable)."""
    if b"\x00" in data[:8192]:
        return None
    text = data.decode("utf-8", "replace")
    if data and text.count("\ufffd") > max(8, len(text) // 100):
        return None
    return text


def _code(analysis: Analysis, path: str, language: str, data: bytes, line_offset: int = 0) -> None:
    from gate.formats import skillcode
    from gate.formats.skilltext import TextReport, hidden_unicode, scan_prose

    report = skillcode.analyse(data, path, language)
    fenced = line_offset > 0
    if not fenced:
        hidden = TextReport()
        hidden_unicode(path, list(enumerate(data.decode("utf-8", "replace").split("\n"), start=1)), hidden)
        for finding in hidden.findings:
            analysis.add(finding, path)
    for finding in report.findings:
        if fenced and finding.code in ("skill_unparseable", "skill_limits_exceeded"):
            continue  # a snippet in a document need not be a whole program
        if fenced and finding.check == "shell.privileged_program" and _PREREQUISITE.search(finding.detail):
            continue  # documentation: the system packages a person installs first, by name
        analysis.add(_shift(finding, line_offset), path)
    for kind, evidence in report.capabilities.items():
        for item in evidence:
            if fenced:
                item = _LINE.sub(lambda m: f"line {int(m.group(1)) + line_offset}", item)
            analysis.capability(kind, f"{path}: {item}")
    analysis.hosts.update(report.hosts)
    analysis.env_reads.update(report.env_reads)
    comments = TextReport()
    scan_prose(path, [(line + line_offset, text) for line, text in report.comments], comments, "comment ")
    for finding in comments.findings:
        analysis.add(finding, path)
    analysis.documented.update(comments.names)


_LINE = re.compile(r"\bline (\d{1,9})\b")
_PREREQUISITE = re.compile(
    r": runs sudo (?:apt-get|apt|dnf|yum|zypper|pacman|apk|brew|port) (?:-y |--yes |-q )*"
    r"(?:install|add|-S)(?: (?:-y|--yes|-q|--no-install-recommends|--needed|--noconfirm))*"
    r"(?: [a-z0-9][a-z0-9.+-]{0,80})+$"
)
"""``sudo apt-get install -y poppler-utils`` in a document's shell block: named packages of the system's own
repositories (no path, URL, redirection or pipe), the prerequisites a reader installs."""


def _shift(finding: Finding, offset: int) -> Finding:
    """*finding* of a fenced block, its line (in the data and in the text) counted in the document."""
    if not offset or not finding.data or not isinstance(finding.data.get("line"), int):
        return finding
    data = dict(finding.data)
    data["line"] = data["line"] + offset
    detail = finding.detail
    local = f"{finding.member}:{finding.data['line']}:"
    if finding.member and detail.startswith(local):
        detail = f"{finding.member}:{data['line']}:" + detail[len(local) :]
    return Finding(
        finding.code, finding.check, finding.severity, detail, finding.member, finding.offset, data
    )


def _text(analysis: Analysis, path: str, text: str, markdown: bool) -> None:
    from gate.formats.skilltext import scan_text

    report, runnable = scan_text(path, text, markdown)
    for finding in report.findings:
        analysis.add(finding, path)
    analysis.documented.update(report.names)
    analysis.commands.extend((path, line, command) for line, command in report.commands)
    for language, line, body in runnable:
        _code(analysis, path, language, body.encode("utf-8"), line_offset=line - 1)


def _binary(analysis: Analysis, item: PackageFile) -> str:
    from gate.formats import detect

    assert item.data is not None
    fmt = detect.detect(BytesBlob(item.data))
    if fmt in BINARY_PAYLOADS:
        analysis.add(
            Finding(
                "skill_binary_payload",
                f"skill.binary.{fmt}",
                "high",
                f"{item.path} is {BINARY_PAYLOADS[fmt]}; a skill must ship reviewable source.",
            ),
            item.path,
        )
    return fmt or "binary"


_RUNS = re.compile(
    r"\b(python3?|python2|bash|sh|zsh|dash|node|nodejs|deno|bun)\s+(?:-[\w-]+\s+)*\"?'?([\w][\w./-]{0,255})"
)
_RUN_LANGUAGE = {"python": "python", "python3": "python", "python2": "python", "node": "javascript",
                 "nodejs": "javascript", "deno": "javascript", "bun": "javascript"}  # fmt: skip


def _run_as(texts: list[str], paths: set[str]) -> dict[str, str]:
    """Files of the package that instructions or scripts run with an interpreter: {path: language}.

    ``python tools/helper.txt`` runs a file whatever its name, so such a file
    is analysed as that language too, not only as text.
    """
    found: dict[str, str] = {}
    for text in texts:
        for program, target in _RUNS.findall(text[: 1024 * 1024]):
            path = target.removeprefix("./")
            if path in paths:
                found[path] = _RUN_LANGUAGE.get(program, "shell")
    return found


_CHAIN = re.compile(r"\s*(?:&&|\|\||;|\|)\s*")


def _runs(commands: list[tuple[str, int, str]], paths: set[str]) -> list[dict[str, Any]]:
    """The commands that run a file of the package (``python scripts/x.py``, ``scripts/x.sh``)."""
    from gate.formats.skilltools import MAX_COMMANDS, normalise_command

    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for document, line, text in commands:
        for part in _CHAIN.split(text):
            command = normalise_command(part)
            words = command.split()
            if not words:
                continue
            first = 0
            while first < len(words) - 1 and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", words[first]):
                first += 1  # VAR=value before the program
            candidates = [words[first]]
            if _RUN_LANGUAGE.get(words[first]) or words[first] in ("bash", "sh", "zsh", "uv", "npx"):
                candidates += [w for w in words[first + 1 :] if not w.startswith("-")][:2]
            target = next((w for w in candidates if w in paths), None)
            if target is None or (command, document) in seen:
                continue
            seen.add((command, document))
            out.append({"path": document, "line": line, "command": command, "target": target})
            if len(out) >= MAX_COMMANDS:
                return out
    return out


def analyse(package: Package) -> Analysis:
    """Analyse every file of *package*."""
    from gate.formats import skillcode, skilldeps

    analysis = Analysis()
    texts: list[str] = []
    for item in package.files:
        entry: dict[str, Any] = {"path": item.path, "size": item.size, "sha256": item.sha256}
        analysis.files.append(entry)
        if item.data is None:
            entry["kind"] = "unread"
            analysis.add(
                Finding(
                    "skill_limits_exceeded",
                    "skill.file_too_large",
                    "high",
                    f"{item.path} is {item.size} bytes, over the {MAX_READ} bytes gate analyses.",
                ),
                item.path,
            )
            continue
        lower = item.path.lower()
        if skilldeps.is_manifest(item.path):
            entry["kind"] = "manifest"
            analysis.manifests[item.path] = item.data
            continue
        language = skillcode.language_of(item.path, item.data[:256])
        if language:
            entry["kind"] = "code"
            entry["language"] = language
            analysis.capability("process", f"{item.path}: a {language} script the agent runs")
            _code(analysis, item.path, language, item.data)
            texts.append(item.data.decode("utf-8", "replace"))
            continue
        text = _decode(item.data)
        if text is None:
            entry["kind"] = _binary(analysis, item)
            continue
        entry["kind"] = "text"
        if item.path == "SKILL.md":
            analysis.skill_md = text
        _text(analysis, item.path, text, lower.endswith(MARKDOWN_SUFFIXES))
        texts.append(text)
    by_path = {item.path: item for item in package.files}
    for path, language in _run_as(texts, set(by_path)).items():
        entry = next(e for e in analysis.files if e["path"] == path)
        data = by_path[path].data
        if entry.get("kind") == "text" and data is not None:
            entry["run_as"] = language
            analysis.capability("process", f"{path}: run as {language} by the instructions")
            _code(analysis, path, language, data)
    analysis.runs = _runs(analysis.commands, set(by_path))
    return analysis


def secret_env(names: set[str]) -> list[str]:
    """The environment variables read that look like secrets."""
    return sorted(n for n in names if n != "*" and SECRET_ENV.search(n))
