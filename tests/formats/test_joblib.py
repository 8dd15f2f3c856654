"""gate.formats.joblib: joblib's in-stream arrays and compressed files."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import zlib

import pytest

from gate.formats.interface import BytesBlob, Limits, Report
from gate.formats.joblib import compression_of, parse
from gate.formats.pickle import parse as parse_pickle
from tests.formats.pickle_payloads import call4, glob, proto, s0

joblib = pytest.importorskip("joblib", reason="joblib is installed with scikit-learn in the dev extra")
np = pytest.importorskip("numpy")


def checks(report: Report) -> set[str]:
    return {f.check for f in report.findings}


def dump(obj: object, **kw: object) -> bytes:
    buf = io.BytesIO()
    joblib.dump(obj, buf, **kw)
    return buf.getvalue()


ARRAYS = {
    "f8": np.arange(1000, dtype="f8"),
    "f4_2d": np.ones((7, 9), dtype=np.float32),
    "fortran": np.asfortranarray(np.ones((3, 5))),
    "u": np.array(["ab", "cde"]),
    "bytes": np.array([b"x", b"yz"]),
    "bool": np.array([True, False]),
    "dt": np.array(["2024-01-01"], dtype="datetime64[D]"),
    "objects": np.array([1, "two", None], dtype=object),
    "rec": np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")]),
    "empty": np.zeros((0, 4)),
    "scalar_shape": np.array(5.0),
}


def test_joblib_arrays_are_skipped_like_joblib_reads_them() -> None:
    report = parse(BytesBlob(dump(ARRAYS)))
    assert report.format == "joblib"
    assert report.findings == [], [f.to_json() for f in report.findings]
    assert report.header["stop_reached"]


def test_plain_pickle_parse_also_understands_joblib() -> None:
    report = parse_pickle(BytesBlob(dump(ARRAYS)))
    assert report.format == "joblib"
    assert report.findings == []


def test_sklearn_estimators_via_joblib_are_clean() -> None:
    sklearn = pytest.importorskip("sklearn", reason="scikit-learn is in the dev extra")
    assert sklearn
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    rng = np.random.default_rng(0)
    x = rng.random((40, 4))
    y = (x[:, 0] > 0.5).astype(int)
    estimators = [
        make_pipeline(StandardScaler(), LogisticRegression()),
        RandomForestClassifier(n_estimators=3, random_state=0),
        GradientBoostingClassifier(n_estimators=3),
        HistGradientBoostingClassifier(max_iter=3),
        SVC(),
        KNeighborsClassifier(n_neighbors=3),
    ]
    for est in estimators:
        est.fit(x, y)
        for kw in ({}, {"compress": 3}):
            report = parse(BytesBlob(dump(est, **kw)))
            while report.children:
                report = parse(report.children[0].blob)
            bad = [f.to_json() for f in report.findings]
            assert bad == [], (type(est).__name__, bad)


@pytest.mark.parametrize(
    ("kind", "compress"),
    [
        ("zlib", ("zlib", 3)),
        ("gzip", ("gzip", 3)),
        ("bz2", ("bz2", 3)),
        ("xz", ("xz", 3)),
        ("lzma", ("lzma", 3)),
    ],
)
def test_compressed_joblib_becomes_a_pickle_child(kind: str, compress: tuple[str, int]) -> None:
    data = dump(ARRAYS, compress=compress)
    blob = BytesBlob(data)
    assert compression_of(blob) == kind
    report = parse(blob)
    assert report.header["compression"] == kind
    assert [c.hint for c in report.children] == ["pickle"]
    inner = parse(report.children[0].blob)
    assert inner.findings == []


@pytest.mark.parametrize(
    "compress", [zlib.compress, gzip.compress, bz2.compress, lzma.compress], ids=["zlib", "gzip", "bz2", "xz"]
)
def test_payload_inside_compression_is_handed_on(compress: object) -> None:
    payload = call4("os", "system", "id")
    report = parse(BytesBlob(compress(payload)))  # type: ignore[operator]
    inner = parse_pickle(report.children[0].blob)
    assert "pickle.dangerous_global" in checks(inner)


def test_decompression_bomb_is_refused() -> None:
    bomb = zlib.compress(bytes(50 * 1024 * 1024), 9)
    report = parse(BytesBlob(bomb), Limits(max_member_bytes=10 * 1024 * 1024))
    assert "joblib.decompression_bomb" in checks(report)
    assert report.children == []


def test_corrupt_compression_is_a_finding() -> None:
    report = parse(BytesBlob(b"\x78\x9c" + b"\x00garbage" * 10))
    assert "joblib.decompress_error" in checks(report)


def test_payload_where_joblib_skips_padding_is_seen() -> None:
    # A wrapper whose "padding" is really opcodes: joblib skips them, pickle.load runs them.
    data = dump({"a": np.arange(4, dtype="f8")})
    marker = b"numpy_array_alignment_bytes\x94K\x10ub"
    at = data.index(marker) + len(marker)
    # The padding-length byte is "c" (99): joblib skips 99 bytes, pickle.load reads a GLOBAL.
    hidden = glob("os", "system")[1:] + b"(" + s0("id") + b"tR0"
    filler = b"K\x000" if (99 - len(hidden)) % 2 else b""
    hidden += filler + b"N0" * ((99 - len(hidden) - len(filler)) // 2)
    assert len(hidden) == 99
    evil = data[:at] + b"c" + hidden + data[at + 1 + data[at] :]
    report = parse(BytesBlob(evil))
    assert {"joblib.bad_padding", "pickle.skipped_bytes_are_opcodes", "pickle.dangerous_global"} <= checks(
        report
    )


def test_payload_in_an_object_array_stream_is_found() -> None:
    data = dump({"o": np.array([1, "x"], dtype=object)})
    inner = proto(5) + glob("os", "system") + b"(" + s0("id") + b"tR."
    start = data.index(b"\x80\x05")
    end = data.index(b".", start) + 1
    evil = data[:start] + inner + data[end:]
    report = parse(BytesBlob(evil))
    assert "pickle.dangerous_global" in checks(report)


def test_wrapper_with_computed_array_class_is_dangerous() -> None:
    wrapper = (
        glob("joblib.numpy_pickle", "NumpyArrayWrapper")
        + b")\x81}("
        + s0("subclass")
        + glob("collections", "OrderedDict")
        + b")R"
        + s0("shape")
        + b")ub."
    )
    assert "pickle.computed_callable" in checks(parse(BytesBlob(proto(2) + wrapper)))


def test_unsized_wrapper_is_a_finding() -> None:
    wrapper = glob("joblib.numpy_pickle", "NumpyArrayWrapper") + b")\x81}(" + s0("shape") + s0("x") + b"ub."
    report = parse(BytesBlob(proto(2) + wrapper))
    assert "joblib.array_unknown_size" in checks(report)
    assert struct
