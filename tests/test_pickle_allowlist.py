"""The pickle-allowlist profile: PyTorch, joblib and pickle files written by the real libraries
promote on gate's own analysis; every attack still blocks, by gate's own analysis alone.

Malicious files are built opcode by opcode (never unpickled: the payloads would create a
marker file, and the ``marker`` fixture checks it never appears).
"""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.test_artifact_threats import (
    PICKLE_CASES,
    _marker_cmd,
    decide,
    marker,
    proto0_system,
    proto4_stack_global,
    torch_zip,
)

__all__ = ["marker"]  # the fixture, imported for the tests below

PROFILE = "pickle-allowlist"
WARNINGS_ONLY = {"all_stages_passed"}


def _promotes(capsys: pytest.CaptureFixture[str], path: Path, engine: str = "regorus") -> dict[str, Any]:
    decision = decide(capsys, path, profile=PROFILE, engine=engine)
    assert decision["verdict"] == "promote", decision["results"]
    return decision


def _gate_blocks(
    capsys: pytest.CaptureFixture[str], path: Path, reason: str, engine: str = "regorus"
) -> None:
    """Blocks for *reason*, a reason of gate's own analysis, never because a scanner failed."""
    decision = decide(capsys, path, profile=PROFILE, engine=engine)
    assert decision["verdict"] == "block"
    assert reason in decision["reasons"], decision["results"]
    assert "scanner_error" not in decision["reasons"]


# --- benign: written by the real libraries ---


@pytest.mark.parametrize("engine", ["regorus", "opa"])
def test_torch_checkpoints_promote(engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.LayerNorm(4))
    files = {
        "state_dict.pt": lambda p: torch.save(model.state_dict(), p),
        "legacy.bin": lambda p: torch.save(model.state_dict(), p, _use_new_zipfile_serialization=False),
        "checkpoint.pth": lambda p: torch.save(
            {"model": model.state_dict(), "epoch": 3, "lr": 1e-3, "rng": torch.get_rng_state()}, p
        ),
        "whole_module.pt": lambda p: torch.save(model, p),
    }
    for name, write in files.items():
        path = tmp_path / name
        write(path)
        decision = _promotes(capsys, path, engine)
        assert decision["stages"]["static_scan"]["status"] == "PASS"
    # The same file under standalone: denied as a format, not called unsafe.
    assert "denied_format" in decide(capsys, tmp_path / "state_dict.pt")["reasons"]


def test_joblib_and_compressed_joblib_promote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    joblib = pytest.importorskip("joblib")
    linear = pytest.importorskip("sklearn.linear_model")
    ensemble = pytest.importorskip("sklearn.ensemble")
    rng = np.random.default_rng(0)
    x = rng.random((40, 3))
    y = (x[:, 0] > 0.5).astype(int)
    models = [
        linear.LogisticRegression().fit(x, y),
        ensemble.RandomForestClassifier(n_estimators=3).fit(x, y),
    ]
    for i, model in enumerate(models):
        for compress in (0, ("zlib", 3), ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)):
            path = tmp_path / f"model{i}-{compress[0] if compress else 'raw'}.joblib"
            joblib.dump(model, path, compress=compress)
            _promotes(capsys, path)


def test_plain_pickles_and_object_arrays_promote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "stats.pkl"
    path.write_bytes(pickle.dumps({"mean": np.arange(3.0), "labels": ["a", "b"], "n": 3}, protocol=4))
    _promotes(capsys, path)
    array = tmp_path / "objects.npy"
    np.save(array, np.array([{"a": 1}, [1, 2], "x"], dtype=object), allow_pickle=True)
    _promotes(capsys, array)
    # Under standalone the object array is a pickle, a denied format: not "invalid_header".
    assert decide(capsys, array)["reasons"] == ["denied_format"]


def test_inert_names_are_on_the_allowlist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A list of __future__.annotations (kept on dataclasses), len("abc") (a __reduce__
    # returning len) and the collections.abc.Iterable type (a stored type hint).
    stream = (
        b"\x80\x02]q\x00("
        b"c__future__\nannotations\n"
        b"cbuiltins\nlen\nX\x03\x00\x00\x00abc\x85R"
        b"ccollections.abc\nIterable\n"
        b"e."
    )
    path = tmp_path / "meta.pkl"
    path.write_bytes(stream)
    assert pickletools_ok(stream)
    _promotes(capsys, path)


def pickletools_ok(stream: bytes) -> bool:
    """The stream is well formed for the reference disassembler (nothing is loaded)."""
    import pickletools

    pickletools.dis(stream, out=io.StringIO())
    return True


# --- malicious: every one blocks on gate's own analysis ---


@pytest.mark.parametrize("case", sorted(PICKLE_CASES))
def test_malicious_pickles_block(
    case: str, tmp_path: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, build = PICKLE_CASES[case]
    path = tmp_path / name
    path.write_bytes(build(_marker_cmd(marker)))
    _gate_blocks(capsys, path, "unsafe_pickle")


def test_torch_and_joblib_payloads_block(
    tmp_path: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = proto0_system(_marker_cmd(marker))
    checkpoint = tmp_path / "checkpoint.pt"
    checkpoint.write_bytes(torch_zip(payload))
    _gate_blocks(capsys, checkpoint, "unsafe_pickle")
    for name, data in (
        ("model.joblib.z", zlib.compress(payload)),
        ("model.joblib.gz", gzip.compress(payload)),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        _gate_blocks(capsys, path, "unsafe_pickle")
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    array = tmp_path / "array.npy"
    array.write_bytes(
        b"\x93NUMPY\x01\x00"
        + struct.pack("<H", len(header))
        + header
        + proto4_stack_global(b"subprocess", b"getoutput", _marker_cmd(marker))
    )
    _gate_blocks(capsys, array, "unsafe_pickle")


def test_unknown_globals_block_even_when_not_dangerous(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Admission needs proof: a global off the allowlist blocks whether or not it is known bad.
    path = tmp_path / "custom.pkl"
    path.write_bytes(b"\x80\x02cmylib.layers\nFancyLayer\nq\x00)\x81q\x01.")
    _gate_blocks(capsys, path, "unsafe_pickle")


def test_truncated_checkpoint_blocks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(4)}, buffer, _use_new_zipfile_serialization=False)
    path = tmp_path / "cut.bin"
    path.write_bytes(buffer.getvalue()[:-40])
    decision = decide(capsys, path, profile=PROFILE)
    assert decision["verdict"] == "block", decision["results"]


def test_torchscript_is_not_admitted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "scripted.pt"
    torch.jit.script(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU())).save(str(path))
    decision = decide(capsys, path, profile=PROFILE)
    assert decision["verdict"] == "block"
    assert decision["reasons"] == ["unsafe_pickle"], decision["results"]
    messages = " ".join(r["message"] for r in decision["results"])
    assert "TorchScript" in messages and "code/" in messages
    # The debug pickles' list builders are inert and named nowhere.
    assert "build_intlist" not in messages


def test_zip_of_a_pickle_is_judged_by_its_member(
    tmp_path: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inner/model.pkl", proto0_system(_marker_cmd(marker)))
    path = tmp_path / "bundle.zip"
    path.write_bytes(buffer.getvalue())
    decision = decide(capsys, path, profile=PROFILE)
    assert decision["verdict"] == "block"
    assert "unsafe_pickle" in decision["reasons"] or "unknown_format" in decision["reasons"]
