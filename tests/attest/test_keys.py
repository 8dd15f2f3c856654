"""Keys: gate keygen, passphrase-encrypted keys, env:// keys, key ids."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.attest.keys import load_signing_key, load_verify_key
from gate.errors import InputError, UsageError
from tests.helpers import run_cli


def test_keygen_writes_a_private_key_only_the_owner_can_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_cli(capsys, "keygen", "--out", str(tmp_path / "ci"))

    assert run.code == 0, run.err
    private, public = tmp_path / "ci.key", tmp_path / "ci.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in private.read_bytes()
    assert b"BEGIN PUBLIC KEY" in public.read_bytes()
    key = load_signing_key(str(private))
    assert key.keyid in run.out


def test_key_id_is_the_sha256_of_the_der_spki(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "keygen", "--out", str(tmp_path / "k"))
    public = serialization.load_pem_public_key((tmp_path / "k.pub").read_bytes())
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    assert load_verify_key(str(tmp_path / "k.pub")).keyid == hashlib.sha256(der).hexdigest()
    assert load_signing_key(str(tmp_path / "k.key")).keyid == hashlib.sha256(der).hexdigest()


def test_keygen_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "keygen", "--out", str(tmp_path / "k"))
    before = (tmp_path / "k.key").read_bytes()

    run = run_cli(capsys, "keygen", "--out", str(tmp_path / "k"))

    assert run.code == 2
    assert run.err_lines == [f"gate: error: {tmp_path / 'k.key'}: already exists (use --force to overwrite)"]
    assert (tmp_path / "k.key").read_bytes() == before


def test_passphrase_encrypted_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATE_TEST_PASS", "correct horse battery staple")
    run = run_cli(capsys, "keygen", "--out", str(tmp_path / "enc"), "--passphrase-env", "GATE_TEST_PASS")
    assert run.code == 0, run.err
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "enc.key").read_bytes()

    key = load_signing_key(str(tmp_path / "enc.key"), b"correct horse battery staple")
    assert key.keyid == load_verify_key(str(tmp_path / "enc.pub")).keyid

    with pytest.raises(InputError, match="wrong passphrase"):
        load_signing_key(str(tmp_path / "enc.key"), b"wrong")
    with pytest.raises(UsageError, match="passphrase-encrypted: give --key-passphrase-env"):
        load_signing_key(str(tmp_path / "enc.key"))


def test_env_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "keygen", "--out", str(tmp_path / "k"))
    monkeypatch.setenv("GATE_SIGNING_KEY", (tmp_path / "k.key").read_text())
    monkeypatch.setenv("GATE_PUBLIC_KEY", (tmp_path / "k.pub").read_text())

    assert load_signing_key("env://GATE_SIGNING_KEY").keyid == load_verify_key("env://GATE_PUBLIC_KEY").keyid
    with pytest.raises(InputError, match="GATE_MISSING is not set"):
        load_signing_key("env://GATE_MISSING")


def test_only_p256_keys_sign(tmp_path: Path) -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    path = tmp_path / "p384.key"
    path.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )

    with pytest.raises(InputError, match="ECDSA P-256 keys; this is a EC secp384r1 key"):
        load_signing_key(str(path))


def test_a_private_key_is_not_accepted_for_verification(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "keygen", "--out", str(tmp_path / "k"))

    with pytest.raises(InputError, match="verify with the public key"):
        load_verify_key(str(tmp_path / "k.key"))


def test_garbage_key_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "junk.pem"
    path.write_text("not a key\n")

    with pytest.raises(InputError, match=r"junk.pem: cannot load private key"):
        load_signing_key(str(path))
