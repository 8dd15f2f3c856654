"""SARIF 2.1.0 for ``gate check -o sarif`` (code-scanning uploads)."""

from __future__ import annotations

import json
from typing import Any

from gate import __version__
from gate.check.runner import CheckRun

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def render_check(run: CheckRun) -> str:
    """One result per failure (error), warning (warning) and exception (note, suppressed)."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for result in run.results:
        for level, items in (
            ("error", result.failures),
            ("warning", result.warnings),
            ("note", result.exceptions),
        ):
            for r in items:
                rule = r.rule.removeprefix("data.") if level != "note" else f"{result.namespace}.exception"
                rules.setdefault(rule, {"id": rule, "shortDescription": {"text": rule}})
                entry: dict[str, Any] = {
                    "ruleId": rule,
                    "level": level,
                    "message": {"text": r.msg},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": result.filename}}}],
                }
                if r.metadata:
                    entry["properties"] = r.metadata
                if level == "note":
                    entry["suppressions"] = [{"kind": "inSource", "justification": r.msg}]
                results.append(entry)
    document = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "gate check",
                        "version": __version__,
                        "informationUri": "https://www.conftest.dev/",
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
