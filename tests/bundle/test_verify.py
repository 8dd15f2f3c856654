"""gate bundle verify: OPA's checks, and every way a bundle can fail them."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from gate.bundle.build import archive
from gate.bundle.verify import read_bundle
from tests.helpers import run_cli


@pytest.fixture
def signed(keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "signed.tar.gz"
    args = [
        "bundle",
        "build",
        "-o",
        str(out),
        "--profile",
        "nim-promotion",
        "--signing-key",
        str(keys / "ec.pem"),
    ]
    assert run_cli(capsys, *args).code == 0
    return out


def _rewrite(path: Path, change: dict[str, bytes | None]) -> Path:
    files = dict(read_bundle(path).files)
    for name, data in change.items():
        if data is None:
            files.pop(name, None)
        else:
            files[name] = data
    out = path.with_name("tampered.tar.gz")
    out.write_bytes(archive(sorted(files.items())))
    return out


def _verify(capsys: pytest.CaptureFixture[str], path: Path, key: Path, *extra: str) -> tuple[int, str]:
    run = run_cli(capsys, "bundle", "verify", str(path), "--key", str(key), *extra)
    return run.code, run.out + run.err


def test_a_signed_bundle_verifies(signed: Path, keys: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _verify(capsys, signed, keys / "ec.pub")
    assert code == 0
    assert "verified" in text
    assert "8 files" in text or "files, ES256" in text
    assert "kid default" in text


def test_rsa_signed_bundle_verifies(keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rsa.tar.gz"
    assert (
        run_cli(capsys, "bundle", "build", "-o", str(out), "--signing-key", str(keys / "rsa.pem")).code == 0
    )
    code, text = _verify(capsys, out, keys / "rsa.pub")
    assert code == 0, text
    assert "RS256" in text


def test_whitespace_in_data_json_does_not_matter(
    signed: Path, keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(read_bundle(signed).files["data.json"])
    reformatted = _rewrite(signed, {"data.json": json.dumps(data, separators=(",", ":")).encode()})
    assert _verify(capsys, reformatted, keys / "ec.pub")[0] == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"gate/lib/lib.rego": b"package gate.lib\n"}, "gate/lib/lib.rego: digest mismatch"),
        (
            {"gate/extra.rego": b"package gate.extra\n"},
            "gate/extra.rego is not included in the bundle signature",
        ),
        ({"gate/lib/lib.rego": None}, "signed file(s) missing from the bundle: gate/lib/lib.rego"),
        ({".signatures.json": None}, "not signed"),
        ({".signatures.json": b'{"signatures": []}'}, "expected exactly one"),
        ({".signatures.json": b'{"signatures": ["a.b.c", "d.e.f"]}'}, "multiple JWTs not supported"),
    ],
)
def test_tampering_is_refused(
    change: dict[str, bytes | None],
    message: str,
    signed: Path,
    keys: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, text = _verify(capsys, _rewrite(signed, change), keys / "ec.pub")
    assert code == 1
    assert message in text


def test_changed_config_value_is_refused(
    signed: Path, keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(read_bundle(signed).files["data.json"])
    data["gate"]["config"]["container"]["registries"].append("evil.example/")
    code, text = _verify(capsys, _rewrite(signed, {"data.json": json.dumps(data).encode()}), keys / "ec.pub")
    assert code == 1
    assert "data.json: digest mismatch" in text


def test_wrong_key_and_wrong_scope_are_refused(
    signed: Path, keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = _verify(capsys, signed, keys / "other.pub")
    assert code == 1
    assert "does not verify with the given key" in text
    code, text = _verify(capsys, signed, keys / "rsa.pub")
    assert code == 1
    assert "cannot verify" in text
    code, text = _verify(capsys, signed, keys / "ec.pub", "--scope", "write")
    assert code == 1
    assert "scope mismatch" in text


def test_unsafe_archives_are_refused(tmp_path: Path, keys: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, kind in [("../escape.rego", tarfile.REGTYPE), ("/gate/link.rego", tarfile.SYMTYPE)]:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
            tar.addfile(info, io.BytesIO(b""))
        path = tmp_path / "bad.tar.gz"
        path.write_bytes(gzip.compress(raw.getvalue()))
        code, text = _verify(capsys, path, keys / "ec.pub")
        assert code == 2, text
        assert "unsafe entry name" in text or "not a regular file" in text
    path.write_bytes(b"not a tarball")
    code, text = _verify(capsys, path, keys / "ec.pub")
    assert code == 2
    assert "not a gzipped tar bundle" in text
