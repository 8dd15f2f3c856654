"""A bordered table for ``gate check -o table`` (conftest's result/file/namespace/message columns)."""

from __future__ import annotations

from gate.check.runner import CheckRun


def render_check(run: CheckRun) -> str:
    """One row per outcome: passes, warnings, failures, exceptions."""
    rows: list[tuple[str, str, str, str]] = []
    for result in run.results:
        rows.extend(("success", result.filename, result.namespace, "") for _ in range(result.successes))
        rows.extend(("warning", result.filename, result.namespace, r.msg) for r in result.warnings)
        rows.extend(("failure", result.filename, result.namespace, r.msg) for r in result.failures)
        rows.extend(("exception", result.filename, result.namespace, r.msg) for r in result.exceptions)
    if not rows:
        return ""
    header = ("RESULT", "FILE", "NAMESPACE", "MESSAGE")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: tuple[str, str, str, str]) -> str:
        return "|" + "|".join(f" {c:<{w}} " for c, w in zip(cells, widths, strict=True)) + "|"

    return "\n".join([rule, line(header), rule, *(line(r) for r in rows), rule]) + "\n"
