"""gate.formats.torch: checkpoint layouts read the way torch.load reads them."""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile

import pytest

from gate.formats.interface import BytesBlob, Report
from gate.formats.pickle import parse
from gate.formats.torch import (
    MAGIC_NUMBER,
    analyse_legacy,
    analyse_tar_member,
    classify_zip_members,
    is_legacy,
)
from tests.formats.pickle_payloads import call0, glob, proto, s0

torch = pytest.importorskip("torch", reason="torch==2.13.0 is in the dev extra")


def checks(report: Report) -> set[str]:
    return {f.check for f in report.findings}


def legacy_bytes(obj: object) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


def zip_names(obj: object) -> list[str]:
    buf = io.BytesIO()
    torch.save(obj, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        return zf.namelist()


def test_zip_layout_from_member_names() -> None:
    names = zip_names({"w": torch.ones(3), "b": torch.zeros(2)})
    layout = classify_zip_members(names)
    assert layout["layout"] == "pytorch-zip"
    assert layout["root"] == names[0].split("/")[0]
    assert layout["data_pkl"] == layout["root"] + "/data.pkl"
    assert layout["pickles"] == [layout["root"] + "/data.pkl"]
    assert len(layout["storages"]) == 2
    assert layout["problems"] == []


def test_zip_layout_lists_every_pkl_and_flags_odd_members() -> None:
    names = [
        "model/data.pkl",
        "model/version",
        "model/data/0",
        "model/extra.pkl",
        "other/evil.pkl",
        "model/data.pkl",
    ]
    layout = classify_zip_members(names)
    assert layout["pickles"] == ["model/data.pkl", "model/extra.pkl", "other/evil.pkl", "model/data.pkl"]
    problems = " ".join(layout["problems"])
    assert "duplicate" in problems and "other/evil.pkl" in problems


def test_torchscript_archives_are_recognised() -> None:
    layout = classify_zip_members(["m/data.pkl", "m/constants.pkl", "m/code/__torch__.py", "m/version"])
    assert layout["layout"] == "torchscript"
    assert layout["code"] == ["m/code/__torch__.py"]


def test_legacy_tar_layout_from_member_names() -> None:
    layout = classify_zip_members(["sys_info", "pickle", "storages", "tensors"])
    assert layout["layout"] == "pytorch-legacy-tar"
    assert layout["data_pkl"] == "pickle"
    assert set(layout["pickles"]) == {"sys_info", "pickle", "storages", "tensors"}


def test_legacy_checkpoint_storages_are_accounted_for() -> None:
    data = legacy_bytes(
        {"w": torch.arange(100, dtype=torch.float32), "h": torch.ones(3, dtype=torch.float16)}
    )
    blob = BytesBlob(data)
    assert is_legacy(blob)
    report = analyse_legacy(blob)
    assert report.findings == []
    assert report.header["storage_keys"] == 2
    assert report.header["storage_bytes"] == 8 + 400 + 8 + 6
    assert report.header["trailing_bytes"] == 0


def test_bytes_after_the_last_storage_are_trailing_data() -> None:
    data = legacy_bytes({"w": torch.ones(4)}) + call0("os", "system", "id")
    report = analyse_legacy(BytesBlob(data))
    assert "pickle.trailing_data" in checks(report)
    assert len(report.children) == 1
    assert "pickle.dangerous_global" in checks(parse(report.children[0].blob))


def test_truncated_storage_is_reported() -> None:
    data = legacy_bytes({"w": torch.ones(100)})[:-10]
    assert "torch.truncated_storage" in checks(analyse_legacy(BytesBlob(data)))


def test_magic_number_computed_by_a_call_is_dangerous() -> None:
    magic = glob("__builtin__", "int") + b"(" + s0(hex(MAGIC_NUMBER)) + b"I16\ntR."
    rest = legacy_bytes({"w": torch.ones(2)})
    first_len = rest.index(b".") + 1  # the real magic-number pickle ends at its STOP
    data = magic + rest[first_len:]
    report = analyse_legacy(BytesBlob(data))
    assert "torch.computed_header" in checks(report)
    assert any(f.severity == "critical" for f in report.findings)
    # the layout is still recognised from the content alone, storages included
    assert is_legacy(BytesBlob(data))
    report = parse(BytesBlob(data))
    assert report.format == "pytorch-legacy"
    assert "torch.computed_header" in checks(report)
    assert report.header["trailing_bytes"] == 0


def test_payload_in_the_legacy_payload_pickle_is_found() -> None:
    rest = legacy_bytes({"w": torch.ones(2)})
    stops = [i for i, b in enumerate(rest) if b == ord(".")]
    head = rest[: stops[0] + 1]
    data = head + proto(2) + glob("os", "system") + b"(" + s0("id") + b"tR."
    report = parse(BytesBlob(data))
    assert "pickle.dangerous_global" in checks(report)


def test_legacy_tar_members_are_read_record_by_record(tmp_path: object) -> None:
    # torch no longer writes tar checkpoints; build the two interleaved members the way torch 0.3 did.
    import pickle

    storages = io.BytesIO()
    pickle.dump(1, storages, protocol=2)
    storages.write(b"\x80\x02(X\x01\x00\x00\x000X\x03\x00\x00\x00cpuctorch\nFloatStorage\nq\x00tq\x01.")
    storages.write(struct.pack("<q", 3) + bytes(12))
    report = analyse_tar_member("storages", BytesBlob(storages.getvalue()))
    assert report.findings == []
    assert report.header["records"] == 1
    bad = storages.getvalue() + call0("os", "system", "id")
    assert "pickle.trailing_data" in checks(analyse_tar_member("storages", BytesBlob(bad)))
    tensors = io.BytesIO()
    pickle.dump(1, tensors, protocol=2)
    pickle.dump(("k", "0", None), tensors, protocol=2)
    tensors.write(
        struct.pack("<i", 1) + bytes(4) + struct.pack("<q", 3) + struct.pack("<q", 1) + struct.pack("<q", 0)
    )
    report = analyse_tar_member("tensors", BytesBlob(tensors.getvalue()))
    assert report.findings == [] and report.header["records"] == 1
    with tarfile.open(fileobj=io.BytesIO(), mode="w"):
        pass
