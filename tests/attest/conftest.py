"""Shared pieces for the attestation tests: keys, the published fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.attest.keys import SigningKey, generate_key, write_keypair
from tests.helpers import THIRDPARTY

INTOTO = THIRDPARTY / "intoto"


def thirdparty(*parts: str) -> Path:
    """A path under fixtures/thirdparty; a missing file fails the test that needs it."""
    path = THIRDPARTY.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"{path}: third-party fixture missing from the repository")
    return path


@pytest.fixture
def keypair(tmp_path: Path) -> tuple[SigningKey, Path, Path]:
    """A fresh unencrypted key pair written to tmp_path/gate.{key,pub}."""
    key = generate_key()
    private, public = write_keypair(str(tmp_path / "gate"), key, None)
    return key, private, public
