"""Keys and built bundles shared by the bundle tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def _write_pair(directory: Path, stem: str, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> Path:
    private = directory / f"{stem}.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (directory / f"{stem}.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ec.pem/ec.pub (P-256), rsa.pem/rsa.pub (2048) and other.pem/other.pub."""
    directory = tmp_path_factory.mktemp("keys")
    _write_pair(directory, "ec", ec.generate_private_key(ec.SECP256R1()))
    _write_pair(directory, "other", ec.generate_private_key(ec.SECP256R1()))
    _write_pair(directory, "rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return directory
