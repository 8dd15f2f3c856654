"""The runtime part of ``make demo``: a promote and a block against a registry it starts itself."""

from __future__ import annotations

import sys

import pytest

from tests.helpers import ROOT
from tests.registry import registry_available


def test_the_demo_promotes_the_signed_release_and_blocks_the_unsigned_candidate(
    capfd: pytest.CaptureFixture[str],
) -> None:
    if not registry_available():
        pytest.skip("Debian's docker-registry is not installed (.ci/run installs it)")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import demo_registry
    finally:
        sys.path.remove(str(ROOT / "scripts"))

    assert demo_registry.main() == 0
    out = capfd.readouterr().out
    assert "verdict:         promote" in out
    assert "verdict:         block" in out
    for reason in ("digest_drift", "unsigned", "missing_sbom", "missing_model_card", "cve_regression"):
        assert reason in out
    assert "stopped" in out.splitlines()[-1]
