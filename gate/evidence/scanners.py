"""External second-opinion scanners: modelscan, fickling, modelaudit (models), skill-scanner (skills).

Each runs as a subprocess: argv built from a fixed table (never a shell,
never a user-supplied program), its own session so a timeout kills the whole
process group, stdout/stderr and the JSON report written to files in a
private temporary folder and read back with size caps. The collector records
the version, argv (also in ``collection.executed_commands``), exit code, and
the issues normalised to ``{severity, detail, path}``; a crash, a timeout,
an unexpected exit code or output that is not the tool's JSON is recorded
as ``error`` (the policy's ``scanner_error``: the profile's ``scanners.error``
decides whether it blocks). A scanner runs only on the files in a format it
supports (``Tool.formats``); with none it records ``skipped``. A scanner that
is not installed is recorded as such; the profile decides what that means.

Scanners are looked up on PATH, then beside the running Python (the same
virtualenv as gate).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.evidence.artifact import text
from gate.evidence.interface import Collection

MAX_REPORT_BYTES = 16 * 1024 * 1024
MAX_STREAM_BYTES = 64 * 1024
MAX_ISSUES = 10_000
VERSION_TIMEOUT = 30.0
PICKLE_FORMATS = frozenset({"pickle", "pytorch-legacy", "pytorch-zip", "pytorch-tar", "joblib"})
MODELSCAN_FORMATS = frozenset(
    {"pickle", "pytorch-legacy", "pytorch-zip", "joblib", "npy", "npz", "keras", "hdf5"}
)
"""What modelscan 0.8 has scanners for (its pickle, NumPy, PyTorch, H5 and Keras scanners)."""
FICKLING_FORMATS = frozenset({"pickle"})
"""fickling 0.1 reads one plain pickle stream: PyTorch checkpoints stop it (PERSID), joblib's
in-stream arrays look like invalid opcodes to it, legacy checkpoints print several reports."""

# Telemetry off, colours off: the scanners' output is data.
_ENV = {"NO_COLOR": "1", "TERM": "dumb", "DO_NOT_TRACK": "1", "PROMPTFOO_DISABLE_TELEMETRY": "1"}
_FICKLING_SEVERITY = {
    "LIKELY_SAFE": "low",
    "POSSIBLY_UNSAFE": "medium",
    "SUSPICIOUS": "medium",
    "LIKELY_UNSAFE": "high",
    "LIKELY_OVERTLY_MALICIOUS": "critical",
    "OVERTLY_MALICIOUS": "critical",
}
_MODELAUDIT_SEVERITY = {
    "critical": "critical",
    "error": "high",
    "warning": "medium",
    "info": "low",
    "debug": "low",
}


class ScanError(Exception):
    """The scanner ran but its result cannot be used."""


@dataclass(frozen=True)
class Tool:
    """How to run one scanner and read its report."""

    name: str
    argv: Callable[[str, str, str], list[str]]
    """(executable, target path, report path) -> argv."""
    ok_exits: frozenset[int]
    parse: Callable[[Any, str], list[dict[str, str]]]
    """(report JSON, target) -> issues; raises ScanError for unusable reports."""
    formats: frozenset[str] | None = None
    """The formats (gate's, decided by content) it supports: it runs once per file of these
    formats, and not at all when there is none. ``None``: once over the whole artifact."""


def _modelscan(report: Any, target: str) -> list[dict[str, str]]:
    if not isinstance(report, dict) or not isinstance(report.get("issues"), list):
        raise ScanError("report has no issues list")
    errors = report.get("errors") or []
    if errors:
        raise ScanError(f"modelscan reported errors: {json.dumps(errors)[:500]}")
    return [
        {
            "severity": str(i.get("severity", "unknown")).lower(),
            "detail": str(i.get("description", "")),
            "path": str(i.get("source", target)),
        }
        for i in report["issues"]
        if isinstance(i, dict)
    ]


def _fickling(report: Any, target: str) -> list[dict[str, str]]:
    if not isinstance(report, dict) or not isinstance(report.get("severity"), str):
        raise ScanError("report has no severity")
    severity = _FICKLING_SEVERITY.get(report["severity"])
    if severity is None:
        raise ScanError(f"unknown fickling severity {report['severity']!r}")
    if severity == "low":
        return []
    return [
        {
            "severity": severity,
            "detail": f"{report['severity']}: {report.get('analysis', '')}",
            "path": target,
        }
    ]


def _modelaudit(report: Any, target: str) -> list[dict[str, str]]:
    if not isinstance(report, dict) or not isinstance(report.get("issues"), list):
        raise ScanError("report has no issues list")
    if report.get("has_errors"):
        raise ScanError("modelaudit reported operational errors")
    issues = []
    for issue in report["issues"]:
        if not isinstance(issue, dict):
            continue
        severity = _MODELAUDIT_SEVERITY.get(str(issue.get("severity", "")).lower(), "high")
        issues.append(
            {
                "severity": severity,
                "detail": str(issue.get("message", "")),
                "path": str(issue.get("location", target)),
            }
        )
    return issues


_SKILL_SEVERITY = {
    "critical": "critical",
    "high": "high",
    "medium": "medium",
    "low": "low",
    "info": "low",
    "safe": "low",
}


def _skill_scanner(report: Any, target: str) -> list[dict[str, str]]:
    if not isinstance(report, dict) or not isinstance(report.get("findings"), list):
        raise ScanError("report has no findings list")
    issues = []
    for finding in report["findings"]:
        if not isinstance(finding, dict):
            continue
        severity = _SKILL_SEVERITY.get(str(finding.get("severity", "")).lower(), "high")
        line = finding.get("line_number")
        where = str(finding.get("file_path") or target) + (f":{line}" if isinstance(line, int) else "")
        issues.append(
            {
                "severity": severity,
                "detail": f"{finding.get('rule_id', '?')}: {finding.get('title', '')}",
                "path": where,
            }
        )
    return issues


TOOLS = {
    "modelscan": Tool(
        "modelscan",
        lambda exe, t, out: [exe, "-p", t, "-r", "json", "-o", out],
        frozenset({0, 1, 3}),
        _modelscan,
        formats=MODELSCAN_FORMATS,
    ),
    "fickling": Tool(
        "fickling",
        lambda exe, t, out: [exe, "--check-safety", "--json-output", out, t],
        frozenset({0, 1}),
        _fickling,
        formats=FICKLING_FORMATS,
    ),
    "modelaudit": Tool(
        "modelaudit",
        lambda exe, t, out: [exe, "scan", "--format", "json", "--output", out, t],
        frozenset({0, 1}),
        _modelaudit,
    ),
    # cisco-ai-skill-scanner: static analyzers only (no --use-llm, no --use-virustotal: nothing leaves)
    "skill-scanner": Tool(
        "skill-scanner",
        lambda exe, t, out: [exe, "scan", t, "--format", "json", "--output-json", out],
        frozenset({0}),
        _skill_scanner,
    ),
}


def find(name: str) -> str | None:
    """The scanner's executable: on PATH, or beside the running Python."""
    found = shutil.which(name)
    if found:
        return found
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def run_bounded(argv: list[str], timeout: float, workdir: Path) -> tuple[int | None, str]:
    """Run *argv* (no shell, its own session, dies with gate: gate.procs) in *workdir*;
    (exit code or None on timeout, the last MAX_STREAM_BYTES of stderr, else of stdout)."""
    from gate import procs

    done = procs.run(
        argv,
        timeout=timeout,
        cwd=workdir,
        env={**os.environ, **_ENV},
        stdout_cap=MAX_STREAM_BYTES,
        stderr_cap=MAX_STREAM_BYTES,
    )
    err = done.stderr.decode("utf-8", "replace").strip()
    return done.code, err or done.stdout.decode("utf-8", "replace").strip()


def _version(exe: str, workdir: Path) -> str:
    from gate import procs

    try:
        done = procs.run([exe, "--version"], timeout=VERSION_TIMEOUT, cwd=workdir, env={**os.environ, **_ENV})
    except OSError:
        return ""
    code = done.code
    output = (done.stdout[-MAX_STREAM_BYTES:] + b" " + done.stderr).decode("utf-8", "replace")
    match = re.search(r"\d+(?:\.\d+)+\S*", output)
    return match.group(0)[:256] if code == 0 and match else ""


def _read_report(path: Path) -> Any:
    try:
        size = path.stat().st_size
    except OSError:
        raise ScanError("wrote no JSON report") from None
    if size > MAX_REPORT_BYTES:
        raise ScanError(f"report larger than {MAX_REPORT_BYTES} bytes")
    try:
        return json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScanError(f"report is not JSON: {exc}") from None


def _targets(tool: Tool, path: str, artifact: dict[str, Any]) -> list[str]:
    """Where *tool* runs: the artifact, or each file in a format it supports."""
    if tool.formats is None:
        return [path]
    files = [f for f in artifact.get("files", []) if f.get("format") in tool.formats]
    if artifact.get("kind") == "file":
        return [path] if files else []
    return [str(Path(path) / f["path"]) for f in files]


def _run_target(
    tool: Tool, exe: str, target: str, timeout: float, workdir: Path, record: dict[str, Any]
) -> tuple[list[dict[str, str]], str]:
    """One run on one target: (issues, "") or ([], why it cannot be used)."""
    name = tool.name
    report = workdir / "report.json"
    report.unlink(missing_ok=True)
    argv = tool.argv(exe, target, str(report))
    record["argv"] = [text(a, 4096) for a in argv]
    try:
        code, stderr = run_bounded(argv, timeout, workdir)
    except OSError as exc:
        return [], f"{name} could not start: {exc}"
    if code is None:
        record["timed_out"] = True
        return [], f"{name} timed out after {timeout:g} s on {target}"
    record["exit_code"] = max(-255, min(255, code))
    try:
        if code not in tool.ok_exits:
            raise ScanError(f"exited with status {code}: {stderr[:500]}")
        return tool.parse(_read_report(report), target), ""
    except ScanError as exc:
        last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        return [], f"{name} on {target}: {exc}" + (
            f" ({last[:300]})" if last and last not in str(exc) else ""
        )


def run_one(
    name: str, path: str, artifact: dict[str, Any], timeout: float, collection: Collection
) -> dict[str, Any]:
    """Run one scanner over the artifact; the ``evidence.scanners[]`` entry.

    Every supported file is scanned even when one run fails, so a crash on one file
    never hides a finding on another; the failures are joined in ``error``. A timeout
    stops the scanner (the next file would most likely wait as long).
    """
    tool = TOOLS[name]
    exe = find(name)
    record: dict[str, Any] = {"name": name, "installed": exe is not None}
    if exe is None:
        return record
    issues: list[dict[str, str]] = []
    errors: list[str] = []
    targets = _targets(tool, os.path.abspath(path), artifact)
    record["targets"] = len(targets)
    if not targets:
        record["skipped"] = f"no file in a format {name} supports"
    with tempfile.TemporaryDirectory(prefix=f"gate-{name}-") as tmp:
        workdir = Path(tmp)
        record["version"] = _version(exe, workdir)
        for target in targets:
            collection.ran(tool.argv(exe, target, str(workdir / "report.json")))
            found, why = _run_target(tool, exe, target, timeout, workdir, record)
            issues.extend(found)
            if why:
                errors.append(collection.error(name, text(why, 2048)))
            if record.get("timed_out"):
                break
    if errors:
        record["error"] = text("; ".join(errors), 2048)
    record["issues"] = [
        {
            "severity": text(i["severity"], 32),
            "detail": text(i["detail"], 4096),
            "path": text(i["path"], 4096),
        }
        for i in issues[:MAX_ISSUES]
    ]
    return record


def run_scanners(
    names: list[str],
    path: str,
    timeout: float,
    collection: Collection,
    artifact: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The ``evidence.scanners`` section: each named scanner, in order."""
    return [run_one(n, path, artifact or {}, timeout, collection) for n in names if n in TOOLS]
