"""TAP (Test Anything Protocol) output for ``gate check -o tap``, as conftest writes it."""

from __future__ import annotations

from gate.check.runner import CheckRun


def render_check(run: CheckRun) -> str:
    """Per file and namespace: a plan line, ``not ok`` for failures and warnings, ``ok`` for passes."""
    lines: list[str] = []
    for result in run.results:
        indicator = " - " if result.filename == "-" else f" - {result.filename} - "
        issues = len(result.failures) + len(result.warnings) + result.successes
        if not issues:
            continue
        lines.append(f"1..{issues}")
        counter = 0
        for failure in result.failures:
            counter += 1
            lines.append(f"not ok {counter}{indicator}{result.namespace} - {failure.msg}")
        if result.warnings:
            lines.append("# warnings")
            for warning in result.warnings:
                counter += 1
                lines.append(f"not ok {counter}{indicator}{result.namespace} - {warning.msg}")
        if result.successes:
            lines.append("# successes")
            for _ in range(result.successes):
                counter += 1
                lines.append(f"ok {counter}{indicator}{result.namespace} - ")
    return "\n".join(lines) + ("\n" if lines else "")
