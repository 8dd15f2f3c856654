"""Human-readable output (the default)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from gate.policy.metadata import RuleMeta
from gate.regotest import TestRun

if TYPE_CHECKING:
    from gate.check.runner import CheckRun

_NEXT = {
    "promote": "sign the attestation and promote",
    "block": "fix every reason below, collect the evidence again, and re-evaluate",
    "manual-review": "an operator must review the reasons below and decide",
}

_STAGES = ("source", "format", "integrity", "provenance", "static_scan", "behaviour", "diffusion")


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(" ".join(text.split()), width=96, initial_indent=indent, subsequent_indent=indent)


def render_decision(decision: dict[str, Any]) -> str:
    """Verdict, evidence level, profile, then each reason with its fix."""
    profile = decision["profile"]
    lines = [
        f"verdict:         {decision['verdict']}",
        f"evidence level:  {decision['evidence_level']}",
        f"profile:         {profile['name']} (sha256 {profile['sha256'][:12]})",
        f"next step:       {_NEXT.get(decision['verdict'], '')}",
        "",
        "reasons:",
    ]
    for result in decision["results"]:
        lines.append(f"  {result['code']} [{result['severity']}] {result['title']}")
        lines.append(_wrap(result["message"], "      "))
        lines.append(_wrap(f"fix: {result['solution']}", "      "))
    if decision.get("warnings"):
        lines += ["", "warnings (do not block):"]
        for result in decision["warnings"]:
            lines.append(f"  {result['code']} [{result['severity']}] {result['title']}")
            lines.append(_wrap(result["message"], "      "))
    if "stages" in decision:
        lines += ["", "stages:"]
        order = [n for n in _STAGES if n in decision["stages"]]
        order += sorted(set(decision["stages"]) - set(order))
        for name in order:
            stage = decision["stages"][name]
            reasons = ", ".join(stage["reasons"])
            lines.append(f"  {name:<12} {stage['status']:<8} {reasons}".rstrip())
    return "\n".join(lines) + "\n"


def render_rules(rules: list[RuleMeta]) -> str:
    """One line per reason code, then a hint for details."""
    width = max((len(m.short_name) for m in rules), default=4)
    lines = [f"{'CODE':<{width}}  {'SEVERITY':<8}  TITLE"]
    for meta in rules:
        lines.append(f"{meta.short_name:<{width}}  {meta.severity:<8}  {meta.title}")
    lines.append("")
    lines.append(f"{len(rules)} reason codes. Descriptions and solutions: gate rules -o json")
    return "\n".join(lines) + "\n"


def render_tests(run: TestRun) -> str:
    """``opa test -v`` style: a line per test, a summary, then coverage."""
    lines: list[str] = []
    current = ""
    for result in run.results:
        if result.test.path != current:
            current = result.test.path
            lines.append(f"{current}:")
        line = f"data.{result.test.package}.{result.test.name}: {result.status} ({result.duration_ms:.1f}ms)"
        lines.append(line)
        if result.error:
            lines.append(f"  {result.error}")
    lines.append("-" * 80)
    total = len(run.results)
    for status in ("PASS", "FAIL", "ERROR", "SKIP"):
        if run.count(status):
            lines.append(f"{status}: {run.count(status)}/{total}")
    if not total:
        lines.append("no tests found")
    if run.coverage is not None:
        lines.append("")
        lines.append("coverage:")
        for path, (covered, missed) in sorted(run.coverage.items()):
            count = len(covered) + len(missed)
            percent = 100.0 * len(covered) / count if count else 100.0
            lines.append(f"  {path}: {percent:.1f}% ({len(covered)}/{count} lines)")
            if missed:
                lines.append(f"    not covered: {_ranges(sorted(missed))}")
    return "\n".join(lines) + "\n"


def _ranges(numbers: list[int]) -> str:
    spans: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], 0]:
        if n != prev + 1:
            spans.append(str(start) if start == prev else f"{start}-{prev}")
            start = n
        prev = n
    return ", ".join(spans)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def check_summary(run: CheckRun) -> str:
    """conftest's summary line: ``N tests, N passed, N warnings, N failures, N exceptions``."""
    return (
        f"{_plural(run.tests, 'test')}, {run.count('successes')} passed, "
        f"{_plural(run.count('warnings'), 'warning')}, {_plural(run.count('failures'), 'failure')}, "
        f"{_plural(run.count('exceptions'), 'exception')}"
    )


def render_check(run: CheckRun) -> str:
    """conftest's standard output: ``WARN|FAIL|EXCP - file - namespace - message``, then the summary."""
    lines: list[str] = []
    for result in run.results:
        where = "-" if result.filename == "-" else f"- {result.filename}"
        namespace = f"- {result.namespace} -"
        if result.total == 0:
            lines.append(f"? {where} {namespace} no policies found")
            continue
        lines.extend(f"WARN {where} {namespace} {r.msg}" for r in result.warnings)
        lines.extend(f"FAIL {where} {namespace} {r.msg}" for r in result.failures)
        lines.extend(f"EXCP {where} {namespace} {r.msg}" for r in result.exceptions)
    lines.append("")
    lines.append(check_summary(run))
    return "\n".join(lines) + "\n"
