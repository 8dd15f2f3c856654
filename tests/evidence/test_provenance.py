"""gate/evidence/provenance.py: OpenSSF model signing, verified offline, signer recorded."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import ROOT, run_cli

FIXTURES = ROOT / "fixtures" / "thirdparty"
SIGSTORE_MODEL = FIXTURES / "sigstore" / "model-signing-v1.1.0-sigstore"
IDENTITY = "stefanb@us.ibm.com"
ISSUER = "https://sigstore.verify.ibm.com/oauth2"

model_signing = pytest.importorskip("model_signing")


def _collect(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    run = run_cli(capsys, "collect", "artifact", *args)
    assert run.code == 0, run.err
    return json.loads(run.out)  # type: ignore[no-any-return]


def _decide(capsys: pytest.CaptureFixture[str], engine: str, *args: str) -> dict:  # type: ignore[type-arg]
    run = run_cli(capsys, "eval", "--artifact", *args, "-o", "json", "--engine", engine)
    return json.loads(run.out)  # type: ignore[no-any-return]


@pytest.fixture
def sigstore_model(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SIGSTORE_MODEL, tmp_path / "model"))


def test_real_sigstore_signed_model_verifies_offline(
    sigstore_model: Path, engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sig = str(sigstore_model / "model.sig")
    document = _collect(capsys, str(sigstore_model), "--profile", "standalone", "--signature", sig)
    provenance = document["evidence"]["provenance"]
    assert provenance["verified"] is True, provenance
    assert provenance["method"] == "model-signing"
    assert provenance["mode"] == "sigstore"
    assert provenance["identity"] == IDENTITY
    assert provenance["issuer"] == ISSUER
    assert document["collection"]["egress_hosts_contacted"] == []

    accepted = _decide(
        capsys, engine, str(sigstore_model), "--profile", "standalone", "--signature", sig,
        "--identity", IDENTITY, "--issuer", ISSUER,
    )  # fmt: skip
    assert accepted["stages"]["provenance"] == {"status": "PASS", "reasons": []}

    # Nobody accepted this signer: the signature is valid, the signer is not.
    unaccepted = _decide(capsys, engine, str(sigstore_model), "--profile", "standalone", "--signature", sig)
    assert {"wrong_identity", "wrong_issuer"} <= set(unaccepted["reasons"])
    assert "signature_invalid" not in unaccepted["reasons"]


def test_tampered_sigstore_model_is_signature_invalid(
    sigstore_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (sigstore_model / "signme-1").write_bytes(b"tampered")
    sig = str(sigstore_model / "model.sig")
    decision = _decide(
        capsys, "regorus", str(sigstore_model), "--profile", "standalone", "--signature", sig,
        "--identity", IDENTITY, "--issuer", ISSUER,
    )  # fmt: skip
    assert "signature_invalid" in decision["reasons"]
    assert decision["stages"]["provenance"]["status"] == "FAIL"


@pytest.fixture
def key_signed(tmp_path: Path) -> tuple[Path, Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private = tmp_path / "key.pem"
    public = tmp_path / "key.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"hidden_size": 8}')
    (model / "weights.bin").write_bytes(b"\x00" * 64)
    signature = tmp_path / "model.sig"
    model_signing.signing.Config().use_elliptic_key_signer(private_key=private).sign(model, signature)
    return model, signature, public


def test_key_signed_model(key_signed: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    model, signature, public = key_signed
    document = _collect(
        capsys,
        str(model),
        "--profile",
        "standalone",
        "--signature",
        str(signature),
        "--public-key",
        str(public),
    )
    provenance = document["evidence"]["provenance"]
    assert provenance["verified"] is True, provenance
    assert provenance["mode"] == "key"
    assert provenance["key_sha256"] == hashlib.sha256(public.read_bytes()).hexdigest()

    (model / "weights.bin").write_bytes(b"\x01" * 64)
    tampered = _collect(
        capsys,
        str(model),
        "--profile",
        "standalone",
        "--signature",
        str(signature),
        "--public-key",
        str(public),
    )["evidence"]["provenance"]
    assert tampered["verified"] is False
    assert "error" in tampered


def test_wrong_key_is_signature_invalid(
    key_signed: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, signature, _ = key_signed
    other = tmp_path / "other.pub"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    decision = _decide(
        capsys, "regorus", str(model), "--profile", "standalone", "--signature", str(signature),
        "--public-key", str(other),
    )  # fmt: skip
    assert "signature_invalid" in decision["reasons"]


def test_unreadable_signature_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.bin"
    model.write_bytes(b"x")
    run = run_cli(
        capsys,
        "eval",
        "--artifact",
        str(model),
        "--profile",
        "standalone",
        "--signature",
        str(tmp_path / "no"),
    )
    assert run.code == 2
    assert "cannot read the signature" in run.err
