"""7z archives: listed and checked first, expanded within bounds, never taken as clean unread."""

from __future__ import annotations

import importlib.util
import io
import os
import random
import struct
import zipfile
import zlib

import pytest

from gate.formats import sevenzip
from gate.formats.interface import BytesBlob, Limits, Report
from gate.formats.scan import scan_blob

py7zr = pytest.importorskip("py7zr")

PAYLOAD = b"cposix\nsystem\n(S'touch /tmp/pwned'\ntR."


def make(members: dict[str, bytes], *, plain_header: bool = False, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w", **kwargs) as archive:
        if plain_header:
            archive.set_encoded_header_mode(False)
        for name, data in members.items():
            archive.writestr(data, name)
    return buf.getvalue()


def rename(data: bytes, renames: dict[str, str]) -> bytes:
    """Rewrite member names in a plain (unencoded) header, fixing both CRCs: py7zr refuses bad names."""
    out = bytearray(data)
    offset, size = struct.unpack_from("<QQ", out, 12)
    start = 32 + offset
    for old, new in renames.items():
        assert len(old) == len(new)
        at = out.find(old.encode("utf-16-le"), start)
        assert at > 0
        out[at : at + 2 * len(new)] = new.encode("utf-16-le")
    struct.pack_into("<L", out, 28, zlib.crc32(out[start : start + size]))
    struct.pack_into("<L", out, 8, zlib.crc32(out[12:32]))
    return bytes(out)


def unsafe(report: Report) -> set[str]:
    return {f.check for f in report.findings if f.code == "archive_unsafe"}


def test_benign_archive() -> None:
    members = {"model/config.json": b"{}", "model/weights.bin": os.urandom(4000)}
    report = sevenzip.parse(BytesBlob(make(members)))
    assert report.findings == []
    assert {c.name: c.blob.read_at(0, c.blob.size) for c in report.children} == members
    assert report.header["members"] == 2


def test_large_archives_expand_members_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sevenzip, "EAGER_BYTES", 100)
    members = {"a.bin": os.urandom(3000), "b.bin": os.urandom(2000)}
    report = sevenzip.parse(BytesBlob(make(members)))
    assert all(isinstance(c.blob, sevenzip.SevenZipMember) for c in report.children)
    assert {c.name: c.blob.read_at(0, c.blob.size) for c in report.children} == members


def test_unsafe_names() -> None:
    data = make({"aa/aa/evil.sh": b"x", "Xabs": b"y"}, plain_header=True)
    data = rename(data, {"aa/aa/evil.sh": "../../evil.sh", "Xabs": "\\abs"})
    report = sevenzip.parse(BytesBlob(data))
    assert {"7z.path_traversal", "7z.absolute_path"} <= unsafe(report)


def test_encrypted_archive_fails_closed() -> None:
    for header_encryption in (False, True):
        data = make({"data.pkl": PAYLOAD}, password="secret", header_encryption=header_encryption)
        report = sevenzip.parse(BytesBlob(data))
        assert "7z.unsupported" in unsafe(report)
        assert report.children == []


def test_bomb_and_size_limits() -> None:
    data = make({"zeros": b"\x00" * (8 << 20)})
    assert "7z.bomb_ratio" in unsafe(sevenzip.parse(BytesBlob(data)))
    data = make({"a": os.urandom(5000)})
    report = sevenzip.parse(BytesBlob(data), Limits(max_member_bytes=1000))
    assert "7z.unsupported" in unsafe(report)
    assert report.children == []
    report = sevenzip.parse(BytesBlob(make({"a": b"1", "b": b"2", "c": b"3"})), Limits(max_entries=2))
    assert "7z.too_many_members" in unsafe(report)


def test_appended_data_and_corrupt_header() -> None:
    data = make({"a": b"x"})
    report = sevenzip.parse(BytesBlob(data + PAYLOAD))
    assert "7z.appended_data" in {f.check for f in report.findings if f.code == "polyglot_payload"}
    assert report.children[-1].name.startswith("<appended@")
    corrupt = bytearray(data)
    corrupt[15] ^= 0xFF
    assert [f.code for f in sevenzip.parse(BytesBlob(bytes(corrupt))).findings] == ["invalid_header"]


def test_7z_compressed_torch_checkpoint_has_its_pickles_scanned() -> None:
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save({"w": torch.ones(4)}, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        root = zf.namelist()[0].split("/")[0]
    data = make({"model.pt": buf.getvalue(), "extra.bin": PAYLOAD})
    result = scan_blob(BytesBlob(data), name="model.7z")
    formats = {m["path"]: m["format"] for m in result.members}
    assert formats["model.7z!model.pt"] == "pytorch-zip"
    assert formats[f"model.7z!model.pt!{root}/data.pkl"] == "pickle"
    assert formats["model.7z!extra.bin"] == "pickle"
    payload_findings = [f for f in result.findings if f.member == "model.7z!extra.bin"]
    if importlib.util.find_spec("gate.formats.pickle"):
        assert any(f.code == "unsafe_pickle" for f in payload_findings)
    else:
        assert any(f.check == "pickle.parser_unavailable" for f in payload_findings)


def test_random_mutations_never_raise() -> None:
    rng = random.Random(7)
    seed = make({"a.txt": b"hello " * 50, "b.bin": os.urandom(500), "c.pkl": PAYLOAD})
    for _ in range(150):
        buf = bytearray(seed)
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        report = sevenzip.parse(BytesBlob(bytes(buf)), Limits(max_expanded_bytes=1 << 20))
        for child in report.children:
            child.blob.read_at(0, child.blob.size)
        scan_blob(BytesBlob(bytes(buf)), name="fuzz.7z")
