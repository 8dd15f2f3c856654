"""Format detection by content: every format, whatever the file would be called."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import pickle
import shutil
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest

from gate.formats.detect import FORMATS, detect, trial_pickle
from gate.formats.interface import BytesBlob, FileBlob

PAYLOAD = b"cposix\nsystem\n(S'touch /tmp/pwned'\ntR."


def fmt(data: bytes, hint: str = "") -> str:
    return detect(BytesBlob(data), hint)


def safetensors_bytes(extra: bytes = b"") -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\x00" * 8 + extra


def tar_bytes(mode: str = "w", **members: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(**members: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("protocol", range(6))
def test_pickles_of_every_protocol(protocol: int) -> None:
    assert fmt(pickle.dumps({"weights": [1.0, 2.0], "name": "m"}, protocol=protocol)) == "pickle"


def test_protocol_0_payload_is_a_pickle_not_text() -> None:
    assert fmt(PAYLOAD) == "pickle"


def test_broken_stream_that_imports_is_still_a_pickle() -> None:
    assert fmt(b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00id\x85R\xff\xff\xff") == "pickle"


def test_pickle_with_a_large_leading_string_is_a_pickle() -> None:
    big = pickle.dumps((b"x" * 200_000, os.system), protocol=4)
    assert fmt(big) == "pickle"


def test_torch_formats() -> None:
    torch = pytest.importorskip("torch")
    state = {"w": torch.arange(6, dtype=torch.float32)}
    new = io.BytesIO()
    torch.save(state, new)
    old = io.BytesIO()
    torch.save(state, old, _use_new_zipfile_serialization=False)
    assert fmt(new.getvalue()) == "pytorch-zip"
    assert fmt(old.getvalue()) == "pytorch-legacy"


def test_numpy_formats() -> None:
    np = pytest.importorskip("numpy")
    npy = io.BytesIO()
    np.save(npy, np.arange(4))
    npz = io.BytesIO()
    np.savez(npz, a=np.arange(3), b=np.ones(2))
    npzc = io.BytesIO()
    np.savez_compressed(npzc, a=np.arange(3))
    assert fmt(npy.getvalue()) == "npy"
    assert fmt(npz.getvalue()) == "npz"
    assert fmt(npzc.getvalue()) == "npz"


def test_archives() -> None:
    keras = zip_bytes(**{"config.json": b"{}", "metadata.json": b"{}", "model.weights.h5": b""})
    assert fmt(keras) == "keras"
    assert fmt(zip_bytes(**{"notes.txt": b"hi"})) == "zip"
    assert fmt(b"MZ-not-a-pe" + zip_bytes(a=b"x")) == "zip"
    assert fmt(tar_bytes(a=b"x")) == "tar"
    for mode in ("w:gz", "w:bz2", "w:xz"):
        assert fmt(tar_bytes(mode, a=b"x")) == "tar", mode
    old = bytearray(tar_bytes(a=b"x"))
    old[257:265] = b"\x00" * 8
    struct.pack_into("8s", old, 148, b"        ")
    old[148:156] = (b"%06o\x00 " % (sum(old[:512]))).ljust(8, b"\x00")
    assert fmt(bytes(old)) == "tar"


def test_sevenzip() -> None:
    py7zr = pytest.importorskip("py7zr")
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as archive:
        archive.writestr(b"hello", "a.txt")
    assert fmt(buf.getvalue()) == "7z"


def test_raw_compressed_streams() -> None:
    inner = pickle.dumps([1, 2, 3])
    assert fmt(gzip.compress(inner)) == "gzip"
    assert fmt(bz2.compress(inner)) == "bz2"
    assert fmt(lzma.compress(inner)) == "xz"
    assert fmt(zlib.compress(inner)) == "zlib"
    assert fmt(b"\x28\xb5\x2f\xfd" + os.urandom(20)) == "zstd"
    assert fmt(b"\x04\x22\x4d\x18" + os.urandom(20)) == "lz4"


def test_tensor_formats() -> None:
    assert fmt(safetensors_bytes()) == "safetensors"
    assert fmt(b"GGUF" + struct.pack("<LQQ", 3, 0, 0)) == "gguf"
    hdf5 = b"\x89HDF\r\n\x1a\n" + b"\x00" * 100
    assert fmt(hdf5) == "hdf5"
    assert fmt(b"\x00" * 512 + hdf5) == "hdf5"


def test_onnx_when_its_parser_is_present() -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("gate.formats.onnx")
    from onnx import helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [], [])
    model = helper.make_model(graph)
    assert fmt(model.SerializeToString()) == "onnx"


def test_executables_and_scripts() -> None:
    true = shutil.which("true")
    assert true is not None
    with open(true, "rb") as fh:
        assert detect(FileBlob(fh.fileno())) == "elf"
    pe = bytearray(b"MZ" + b"\x00" * 126)
    struct.pack_into("<L", pe, 60, 64)
    pe[64:68] = b"PE\x00\x00"
    assert fmt(bytes(pe)) == "pe"
    assert fmt(b"\xcf\xfa\xed\xfe" + os.urandom(60)) == "macho"
    assert fmt(b"#!/bin/sh\nrm -rf /\n") == "script"


def test_text_json_unknown_empty() -> None:
    assert fmt(b'{"architectures": ["Llama"]}') == "json"
    assert fmt("héllo wörld\n".encode()) == "text"
    assert fmt(b"") == "empty"
    noise = bytes(range(256)) * 4 + b"\x00\x01"
    assert fmt(noise) == "unknown"
    assert fmt(noise, "tensor-data") == "tensor-data"


def test_a_pickle_wins_over_a_zip_appended_to_it() -> None:
    # torch.load unpickles anything that does not start with a zip local header.
    assert fmt(PAYLOAD + zip_bytes(a=b"x")) == "pickle"


def test_random_float_data_is_not_a_pickle() -> None:
    np = pytest.importorskip("numpy")
    data = np.random.default_rng(6).standard_normal(1 << 20).astype("float32").tobytes()
    blob = BytesBlob(data)
    for sig in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        at = data.find(sig)
        while at >= 0:
            assert not trial_pickle(blob, at, strict=True)
            at = data.find(sig, at + 1)


def test_names_play_no_part(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with open(path, "rb") as fh:
        assert detect(FileBlob(fh.fileno())) == "pickle"
    path = tmp_path / "weights.bin"
    path.write_bytes(zip_bytes(a=b"x"))
    with open(path, "rb") as fh:
        assert detect(FileBlob(fh.fileno())) == "zip"


def test_every_result_is_a_documented_format() -> None:
    rng = __import__("random").Random(6)
    for _ in range(300):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 700)))
        assert fmt(data) in FORMATS


@pytest.mark.parametrize("proto", [b"\x80\x00", b"\x80\x01", b"\x80\x02"])
def test_low_protocol_headers_are_pickles(proto: bytes) -> None:
    # The unpickler accepts PROTO with any protocol up to 5.
    assert fmt(proto + PAYLOAD) == "pickle"


def test_tensor_storages_are_not_read_past_the_pickle_checks() -> None:
    assert fmt(b'{"a": 1}', "tensor-data") == "tensor-data"
    assert fmt(PAYLOAD, "tensor-data") == "pickle"


def test_joblib_wrappers() -> None:
    inner = pickle.dumps({"a": 1})
    assert fmt(lzma.compress(inner, format=lzma.FORMAT_ALONE)) == "lzma"
    zfile = b"ZF0x%-8x" % len(inner) + zlib.compress(inner)
    assert fmt(zfile) == "joblib"
