"""Shared paths and parametrisation for the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTAINER_FIXTURES = ROOT / "fixtures" / "container"
ENGINES = ("regorus", "opa")


def container_examples() -> list[str]:
    """Names of the bundled container examples (``<name>.input.json``)."""
    return sorted(p.name.removesuffix(".input.json") for p in CONTAINER_FIXTURES.glob("*.input.json"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """A skipped test is a failed test: a missing file, binary or package must be installed, not
    passed over. Only tests marked ``cannot_run_here`` may skip."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.get_closest_marker("cannot_run_here") is None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, which counts as a failure here: {reason}"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each test using this fixture runs once per engine."""
    return str(request.param)


# Real registries on loopback, started once per session when a test asks.
from tests.registry import (  # noqa: E402, F401
    basic_registry,
    cosign_key,
    plain_registry,
    seeded,
    token_registry,
)
