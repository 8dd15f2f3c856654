"""``.npy`` headers from numpy.save, object arrays handed to the pickle analyser, broken variants."""

from __future__ import annotations

import io
import random
import struct

import numpy as np
import pytest

from gate.formats import numpy as npy
from gate.formats.interface import BytesBlob


def _save(array: np.ndarray, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, **kwargs)  # type: ignore[arg-type]
    return buf.getvalue()


def _v(header: str, data: bytes = b"", version: tuple[int, int] = (1, 0)) -> bytes:
    raw = header.encode("latin-1")
    size = struct.pack("<H", len(raw)) if version[0] == 1 else struct.pack("<I", len(raw))
    return npy.MAGIC + bytes(version) + size + raw + data


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.zeros((2, 3), dtype=np.float64, order="F"),
        np.array([True, False]),
        np.array(["ab", "cde"]),
        np.array([b"ab", b"c"]),
        np.zeros(0, dtype=np.int16),
        np.array(3.5),
        np.zeros(4, dtype=[("a", "<i4"), ("b", "<f8", (2,)), ("c", [("d", "u1")])]),
        np.array(["2024-01-01"], dtype="datetime64[D]"),
        np.zeros(3, dtype=np.complex128),
        np.zeros(2, dtype=np.float16),
    ],
)
def test_real_arrays_pass(array: np.ndarray) -> None:
    data = _save(array)
    report = npy.parse(BytesBlob(data))
    assert report.findings == [] and report.children == [], [f.to_json() for f in report.findings]
    assert report.header["shape"] == list(array.shape)
    assert report.header["object_dtype"] is False
    assert npy.looks_like(BytesBlob(data))


def test_unicode_field_names_use_version_3() -> None:
    data = _save(np.zeros(2, dtype=[("名", "<i4")]))
    assert data[6] == 3
    assert npy.parse(BytesBlob(data)).findings == []


@pytest.mark.parametrize(
    "array",
    [
        np.array([{"a": 1}, None], dtype=object),
        np.zeros(2, dtype=[("x", "<f4"), ("y", "O")]),
    ],
)
def test_object_arrays_become_a_pickle_child(array: np.ndarray) -> None:
    data = _save(array, allow_pickle=True)
    report = npy.parse(BytesBlob(data))
    assert report.findings == []  # the pickle analyser judges the child
    [child] = report.children
    assert (child.name, child.hint) == ("<object-array>", "pickle")
    start = report.header["data_start"]
    assert child.blob.read_at(0, child.blob.size) == data[start:]
    assert child.blob.read_at(0, 1) == b"\x80"  # the pickle protocol opcode
    assert report.header["object_dtype"] is True


def test_appended_bytes_are_a_polyglot() -> None:
    data = _save(np.arange(4, dtype=np.uint8)) + b"\x80\x04junk."
    report = npy.parse(BytesBlob(data))
    assert {f.check for f in report.findings} == {"npy.size_mismatch", "npy.appended_data"}
    [child] = report.children
    assert child.name == f"<appended@{len(data) - 7}>"


HEADER = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"


@pytest.mark.parametrize(
    ("data", "check"),
    [
        (b"\x93NUMPY\x01", "npy.magic"),
        (_v(HEADER, bytes(8), (4, 0)), "npy.version"),
        (npy.MAGIC + b"\x02\x00" + struct.pack("<I", 2**31) + b"{}", "npy.header_too_large"),
        (npy.MAGIC + b"\x01\x00" + struct.pack("<H", 500) + b"{}", "npy.header_past_eof"),
        (_v(HEADER, bytes(4)), "npy.size_mismatch"),
        (_v("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", bytes(8)), "npy.header_keys"),
        (_v("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", bytes(8)), "npy.header_keys"),
        (_v("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", bytes(8)), "npy.header_syntax"),
        (_v("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", bytes(8)), "npy.shape_invalid"),
        (_v("{'descr': '<f3', 'fortran_order': False, 'shape': (2,)}", bytes(8)), "npy.dtype_invalid"),
        (_v("{'descr': 'zz', 'fortran_order': False, 'shape': (2,)}", bytes(8)), "npy.dtype_invalid"),
        (_v("{'descr': [], 'fortran_order': False, 'shape': (2,)}", bytes(8)), "npy.dtype_invalid"),
        (_v("__import__('os').system('id')", bytes(8)), "npy.header_syntax"),
        (_v("{'descr': '<f4', 'fortran_order': False, 'shape': (1+1,)}", bytes(8)), "npy.header_syntax"),
        (_v("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}"), "npy.header_syntax"),
        (_v("{" * 400 + "}" * 400), "npy.header_syntax"),
        (
            _v(
                "{'descr': " + "[('a', " * 40 + "'<f4'" + ")]" * 40 + ", 'fortran_order': False, 'shape': ()}"
            ),
            "npy.header_depth",
        ),
    ],
)
def test_broken_headers(data: bytes, check: str) -> None:
    report = npy.parse(BytesBlob(data))
    assert check in {f.check for f in report.findings}, [f.to_json() for f in report.findings]
    assert {f.code for f in report.findings} <= {"invalid_header", "polyglot_payload"}


def test_random_mutations_never_raise() -> None:
    rng = random.Random(3)
    bases = [
        _save(np.arange(12, dtype=np.float32).reshape(3, 4)),
        _save(np.zeros(4, dtype=[("a", "<i4"), ("b", "<f8", (2,))])),
        _save(np.array([1, None], dtype=object), allow_pickle=True),
    ]
    for _ in range(600):
        data = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 5)):
            data[rng.randrange(min(len(data), 128))] = rng.randrange(256)
        report = npy.parse(BytesBlob(bytes(data)))
        assert all(f.check != "npy.parser_error" for f in report.findings), report.findings
