"""Tar archives: walked header by header, never extracted."""

from __future__ import annotations

import io
import os
import random
import tarfile

import pytest

from gate.formats import tar
from gate.formats.interface import BytesBlob, Limits, Report, SliceBlob
from gate.formats.scan import scan_blob

PAYLOAD = b"cposix\nsystem\n(S'touch /tmp/pwned'\ntR."


Spec = tarfile.TarInfo | tuple[str, bytes]


def make(members: list[Spec], mode: str = "w", fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=fmt) as tf:  # type: ignore[call-overload]
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tf.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
    return buf.getvalue()


def link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def unsafe(report: Report) -> set[str]:
    return {f.check for f in report.findings if f.code == "archive_unsafe"}


def contents(report: Report) -> dict[str, bytes]:
    return {c.name: c.blob.read_at(0, c.blob.size) for c in report.children}


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_benign_tars_read_like_tarfile(mode: str, fmt: int) -> None:
    long_name = "deep/" * 30 + "weights.bin"
    members: list[Spec] = [("model/config.json", b"{}"), ("empty", b"")]
    if fmt != tarfile.USTAR_FORMAT:
        members.append((long_name, os.urandom(3000)))
    data = make(members, mode, fmt)
    report = tar.parse(BytesBlob(data))
    assert report.findings == []
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        expected = {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}  # type: ignore[union-attr]
    assert contents(report) == expected


def test_uncompressed_members_are_zero_copy() -> None:
    report = tar.parse(BytesBlob(make([("a", b"x" * 700)])))
    assert isinstance(report.children[0].blob, SliceBlob)


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("../../etc/x", "tar.path_traversal"),
        ("/etc/x", "tar.absolute_path"),
        ("a\\b", "tar.backslash_in_name"),
    ],
)
def test_unsafe_names(name: str, check: str) -> None:
    report = tar.parse(BytesBlob(make([(name, b"x")])))
    assert check in unsafe(report)
    assert [f.member for f in report.findings if f.check == check] == [name]


def test_links_devices_and_duplicates() -> None:
    fifo = tarfile.TarInfo("pipe")
    fifo.type = tarfile.FIFOTYPE
    dev = tarfile.TarInfo("dev")
    dev.type = tarfile.CHRTYPE
    data = make(
        [
            link("s", "../../etc/passwd", tarfile.SYMTYPE),
            link("h", "/etc/shadow", tarfile.LNKTYPE),
            fifo,
            dev,
            ("dup", b"1"),
            ("./dup", b"2"),
        ]
    )
    report = tar.parse(BytesBlob(data))
    assert {"tar.symlink", "tar.hardlink", "tar.special_file", "tar.duplicate_name"} <= unsafe(report)
    symlink = next(f for f in report.findings if f.check == "tar.symlink")
    assert symlink.data["target"] == "../../etc/passwd"
    assert list(contents(report).values()) == [b"1", b"2"]


def test_member_count_limit() -> None:
    report = tar.parse(BytesBlob(make([(f"m{i}", b"x") for i in range(6)])), Limits(max_entries=4))
    assert "tar.too_many_members" in unsafe(report)
    assert len(report.children) == 4


def test_compressed_bomb_is_stopped() -> None:
    data = make([("zeros", b"\x00" * (6 << 20))], "w:gz")
    report = tar.parse(BytesBlob(data), Limits(max_ratio=20))
    assert "tar.bomb_ratio" in unsafe(report)


def test_expansion_budget() -> None:
    data = make([("a", os.urandom(200_000))], "w:xz")
    report = tar.parse(BytesBlob(data), Limits(max_expanded_bytes=50_000))
    assert "tar.expanded_too_large" in unsafe(report)


def test_truncated_member_and_bad_checksum() -> None:
    data = make([("a", os.urandom(5000))])
    report = tar.parse(BytesBlob(data[:2000]))
    assert "tar.member_out_of_range" in unsafe(report)
    corrupt = bytearray(data)
    corrupt[10] ^= 0xFF
    assert [f.check for f in tar.parse(BytesBlob(bytes(corrupt))).findings] == ["tar.bad_checksum"]


def test_data_after_the_end_marker_is_a_polyglot_payload() -> None:
    data = make([("a", b"x")]) + PAYLOAD
    report = tar.parse(BytesBlob(data))
    assert [f.code for f in report.findings] == ["polyglot_payload"]
    assert report.children[-1].name.startswith("<appended@")


def test_directory_claiming_data_is_ambiguous() -> None:
    info = tarfile.TarInfo("d")
    info.type = tarfile.DIRTYPE
    raw = bytearray(make([info, ("after", b"x")]))
    raw[124:136] = b"%011o\x00" % 512
    raw[148:156] = b" " * 8
    raw[148:156] = b"%06o\x00 " % sum(raw[:512])
    report = tar.parse(BytesBlob(bytes(raw)))
    assert "tar.data_on_non_file" in unsafe(report)


def test_pickle_in_a_tar_member_is_scanned_whatever_its_name() -> None:
    result = scan_blob(BytesBlob(make([("docs/readme.md", PAYLOAD)], "w:gz")), name="m.tar.gz")
    assert result.format == "tar"
    formats = {m["path"]: m["format"] for m in result.members}
    assert formats["m.tar.gz!docs/readme.md"] == "pickle"
    assert [f for f in result.findings if f.member == "m.tar.gz!docs/readme.md"]


def test_legacy_torch_tar_checkpoint_members_are_all_scanned() -> None:
    members: list[Spec] = [("sys_info", PAYLOAD), ("pickle", PAYLOAD), ("storages", b"\x00" * 64)]
    data = make([*members, ("tensors", PAYLOAD)])
    result = scan_blob(BytesBlob(data), name="old.pt")
    formats = [m["format"] for m in result.members]
    assert formats[:3] == ["pytorch-tar", "pickle", "pickle"]
    # With the torch layout helper, storages/tensors are read as pickles between raw bytes.
    assert formats[3] in ("unknown", "pytorch-legacy-tar-storages")
    assert formats[4] in ("pickle", "pytorch-legacy-tar-tensors")
    for member in ("old.pt!sys_info", "old.pt!pickle", "old.pt!tensors"):
        assert [f for f in result.findings if f.member == member], member


def test_random_mutations_never_raise() -> None:
    rng = random.Random(60)
    seeds = [
        make([("a/b", b"hello" * 100), link("l", "x", tarfile.SYMTYPE), ("p" * 120, PAYLOAD)]),
        make([("a", os.urandom(2000))], "w:gz"),
    ]
    for seed in seeds:
        for _ in range(300):
            buf = bytearray(seed)
            for _ in range(rng.randint(1, 6)):
                pos = rng.randrange(len(buf))
                if rng.random() < 0.8:
                    buf[pos] = rng.randrange(256)
                else:
                    del buf[pos : pos + rng.randint(1, 64)]
            report = tar.parse(BytesBlob(bytes(buf)), Limits(max_expanded_bytes=1 << 20))
            for child in report.children:
                child.blob.read_at(0, child.blob.size)
