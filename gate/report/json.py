"""Machine-readable output (``-o json``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from gate.policy.metadata import RuleMeta
from gate.regotest import TestRun

if TYPE_CHECKING:
    from gate.check.runner import CheckRun


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def render_decision(decision: dict[str, Any]) -> str:
    """The decision document exactly as the policy produced it."""
    return _dump(decision)


def render_rules(rules: list[RuleMeta]) -> str:
    """The reason-code catalogue."""
    return _dump([meta.as_catalog_entry() for meta in rules])


def render_tests(run: TestRun) -> str:
    """Every test result, the summary, and coverage when it was measured."""
    out: dict[str, Any] = {
        "engine": run.engine,
        "tests": [r.as_json() for r in run.results],
        "summary": {s.lower(): run.count(s) for s in ("PASS", "FAIL", "ERROR", "SKIP")},
    }
    out["summary"]["total"] = len(run.results)
    if run.coverage is not None:
        out["coverage"] = {
            path: {
                "covered": sorted(covered),
                "not_covered": sorted(missed),
                "percent": _percent(covered, missed),
            }
            for path, (covered, missed) in sorted(run.coverage.items())
        }
    return _dump(out)


def _percent(covered: set[int], missed: set[int]) -> float:
    total = len(covered) + len(missed)
    return round(100.0 * len(covered) / total, 2) if total else 100.0


def render_check(run: CheckRun) -> str:
    """conftest's JSON: one object per file and namespace, tab-indented."""
    out = []
    for result in run.results:
        entry: dict[str, Any] = {
            "filename": "" if result.filename == "-" else result.filename,
            "namespace": result.namespace,
            "successes": result.successes,
        }
        for kind in ("warnings", "failures", "exceptions"):
            items = getattr(result, kind)
            if items:
                entry[kind] = [r.as_json() for r in items]
        out.append(entry)
    return json.dumps(out, indent="\t", ensure_ascii=False) + "\n"
