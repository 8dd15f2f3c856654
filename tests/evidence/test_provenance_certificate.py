"""Certificate-signed models (model signing with a private PKI)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.helpers import run_cli

model_signing = pytest.importorskip("model_signing")


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    ca: bool,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer[0])]) if issuer else name
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(subject)]), critical=False
        )
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def test_certificate_signed_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("gate test CA", ca_key, None, ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert("release@example.org", leaf_key, ("gate test CA", ca_key), ca=False)
    (tmp_path / "ca.pem").write_bytes(_pem(ca))
    (tmp_path / "leaf.pem").write_bytes(_pem(leaf))
    (tmp_path / "leaf.key").write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"a": 1}')
    signature = tmp_path / "model.sig"
    model_signing.signing.Config().use_certificate_signer(
        private_key=tmp_path / "leaf.key",
        signing_certificate=tmp_path / "leaf.pem",
        certificate_chain=[tmp_path / "ca.pem"],
    ).sign(model, signature)

    args = ["collect", "artifact", str(model), "--profile", "standalone", "--signature", str(signature)]
    run = run_cli(capsys, *args, "--certificate", str(tmp_path / "ca.pem"))
    provenance = json.loads(run.out)["evidence"]["provenance"]
    assert provenance["verified"] is True, provenance
    assert provenance["mode"] == "certificate"
    assert provenance["identity"] == "release@example.org"

    other_ca = _cert("another CA", ec.generate_private_key(ec.SECP256R1()), None, ca=True)
    (tmp_path / "other.pem").write_bytes(_pem(other_ca))
    run = run_cli(capsys, *args, "--certificate", str(tmp_path / "other.pem"))
    assert json.loads(run.out)["evidence"]["provenance"]["verified"] is False
