"""GitHub Actions workflow commands for ``gate check -o github``, as conftest writes them."""

from __future__ import annotations

from gate.check.runner import CheckRun
from gate.report.text import check_summary


def _escape(text: str) -> str:
    # Workflow command data: %, CR and LF must be escaped.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def render_check(run: CheckRun) -> str:
    """A group per file and namespace with ``::error``/``::warning`` annotations, then the summary."""
    lines: list[str] = []
    for result in run.results:
        lines.append(
            f"::group::Testing '{result.filename}' against {result.total} policies "
            f"in namespace '{result.namespace}'"
        )
        lines.extend(f"::error file={result.filename}::{_escape(r.msg)}" for r in result.failures)
        lines.extend(f"::warning file={result.filename}::{_escape(r.msg)}" for r in result.warnings)
        lines.extend(f"exception file={result.filename}::{_escape(r.msg)}" for r in result.exceptions)
        if result.successes:
            lines.append(f"success file={result.filename} {result.successes}")
        lines.append("::endgroup::")
    lines.append(check_summary(run))
    return "\n".join(lines) + "\n"
