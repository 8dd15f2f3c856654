"""Fixtures for the evidence tests."""

from __future__ import annotations

import pytest

from gate.decide import Decider
from gate.profile import load_profile


@pytest.fixture(scope="session")
def deciders() -> dict[str, Decider]:
    """The container policy on both engines, compiled once."""
    profile = load_profile("nim-promotion")
    return {name: Decider(profile, name) for name in ("regorus", "opa")}
