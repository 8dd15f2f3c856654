"""safetensors header validation on files written by the safetensors library, and broken variants."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

from gate.formats import safetensors
from gate.formats.interface import BytesBlob, Limits


def _real(tmp_path: Path) -> bytes:
    path = tmp_path / "model.safetensors"
    rng = np.random.default_rng(0)
    save_file(
        {
            "embed.weight": rng.standard_normal((16, 8)).astype(np.float32),
            "ln.bias": np.zeros(8, np.float16),
            "head.weight": rng.standard_normal((4, 8)).astype(np.float64),
            "mask": np.ones(3, np.bool_),
            "ids": np.arange(5, dtype=np.int64),
        },
        str(path),
        metadata={"format": "np", "source": "test"},
    )
    return path.read_bytes()


def _build(header: dict[str, Any], data: bytes, raw: bytes | None = None) -> bytes:
    text = raw if raw is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def _checks(data: bytes, limits: Limits | None = None) -> set[str]:
    report = safetensors.parse(BytesBlob(data), limits or Limits())
    return {f.check for f in report.findings}


def test_real_file_passes_with_a_summary(tmp_path: Path) -> None:
    data = _real(tmp_path)
    report = safetensors.parse(BytesBlob(data))
    assert report.format == "safetensors" and report.findings == [] and report.children == []
    h = report.header
    assert h["tensor_count"] == 5
    assert h["dtypes"] == {"BOOL": 1, "F16": 1, "F32": 1, "F64": 1, "I64": 1}
    assert h["metadata"] == {"format": "np", "source": "test"}
    assert h["total_parameters"] == 16 * 8 + 8 + 4 * 8 + 3 + 5
    assert safetensors.looks_like(BytesBlob(data))


def test_only_the_header_is_read(tmp_path: Path) -> None:
    data = _real(tmp_path)

    class Counting(BytesBlob):
        read = 0

        def read_at(self, offset: int, length: int) -> bytes:
            out = super().read_at(offset, length)
            Counting.read += len(out)
            return out

    safetensors.parse(Counting(data))
    (n,) = struct.unpack("<Q", data[:8])
    assert Counting.read <= 8 + n + 8


def test_every_library_dtype_is_known(tmp_path: Path) -> None:
    for dtype in (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.complex64):
        path = tmp_path / "one.safetensors"
        save_file({"t": np.zeros((2, 3), dtype)}, str(path))
        assert safetensors.parse(BytesBlob(path.read_bytes())).findings == []


def test_subbyte_dtypes() -> None:
    ok = _build({"t": {"dtype": "F4", "shape": [4], "data_offsets": [0, 2]}}, b"\0\0")
    assert _checks(ok) == set()
    odd = _build({"t": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}, b"\0\0")
    assert _checks(odd) == {"safetensors.subbyte_misaligned"}


def test_appended_pickle_is_a_polyglot_with_a_child(tmp_path: Path) -> None:
    data = _real(tmp_path)
    payload = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94."
    report = safetensors.parse(BytesBlob(data + payload))
    [finding] = report.findings
    assert (finding.code, finding.check, finding.offset) == (
        "polyglot_payload",
        "safetensors.appended_data",
        len(data),
    )
    [child] = report.children
    assert child.name == f"<appended@{len(data)}>"
    assert child.blob.read_at(0, child.blob.size) == payload


def _one(dtype: str = "F32", shape: Any = (2,), offsets: Any = (0, 8)) -> dict[str, Any]:
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


@pytest.mark.parametrize(
    ("data", "check"),
    [
        (b"\x01\x02", "safetensors.too_small"),
        (struct.pack("<Q", 2**64 - 1) + b"{}", "safetensors.header_too_large"),
        (struct.pack("<Q", 1000) + b"{}", "safetensors.header_past_eof"),
        (_build({}, b"", raw=b"[]"), "safetensors.header_start"),
        (_build({}, b"", raw=b'{"a": 1, "a": 2}'), "safetensors.json_duplicate_key"),
        (_build({}, b"", raw=b'{"a": NaN}'), "safetensors.json_constant"),
        (_build({}, b"", raw=b'{"a": \xff}'), "safetensors.json_utf8"),
        (_build({}, b"", raw=b'{"a": '), "safetensors.json_syntax"),
        (_build({}, b"", raw=b'{"a":' + b"[" * 100 + b"]" * 100 + b"}"), "safetensors.json_depth"),
        (_build({}, b"", raw=b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}"), "safetensors.json_depth"),
        (_build({"t": _one(dtype="F128")}, bytes(8)), "safetensors.dtype_unknown"),
        (_build({"t": _one(shape=(-2,))}, bytes(8)), "safetensors.shape_invalid"),
        (_build({"t": _one(shape=(2.0,))}, bytes(8)), "safetensors.shape_invalid"),
        (_build({"t": _one(shape=(2**40, 2**40))}, bytes(8)), "safetensors.shape_overflow"),
        (_build({"t": _one(offsets=(8, 0))}, bytes(8)), "safetensors.offsets_invalid"),
        (_build({"t": _one(offsets=(0, 2**64))}, bytes(8)), "safetensors.offsets_invalid"),
        (_build({"t": "x"}, bytes(8)), "safetensors.tensor_entry"),
        (_build({"t": {"dtype": "F32", "shape": [2]}}, bytes(8)), "safetensors.tensor_entry"),
        (_build({"t": _one(shape=(3,))}, bytes(8)), "safetensors.span_mismatch"),
        (_build({"t": _one(offsets=(4, 12))}, bytes(12)), "safetensors.first_offset"),
        (_build({"t": _one(offsets=(0, 16), shape=(4,))}, bytes(8)), "safetensors.offsets_out_of_range"),
        (_build({"__metadata__": {"a": 1}}, b""), "safetensors.metadata_type"),
        (_build({"__metadata__": ["a"]}, b""), "safetensors.metadata_type"),
        (_build({}, b"", raw=b'"just a string"'), "safetensors.header_start"),
    ],
)
def test_broken_headers(data: bytes, check: str) -> None:
    report = safetensors.parse(BytesBlob(data))
    assert check in {f.check for f in report.findings}, [f.to_json() for f in report.findings]
    assert all(f.code == "invalid_header" for f in report.findings)


def test_layout_violations_carry_the_tensor_offset() -> None:
    overlap = _build({"a": _one(offsets=(0, 8)), "b": _one(offsets=(4, 12))}, bytes(12))
    report = safetensors.parse(BytesBlob(overlap))
    [f] = [f for f in report.findings if f.check == "safetensors.offsets_overlap"]
    header_len = struct.unpack("<Q", overlap[:8])[0]
    assert f.offset == 8 + header_len + 4 and f.data["tensor"] == "b"
    gap = _build({"a": _one(offsets=(0, 8)), "b": _one(offsets=(12, 20))}, bytes(20))
    assert _checks(gap) == {"safetensors.offsets_gap"}


def test_unsorted_declaration_is_recorded_not_refused() -> None:
    data = _build({"b": _one(offsets=(8, 16)), "a": _one(offsets=(0, 8))}, bytes(16))
    report = safetensors.parse(BytesBlob(data))
    assert report.findings == [] and report.header["declared_in_offset_order"] is False


def test_too_many_tensors_and_small_header_limit(tmp_path: Path) -> None:
    data = _real(tmp_path)
    assert "safetensors.too_many_tensors" in _checks(data, Limits(max_entries=2))
    assert "safetensors.header_too_large" in _checks(data, Limits(max_header_bytes=16))


def test_random_mutations_never_raise(tmp_path: Path) -> None:
    rng = random.Random(1)
    base = _real(tmp_path)
    for _ in range(500):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(min(len(data), 400))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        report = safetensors.parse(BytesBlob(bytes(data)))
        assert all(f.check != "safetensors.parser_error" for f in report.findings)
        json.dumps(report.header)
