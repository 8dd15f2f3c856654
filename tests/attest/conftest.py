"""Shared pieces for the attestation tests: keys, the published fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gate.attest.keys import SigningKey, generate_key, write_keypair
from tests.helpers import ROOT

# CI clones the repository with shared/ beside it; GATE_SHARED_FIXTURES points
# elsewhere when working from a separate checkout.
SHARED = Path(os.environ.get("GATE_SHARED_FIXTURES", ROOT.parent / "shared" / "fixtures"))
INTOTO = SHARED / "intoto"


def shared(*parts: str) -> Path:
    """A path under the shared third-party fixtures; skips the test when they are absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"third-party fixtures not found at {SHARED} (clone shared/ beside the repository)")
    return path


@pytest.fixture
def keypair(tmp_path: Path) -> tuple[SigningKey, Path, Path]:
    """A fresh unencrypted key pair written to tmp_path/gate.{key,pub}."""
    key = generate_key()
    private, public = write_keypair(str(tmp_path / "gate"), key, None)
    return key, private, public
