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
