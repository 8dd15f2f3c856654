"""Bundle file hashes as OPA computes them, and signatures any JWT library verifies."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from gate.bundle.sign import canonical_json, file_hash, parse_structured
from gate.bundle.verify import read_bundle
from tests.helpers import run_cli


def test_structured_files_hash_their_canonical_json() -> None:
    spaced = b'{ "b": [1, 2.50, "<&>"],\n  "a": "line\\u2028sep \xc3\xa9" }\n'
    compact = b'{"a":"line\\u2028sep \xc3\xa9","b":[1,2.50,"<&>"]}'
    # keys sorted, no whitespace, numbers as written, no HTML escaping,
    # U+2028 escaped and other non-ASCII kept as UTF-8 (Go's encoding/json)
    assert canonical_json(parse_structured("data.json", spaced)) == compact
    assert file_hash("data.json", spaced) == hashlib.sha256(compact).hexdigest()
    assert file_hash("x/data.json", spaced) == file_hash("y/data.json", compact)
    assert (
        file_hash(".manifest", b'{"roots":["gate"], "revision":"r"}')
        == hashlib.sha256(b'{"revision":"r","roots":["gate"]}').hexdigest()
    )


def test_other_files_hash_their_bytes() -> None:
    text = b"package gate.x\n\nallow := true\n"
    assert file_hash("gate/x/x.rego", text) == hashlib.sha256(text).hexdigest()
    assert file_hash("notes.json", b"{ }") == hashlib.sha256(b"{ }").hexdigest()
    assert file_hash("gate/x/x.rego", text, "SHA-512") == hashlib.sha512(text).hexdigest()


@pytest.mark.parametrize(("stem", "alg"), [("ec", "ES256"), ("rsa", "RS256")])
def test_signature_verifies_independently_with_pyjwt(
    stem: str, alg: str, keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "signed.tar.gz"
    run = run_cli(
        capsys,
        "bundle",
        "build",
        "-o",
        str(out),
        "--profile",
        "nim-promotion",
        "--signing-key",
        str(keys / f"{stem}.pem"),
        "--keyid",
        "gate-release",
    )
    assert run.code == 0, run.err
    contents = read_bundle(out)
    signatures = json.loads(contents.files[".signatures.json"])
    assert list(signatures) == ["signatures"]
    assert len(signatures["signatures"]) == 1
    token = signatures["signatures"][0]

    public = load_pem_public_key((keys / f"{stem}.pub").read_bytes())
    header = jwt.get_unverified_header(token)
    assert header["alg"] == alg
    assert header["kid"] == "gate-release"
    payload = jwt.decode(token, public, algorithms=[alg])  # type: ignore[arg-type]
    assert payload["keyid"] == "gate-release"
    assert "scope" not in payload

    # Every file but .signatures.json, each with a SHA-256 computed here from
    # scratch: raw bytes for Rego, sorted compact JSON for data.json/.manifest.
    listed = {f["name"]: f for f in payload["files"]}
    assert set(listed) == set(contents.files) - {".signatures.json"}
    for name, data in contents.files.items():
        if name == ".signatures.json":
            continue
        assert listed[name]["algorithm"] == "SHA-256"
        if name in ("data.json", ".manifest"):
            canonical = json.dumps(
                json.loads(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()
            expected = hashlib.sha256(canonical).hexdigest()
        else:
            expected = hashlib.sha256(data).hexdigest()
        assert listed[name]["hash"] == expected, name

    with pytest.raises(jwt.InvalidSignatureError):
        other = load_pem_public_key((keys / "other.pub").read_bytes())
        if alg == "ES256":
            jwt.decode(token, other, algorithms=[alg])  # type: ignore[arg-type]
        else:
            raise jwt.InvalidSignatureError("an EC key cannot verify RS256")


def test_signed_bundles_are_deterministic_too(
    keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = []
    for i in range(2):
        out = tmp_path / f"{i}.tar.gz"
        args = ["bundle", "build", "-o", str(out), "--profile", "nim-promotion"]
        assert run_cli(capsys, *args, "--signing-key", str(keys / "ec.pem")).code == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_scope_is_written_when_asked(keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.tar.gz"
    args = ["bundle", "build", "-o", str(out), "--signing-key", str(keys / "ec.pem"), "--scope", "write"]
    assert run_cli(capsys, *args).code == 0
    with tarfile.open(out, "r:gz") as tar:
        handle = tar.extractfile("/.signatures.json")
        assert handle is not None
        token = json.load(io.TextIOWrapper(handle))["signatures"][0]
    assert jwt.decode(token, options={"verify_signature": False})["scope"] == "write"


def test_unusable_keys_are_refused(keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b.tar.gz"
    run = run_cli(capsys, "bundle", "build", "-o", str(out), "--signing-key", str(keys / "ec.pub"))
    assert run.code == 2
    assert "not an unencrypted PEM private key" in run.err
    run = run_cli(
        capsys,
        "bundle",
        "build",
        "-o",
        str(out),
        "--signing-key",
        str(keys / "ec.pem"),
        "--signing-alg",
        "RS256",
    )
    assert run.code == 2
    assert "RS256 needs an RSA private key" in run.err
    assert not out.exists()
