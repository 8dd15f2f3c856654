"""The zip reader: the archive a loader sees, and every way it can differ from what a scanner sees."""

from __future__ import annotations

import io
import os
import pickle
import random
import stat
import struct
import zipfile
import zlib

import pytest

from gate.formats import zip as zipfmt
from gate.formats.interface import BytesBlob, Limits, Report, SliceBlob
from tests.formats import zipbuild
from tests.formats.zipbuild import Member

PAYLOAD = b"cposix\nsystem\n(S'touch /tmp/pwned'\ntR."


def checks(report: Report) -> set[str]:
    return {f.check for f in report.findings}


def unsafe(report: Report) -> list[str]:
    return [f.check for f in report.findings if f.code == "archive_unsafe"]


def children(report: Report) -> dict[str, bytes]:
    return {c.name: c.blob.read_at(0, c.blob.size) for c in report.children}


def made_by_zipfile(**members: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(
                name, data, compress_type=zipfile.ZIP_DEFLATED if len(data) > 64 else zipfile.ZIP_STORED
            )
    return buf.getvalue()


def test_benign_archive_reads_like_zipfile() -> None:
    data = made_by_zipfile(**{"model/data.pkl": pickle.dumps({"w": 1}), "big.bin": os.urandom(5000) * 3})
    report = zipfmt.parse(BytesBlob(data))
    assert report.findings == []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert children(report) == {n: zf.read(n) for n in zf.namelist()}
    assert report.header["members"] == 2
    assert report.header["methods"] == {"stored": 1, "deflate": 1}


def test_stored_members_are_zero_copy_slices() -> None:
    data = zipbuild.build([Member("a", b"x" * 100)])
    report = zipfmt.parse(BytesBlob(data))
    assert isinstance(report.children[0].blob, SliceBlob)


def test_archive_written_to_a_pipe_with_data_descriptors_is_clean() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.buf = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:  # type: ignore[override]
            self.buf += b
            return len(b)

    pipe = Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.txt", b"hello " * 100)
        zf.writestr("b.txt", b"world " * 100)
    report = zipfmt.parse(BytesBlob(bytes(pipe.buf)))
    assert report.findings == []
    assert children(report)["b.txt"] == b"world " * 100


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("../../etc/cron.d/x", "zip.path_traversal"),
        ("model/../../x", "zip.path_traversal"),
        ("/etc/passwd", "zip.absolute_path"),
        ("\\windows\\x", "zip.absolute_path"),
        ("C:/x", "zip.absolute_path"),
        ("a\\..\\..\\x", "zip.path_traversal"),
        ("a\\b", "zip.backslash_in_name"),
        ("a\x00.txt", "zip.nul_in_name"),
    ],
)
def test_unsafe_names(name: str, check: str) -> None:
    report = zipfmt.parse(BytesBlob(zipbuild.build([Member(name, b"data")])))
    finding = next(f for f in report.findings if f.check == check)
    assert finding.code == "archive_unsafe"
    assert finding.member == name
    assert finding.offset is not None


def test_duplicate_names_are_flagged_and_both_copies_scanned() -> None:
    report = zipfmt.parse(BytesBlob(zipbuild.build([Member("a/x", b"one"), Member("a//x", b"two")])))
    assert "zip.duplicate_name" in unsafe(report)
    assert [c.blob.read_at(0, 3) for c in report.children] == [b"one", b"two"]


def test_symlink_and_special_members() -> None:
    link = Member("link", b"/etc/passwd", external_attr=(stat.S_IFLNK | 0o777) << 16)
    fifo = Member("fifo", b"", external_attr=(stat.S_IFIFO | 0o644) << 16)
    report = zipfmt.parse(BytesBlob(zipbuild.build([link, fifo])))
    assert {"zip.symlink", "zip.special_file"} <= set(unsafe(report))
    assert report.children == []


def test_members_sharing_one_local_header_are_hardlinks() -> None:
    data = zipbuild.build([Member("a", b"payload"), Member("b", b"payload", offset_of=0)])
    assert "zip.hardlink" in unsafe(zipfmt.parse(BytesBlob(data)))


def test_local_header_name_disagreeing_with_directory_payload_seen_under_directory_name() -> None:
    data = zipbuild.build(
        [
            Member("archive/data.pkl", PAYLOAD, local_name="archive/notes.txt"),
            Member("archive/version", b"3\n"),
        ]
    )
    report = zipfmt.parse(BytesBlob(data))
    assert "zip.local_name_mismatch" in unsafe(report)
    assert children(report)["archive/data.pkl"] == PAYLOAD


def test_local_header_fields_disagreeing() -> None:
    data = zipbuild.build(
        [
            Member("m", b"x" * 50, method=8, local_method=0),
            Member("f", b"y", local_flags=0x800),
            Member("c", b"z", local_crc=1234),
            Member("s", b"w", local_csize=99),
        ]
    )
    found = set(unsafe(zipfmt.parse(BytesBlob(data))))
    assert {
        "zip.local_method_mismatch",
        "zip.local_flags_mismatch",
        "zip.local_crc_mismatch",
        "zip.local_size_mismatch",
    } <= found


@pytest.mark.parametrize(
    ("flags", "check"),
    [
        (0x1, "zip.encrypted"),
        (0x20, "zip.patched_data"),
        (0x40, "zip.strong_encryption"),
        (0x4000, "zip.unexpected_flags"),
    ],
)
def test_flag_bits_are_flagged_and_member_still_scanned(flags: int, check: str) -> None:
    report = zipfmt.parse(BytesBlob(zipbuild.build([Member("archive/data.pkl", PAYLOAD, flags=flags)])))
    assert check in unsafe(report)
    assert children(report)["archive/data.pkl"] == PAYLOAD


def test_crc_mismatch_is_a_finding_and_the_member_is_still_returned() -> None:
    data = zipbuild.build([Member("archive/data.pkl", PAYLOAD, crc=0xDEADBEEF)])
    with pytest.raises(zipfile.BadZipFile), zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.read("archive/data.pkl")
    report = zipfmt.parse(BytesBlob(data))
    assert "zip.crc_mismatch" in unsafe(report)
    assert children(report)["archive/data.pkl"] == PAYLOAD


def test_crc_mismatch_in_deflated_member() -> None:
    data = zipbuild.build([Member("a", b"hello" * 100, method=8, crc=1)])
    report = zipfmt.parse(BytesBlob(data))
    assert "zip.crc_mismatch" in unsafe(report)
    assert children(report)["a"] == b"hello" * 100


def test_large_stored_members_skip_the_crc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipfmt, "CRC_CHECK_BYTES", 10)
    report = zipfmt.parse(BytesBlob(zipbuild.build([Member("a", b"x" * 100, crc=5)])))
    assert report.findings == []
    assert report.header["crc_unchecked"] == 1


def test_bomb_ratio_stops_expansion() -> None:
    data = zipbuild.build([Member("zeros", b"\x00" * (8 << 20), method=8)])
    report = zipfmt.parse(BytesBlob(data), Limits(max_ratio=50))
    assert "zip.bomb_ratio" in unsafe(report)
    assert report.children[0].blob.size < 8 << 20


def test_small_runs_of_zeros_are_not_bombs() -> None:
    report = zipfmt.parse(BytesBlob(zipbuild.build([Member("zeros", b"\x00" * 100_000, method=8)])))
    assert report.findings == []


def test_member_and_total_expansion_limits() -> None:
    blob = os.urandom(300_000)
    data = zipbuild.build([Member("a", blob, method=8), Member("b", blob, method=8)])
    report = zipfmt.parse(BytesBlob(data), Limits(max_member_bytes=100_000))
    assert "zip.member_too_large" in unsafe(report)
    assert report.children[0].blob.size == 100_000
    report = zipfmt.parse(BytesBlob(data), Limits(max_expanded_bytes=400_000))
    assert "zip.expanded_too_large" in unsafe(report)


def test_member_count_limit() -> None:
    data = zipbuild.build([Member(f"m{i}", b"x") for i in range(5)])
    report = zipfmt.parse(BytesBlob(data), Limits(max_entries=3))
    assert "zip.too_many_members" in unsafe(report)
    assert len(report.children) == 3


def test_declared_entry_count_disagreeing() -> None:
    data = zipbuild.build([Member("a", b"x"), Member("b", b"y")], declared_entries=1)
    assert "zip.entry_count_mismatch" in unsafe(zipfmt.parse(BytesBlob(data)))


def test_unsupported_method_fails_closed() -> None:
    data = zipbuild.build([Member("a", b"x" * 10, method=98, payload=b"\x01\x02\x03")])
    report = zipfmt.parse(BytesBlob(data))
    assert "zip.unsupported_method" in unsafe(report)
    assert report.children == []


def test_bzip2_and_lzma_members_are_read() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("b", b"bzip " * 500, compress_type=zipfile.ZIP_BZIP2)
        zf.writestr("l", b"lzma " * 500, compress_type=zipfile.ZIP_LZMA)
    report = zipfmt.parse(BytesBlob(buf.getvalue()))
    assert report.findings == []
    assert children(report) == {"b": b"bzip " * 500, "l": b"lzma " * 500}


def test_zip64_records_are_followed() -> None:
    data = zipbuild.build([Member("a", b"hello", zip64=True), Member("b", b"world")], zip64=True)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.read("a") == b"hello"
    report = zipfmt.parse(BytesBlob(data))
    assert report.findings == []
    assert report.header["zip64"] is True
    assert children(report) == {"a": b"hello", "b": b"world"}


def test_zip64_count_disagreeing_with_classic_record() -> None:
    data = bytearray(zipbuild.build([Member("a", b"x")], zip64=True))
    eocd = data.rfind(b"PK\x05\x06")
    struct.pack_into("<2H", data, eocd + 8, 7, 7)
    assert "zip.zip64_mismatch" in unsafe(zipfmt.parse(BytesBlob(bytes(data))))


def test_prepended_and_appended_data_become_children() -> None:
    data = zipbuild.build([Member("a", b"x")], prepend=PAYLOAD, append=b"tail" + PAYLOAD)
    report = zipfmt.parse(BytesBlob(data))
    polyglot = {f.check for f in report.findings if f.code == "polyglot_payload"}
    assert polyglot == {"zip.prepended_data", "zip.appended_data"}
    kids = children(report)
    assert kids["<prepended@0>"] == PAYLOAD
    assert any(name.startswith("<appended@") and blob.endswith(PAYLOAD) for name, blob in kids.items())


def test_prepended_data_with_unadjusted_offsets() -> None:
    data = zipbuild.build([Member("a", b"x")], prepend=b"junk" * 10, relative_offsets=True)
    report = zipfmt.parse(BytesBlob(data))
    assert report.header["base_offset"] == 40
    assert children(report)["a"] == b"x"
    assert "zip.prepended_data" in checks(report)


def test_bytes_between_members_are_flagged() -> None:
    data = zipbuild.build([Member("a", b"x"), Member("b", b"y")], gap=PAYLOAD)
    report = zipfmt.parse(BytesBlob(data))
    assert "zip.gap_data" in checks(report)
    assert PAYLOAD in children(report).values()


def test_overlapping_members() -> None:
    inner = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0x21, zlib.crc32(b"y"), 1, 1, 1, 0) + b"by"
    data = bytearray(zipbuild.build([Member("a", b"0123456789" + inner), Member("b", b"y")]))
    cd = data.find(b"PK\x01\x02")
    second = data.find(b"PK\x01\x02", cd + 4)
    struct.pack_into("<L", data, second + 42, 30 + 1 + 10)
    report = zipfmt.parse(BytesBlob(bytes(data)))
    assert "zip.overlapping_members" in unsafe(report)
    assert children(report)["b"] == b"y"


def test_member_running_into_the_directory() -> None:
    data = bytearray(zipbuild.build([Member("a", b"x" * 10)]))
    cd = data.find(b"PK\x01\x02")
    struct.pack_into("<2L", data, cd + 20, 40, 40)
    struct.pack_into("<2L", data, 18, 40, 40)
    report = zipfmt.parse(BytesBlob(bytes(data)))
    assert "zip.member_overlaps_directory" in unsafe(report)


def test_no_directory_is_an_invalid_header() -> None:
    report = zipfmt.parse(BytesBlob(b"PK\x03\x04" + b"\x00" * 100))
    assert [f.code for f in report.findings] == ["invalid_header"]


def test_looks_like_and_names() -> None:
    data = made_by_zipfile(a=b"1", b=b"2")
    assert zipfmt.looks_like(BytesBlob(data))
    assert zipfmt.looks_like(BytesBlob(b"junk" + data))
    assert not zipfmt.looks_like(BytesBlob(b"PK\x05\x07" + os.urandom(100)))
    assert zipfmt.member_names(BytesBlob(data)) == ["a", "b"]


def mutations(data: bytes, rng: random.Random, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        buf = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            kind = rng.random()
            pos = rng.randrange(len(buf))
            if kind < 0.6:
                buf[pos] = rng.randrange(256)
            elif kind < 0.8:
                struct.pack_into(
                    "<L", buf, min(pos, len(buf) - 4), rng.choice([0, 0xFFFFFFFF, rng.randrange(1 << 32)])
                )
            else:
                del buf[pos : pos + rng.randint(1, 16)]
        out.append(bytes(buf))
    return out


def test_random_mutations_never_raise() -> None:
    rng = random.Random(6)
    seeds = [
        made_by_zipfile(**{"archive/data.pkl": pickle.dumps([1, 2]), "archive/data/0": os.urandom(300)}),
        zipbuild.build([Member("a", b"hello" * 30, method=8, zip64=True), Member("b", b"x")], zip64=True),
        zipbuild.build([Member("a", zlib.compress(b"z") * 3, method=8, flags=0x8)]),
    ]
    for seed in seeds:
        for sample in mutations(seed, rng, 400):
            report = zipfmt.parse(BytesBlob(sample), Limits(max_member_bytes=1 << 20))
            for child in report.children:
                child.blob.read_at(0, child.blob.size)


def test_unicode_path_field_naming_another_member() -> None:
    raw = b"safe.txt"
    extra = struct.pack("<2HBL", 0x7075, 5 + len("data.pkl"), 1, zlib.crc32(raw)) + b"data.pkl"
    report = zipfmt.parse(BytesBlob(zipbuild.build([Member("safe.txt", b"x", extra=extra)])))
    assert "zip.unicode_name_mismatch" in unsafe(report)


def test_two_reachable_directories_are_ambiguous() -> None:
    # A directory at the stored offset and another after prepended bytes.
    inner = zipbuild.build([Member("a", b"x")])
    data = zipbuild.build([Member("b", b"y")], prepend=inner, relative_offsets=True)
    report = zipfmt.parse(BytesBlob(data))
    assert "zip.ambiguous_directory" in unsafe(report)
