"""``gate test``: run ``test_*`` rules the way ``opa test`` does."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.engine import create_engine
from gate.engine.interface import Coverage, Undefined
from gate.errors import EngineError
from gate.policy import PolicySet, load_policies
from gate.policy.files import RegoTest


@dataclass(frozen=True)
class TestResult:
    """The outcome of one test rule."""

    test: RegoTest
    """The rule that ran."""
    status: str
    """PASS, FAIL, ERROR or SKIP."""
    duration_ms: float
    """Wall time of the evaluation."""
    error: str = ""
    """The engine's one-line error for ERROR."""

    def as_json(self) -> dict[str, Any]:
        """The object ``gate test -o json`` prints per test."""
        out: dict[str, Any] = {
            "package": f"data.{self.test.package}",
            "name": self.test.name,
            "location": f"{self.test.path}:{self.test.line}",
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
        }
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class TestRun:
    """Every result plus coverage, for reporting."""

    engine: str
    """Engine the tests ran on."""
    results: list[TestResult]
    """In discovery order."""
    coverage: Coverage | None
    """Policy-line coverage (test files excluded), when asked for."""

    def count(self, status: str) -> int:
        """How many results have *status*."""
        return sum(1 for r in self.results if r.status == status)

    @property
    def ok(self) -> bool:
        """True when at least one test ran and nothing failed or errored."""
        ran = len(self.results) - self.count("SKIP")
        return ran > 0 and self.count("FAIL") == 0 and self.count("ERROR") == 0


def run_tests(
    root: Path,
    *,
    engine: str,
    coverage: bool = False,
    policies: PolicySet | None = None,
    data: dict[str, Any] | None = None,
) -> TestRun:
    """Compile every module under *root* and evaluate each test rule.

    A test passes when its rule evaluates to true; false or undefined is a
    FAIL, an evaluation error an ERROR (the run continues either way).
    *data* replaces the default base data (the catalogue alone), e.g. with
    an OPA bundle's data.json.
    """
    policy_set = policies if policies is not None else load_policies(root)
    modules = [(f.path, f.text) for f in policy_set.modules(include_tests=True)]
    base = data if data is not None else {"gate": {"catalog": policy_set.catalog_data()}}
    compiled = create_engine(engine, modules, base)
    if coverage:
        compiled.enable_coverage()
    results = []
    for test in policy_set.tests:
        if test.skipped:
            results.append(TestResult(test, "SKIP", 0.0))
            continue
        started = time.perf_counter()
        try:
            value = compiled.evaluate(f"data.{test.package}.{test.name}", None)
            status, error = ("PASS", "") if value is True else ("FAIL", "")
        except Undefined:
            status, error = "FAIL", ""
        except EngineError as exc:
            status, error = "ERROR", str(exc)
        elapsed = (time.perf_counter() - started) * 1000
        results.append(TestResult(test, status, elapsed, error))
    report = None
    if coverage:
        tests = {f.path for f in policy_set.files if f.is_test}
        report = {p: lines for p, lines in compiled.coverage().items() if p not in tests}
    return TestRun(engine, results, report)
