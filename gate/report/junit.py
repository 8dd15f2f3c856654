"""JUnit XML for ``gate check -o junit`` (one test case per outcome, as conftest reports them)."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from gate.check.runner import CheckRun


def _name(filename: str, namespace: str, message: str) -> str:
    if message:
        return f"{filename} - {namespace} - {message.splitlines()[0]}"
    return f"{filename} - {namespace}"


def _case(filename: str, namespace: str, message: str) -> str:
    return quoteattr(_name(filename, namespace, message))


def render_check(run: CheckRun) -> str:
    """A ``conftest`` test suite: warnings and failures fail, exceptions are skipped, passes pass."""
    cases: list[str] = []
    failed = skipped = 0
    for result in run.results:
        for kind, items in (("warning", result.warnings), ("failure", result.failures)):
            for r in items:
                failed += 1
                name = _case(result.filename, result.namespace, r.msg)
                cases.append(
                    f'\t\t<testcase classname="conftest" name={name} time="0.000">'
                    f'\n\t\t\t<failure message="Failed" type={quoteattr(kind)}>'
                    f"{escape(r.msg)}</failure>\n\t\t</testcase>"
                )
        for r in result.exceptions:
            skipped += 1
            cases.append(
                f'\t\t<testcase classname="conftest" name={_case(result.filename, result.namespace, r.msg)}'
                f' time="0.000">\n\t\t\t<skipped message={quoteattr(r.msg)}></skipped>\n\t\t</testcase>'
            )
        for _ in range(result.successes):
            cases.append(
                f'\t\t<testcase classname="conftest" name={_case(result.filename, result.namespace, "")}'
                ' time="0.000"></testcase>'
            )
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n'
        f'\t<testsuite tests="{len(cases)}" failures="{failed}" skipped="{skipped}" errors="0" time="0.000" '
        'name="conftest">'
    )
    return "\n".join([head, *cases, "\t</testsuite>", "</testsuites>"]) + "\n"
