"""gate eval --artifact / gate collect artifact, end to end, on both engines."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from tests.helpers import run_cli

HF = "https://huggingface.co/org/tiny/resolve/0123abc/model.safetensors"
SCANNER = importlib.util.find_spec("gate.formats.scan") is not None


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.safetensors"
    rng = np.random.default_rng(7)
    save_file({"w": rng.standard_normal((32, 32)).astype("float32"), "b": np.zeros(32, "float32")}, str(path))
    return path


def _eval(capsys: pytest.CaptureFixture[str], engine: str, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    run = run_cli(capsys, "eval", *args, "-o", "json", "--engine", engine)
    assert run.err == "", run.err
    return run.code, json.loads(run.out)


def _lock(tmp_path: Path, name: str, sha256: str, size: int) -> Path:
    lock = tmp_path / "models.lock.yaml"
    lock.write_text(
        f'version: 1\nmodels:\n  - name: tiny\n    filename: "{name}"\n    sha256: "{sha256}"\n'
        f"    size_bytes: {size}\n"
    )
    return lock


def test_benign_local_safetensors(model: Path, engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, decision = _eval(capsys, engine, "--artifact", str(model), "--profile", "standalone")
    if SCANNER:
        assert decision["verdict"] == "promote"
        assert code == 0
        assert decision["reasons"] == ["all_stages_passed"]
        assert "tofu_unpinned" in [w["code"] for w in decision["warnings"]]
    else:  # the format scanner is missing: fail closed, never pass
        assert decision["verdict"] == "block"
        assert "scanner_missing" in decision["reasons"]
        assert decision["stages"]["static_scan"]["status"] == "FAIL"
    assert decision["stages"]["source"] == {"status": "PASS", "reasons": []}
    # stage 6 runs single GGUF files only (the seed's rule): a safetensors file skips it
    assert decision["stages"]["behaviour"] == {"status": "SKIPPED", "reasons": []}


def test_appliance_blocks_on_what_it_requires(
    model: Path, engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, decision = _eval(capsys, engine, "--artifact", str(model), "--profile", "appliance")
    assert code == 1
    assert "unsigned" in decision["reasons"]
    assert decision["stages"]["behaviour"]["status"] == "SKIPPED"


@pytest.mark.parametrize(
    "url",
    [
        "https://huggingface.co.evil.example/org/tiny",
        "https://huggingface.co@evil.example/org/tiny",
        "https://huggingface.co/org/%2e%2e/%2e%2e/evil",
        "https://h\u0585ggingface.co/org/tiny",
    ],
)
def test_lookalike_sources_are_not_allowlisted(
    model: Path, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = _lock(tmp_path, model.name, "0" * 64, 0)
    code, decision = _eval(
        capsys,
        "regorus",
        "--artifact",
        str(model),
        "--source-url",
        url,
        "--lock",
        str(lock),
        "--profile",
        "standalone",
    )
    assert code == 1
    assert "source_not_allowlisted" in decision["reasons"]
    assert decision["stages"]["source"]["status"] == "FAIL"


def test_http_source(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, decision = _eval(
        capsys,
        "regorus",
        "--artifact",
        str(model),
        "--source-url",
        "http://huggingface.co/org/x",
        "--profile",
        "standalone",
    )
    assert decision["reasons"][:2] == ["source_not_https", "source_not_allowlisted"]


def test_remote_pins(model: Path, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    import hashlib

    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    size = model.stat().st_size
    base = ["--artifact", str(model), "--source-url", HF, "--profile", "standalone"]

    _, unpinned = _eval(capsys, engine, *base)
    assert "unpinned_remote" in unpinned["reasons"]

    _, pinned = _eval(capsys, engine, *base, "--lock", str(_lock(tmp_path, model.name, digest, size)))
    assert pinned["stages"]["integrity"] == {"status": "PASS", "reasons": []}

    _, wrong = _eval(capsys, engine, *base, "--lock", str(_lock(tmp_path, model.name, "f" * 64, size)))
    assert "hash_mismatch" in wrong["reasons"]


def test_save_input_replays_to_the_same_decision(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "input.json"
    _, direct = _eval(
        capsys, "regorus", "--artifact", str(model), "--profile", "standalone", "--save-input", str(saved)
    )
    _, replayed = _eval(capsys, "opa", "--input", str(saved), "--profile", "standalone")
    assert direct == replayed


def test_collect_writes_the_document(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "doc.json"
    run = run_cli(capsys, "collect", "artifact", str(model), "--profile", "standalone", "-o", str(out))
    assert run.code == 0
    document = json.loads(out.read_text())
    assert document["subject"]["kind"] == "model-file"
    assert document["evidence"]["source"]["kind"] == "local-import"
    assert document["evidence"]["artifact"]["files"][0]["path"] == "model.safetensors"


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--input", "x.json", "--artifact", "m"],
        ["--input", "x.json", "--source-url", "https://huggingface.co/x"],
    ],
)
def test_exactly_one_subject(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "eval", *args, "--profile", "standalone")
    assert run.code == 2
    assert run.out == ""


def test_missing_artifact_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "eval", "--artifact", str(tmp_path / "nope"), "--profile", "standalone")
    assert run.code == 2
    assert "no such file or directory" in run.err


def test_text_output_has_the_stage_summary(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "eval", "--artifact", str(model), "--profile", "standalone")
    assert "stages:" in run.out
    lines = run.out[run.out.index("stages:") :].splitlines()[1:8]
    assert [line.split()[0] for line in lines] == [
        "source", "format", "integrity", "provenance", "static_scan", "behaviour", "diffusion",
    ]  # fmt: skip


def _onnx_with_external(location: str) -> bytes:
    from onnx import TensorProto, helper

    weight = helper.make_tensor("W", TensorProto.FLOAT, [2], [0.0, 0.0])
    weight.ClearField("float_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "8")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    node = helper.make_node("Identity", ["W"], ["Y"])
    out = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2])
    graph = helper.make_graph([node], "g", [], [out], initializer=[weight])
    return bytes(helper.make_model(graph).SerializeToString())


def test_onnx_directory_with_external_data_is_admitted(
    tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if not SCANNER:
        pytest.skip("the format scanner is not installed")
    model_dir = tmp_path / "onnx-model"
    (model_dir / "weights").mkdir(parents=True)
    (model_dir / "model.onnx").write_bytes(_onnx_with_external("weights/w.bin"))
    (model_dir / "weights" / "w.bin").write_bytes(np.arange(2, dtype="<f4").tobytes())
    (model_dir / "stray.bin").write_bytes(b"\x00\xff\xfe\x81\x90\x00\xff")
    code, decision = _eval(capsys, engine, "--artifact", str(model_dir), "--profile", "standalone")
    # the external data is part of the model; a raw file nothing names is still unknown
    assert decision["reasons"] == ["unknown_format"], decision["reasons"]
    messages = " ".join(r["message"] for r in decision["results"])
    assert "stray.bin" in messages and "w.bin" not in messages
    (model_dir / "stray.bin").unlink()
    code, decision = _eval(capsys, engine, "--artifact", str(model_dir), "--profile", "standalone")
    assert (code, decision["verdict"]) == (0, "promote")
    # a pickle named as external data keeps its own format and its findings
    (model_dir / "weights" / "w.bin").write_bytes(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00idq\x00\x85R.")
    code, decision = _eval(capsys, engine, "--artifact", str(model_dir), "--profile", "standalone")
    assert decision["verdict"] == "block"
    assert "unsafe_pickle" in decision["reasons"]
