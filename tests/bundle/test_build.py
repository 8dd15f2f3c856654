"""gate bundle build: an OPA bundle that real OPA loads, deterministic, tests included."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from gate.bundle.build import BundleSpec, build_bundle
from gate.bundle.verify import read_bundle
from gate.decide import Decider
from gate.document import load_input
from gate.engine.opa import OpaGoEngine
from gate.engine.regorus import RegorusEngine
from gate.profile import load_profile
from gate.resources import rego_dir
from tests.conftest import CONTAINER_FIXTURES, container_examples
from tests.helpers import REGO, run_cli


def _build(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> Path:
    out = tmp_path / "bundle.tar.gz"
    run = run_cli(capsys, "bundle", "build", "-o", str(out), "--profile", "nim-promotion", *extra)
    assert run.code == 0, run.err
    assert f"wrote {out}" in run.out
    return out


def test_bundle_layout_matches_opa_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _build(tmp_path, capsys)
    with tarfile.open(path, "r:gz") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    rego = sorted("/" + p.relative_to(REGO).as_posix() for p in REGO.rglob("*.rego"))
    assert names == sorted(["/.manifest", "/data.json", *rego])
    assert any(n.endswith("_test.rego") for n in names)
    assert all(m.isfile() and m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members)

    contents = read_bundle(path)
    manifest = contents.manifest
    assert manifest["roots"] == ["gate"]
    assert manifest["revision"].startswith("gate-")
    assert manifest["metadata"]["gate"]["profile"]["name"] == "nim-promotion"
    data = json.loads(contents.files["data.json"])
    assert set(data) == {"gate"}
    assert set(data["gate"]) == {"catalog", "config"}
    assert "unsigned" in data["gate"]["catalog"]["gate.container"]
    profile = load_profile("nim-promotion")
    assert data["gate"]["config"] == profile.config()


def test_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    profile = load_profile("nim-promotion")
    first = build_bundle(BundleSpec(rego_dir(), profile))
    second = build_bundle(BundleSpec(rego_dir(), profile))
    assert first == second
    # gzip header: no timestamp, no file name
    assert first[4:8] == b"\0\0\0\0"
    assert gzip.decompress(first)
    third = build_bundle(BundleSpec(rego_dir(), profile, revision="v9"))
    assert third != first
    assert json.loads(_member(third, "/.manifest"))["revision"] == "v9"


def test_revision_follows_the_content(tmp_path: Path) -> None:
    policies = tmp_path / "rego"
    policies.mkdir()
    for path in REGO.rglob("*.rego"):
        target = policies / path.relative_to(REGO)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    profile = load_profile("nim-promotion")
    before = json.loads(_member(build_bundle(BundleSpec(policies, profile)), "/.manifest"))["revision"]
    lib = policies / "gate" / "lib" / "lib.rego"
    lib.write_text(lib.read_text() + "\n# changed\n")
    after = json.loads(_member(build_bundle(BundleSpec(policies, profile)), "/.manifest"))["revision"]
    assert before != after


def _member(archive: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        handle = tar.extractfile(name)
        assert handle is not None
        return handle.read()


@pytest.fixture(scope="module")
def bundle_bytes() -> bytes:
    return build_bundle(BundleSpec(rego_dir(), load_profile("nim-promotion")))


@pytest.mark.parametrize("engine_class", [OpaGoEngine, RegorusEngine], ids=["opa", "regorus"])
def test_bundle_contents_decide_every_example_like_gate_eval(
    engine_class: type, bundle_bytes: bytes, tmp_path: Path
) -> None:
    """The bundle's modules and data.json, loaded as OPA loads them, give the
    same decision as the embedded path for every container example."""
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(bundle_bytes)
    contents = read_bundle(path)
    engine = engine_class(contents.modules(), contents.data())
    embedded = Decider(load_profile("nim-promotion"), "regorus")
    for name in container_examples():
        document = load_input(str(CONTAINER_FIXTURES / f"{name}.input.json"))
        assert engine.evaluate("data.gate.main.decision", document) == embedded.decide(document), name


@pytest.mark.parametrize("engine", ["regorus", "opa"])
def test_gate_test_runs_the_bundles_tests_green(
    engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _build(tmp_path, capsys)
    run = run_cli(capsys, "test", str(path), "--engine", engine, "-o", "json")
    assert run.code == 0, run.out
    report = json.loads(run.out)
    assert report["summary"]["pass"] == report["summary"]["total"] >= 70
    assert report["summary"]["fail"] == report["summary"]["error"] == 0


def test_bundle_without_profile_blocks_with_profile_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b.tar.gz"
    run = run_cli(capsys, "bundle", "build", "-o", str(out))
    assert run.code == 0
    assert "no --profile" in run.err
    contents = read_bundle(out)
    assert "config" not in contents.data()["gate"]
    engine = OpaGoEngine(contents.modules(), contents.data())
    document = load_input(str(CONTAINER_FIXTURES / "clean-runtime-promote.input.json"))
    decision = engine.evaluate("data.gate.main.decision", document)
    assert decision["reasons"] == ["profile_missing"]


def test_policy_outside_the_gate_root_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.rego").write_text("package other\n\nimport rego.v1\n\nallow := true\n")
    run = run_cli(capsys, "bundle", "build", "-o", str(tmp_path / "b.tar.gz"), "--policy-dir", str(tmp_path))
    assert run.code == 4
    assert "outside the bundle root 'gate'" in run.err
    assert not (tmp_path / "b.tar.gz").exists()


def test_unwritable_output_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "bundle", "build", "-o", str(tmp_path / "missing" / "b.tar.gz"))
    assert run.code == 2
    assert len(run.err_lines) == 1
    assert "cannot write" in run.err
