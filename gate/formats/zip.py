"""Zip archives read the way model loaders read them, never with ``zipfile``.

PyTorch's ``PyTorchFileReader`` (miniz), Go's ``archive/zip`` and NumPy's
``npz`` reader find the End Of Central Directory record at the tail, trust
the central directory for names, sizes and methods, and use a member's
local header only to find where its data starts. A scanner that walks
local headers, or that lets Python's ``zipfile`` raise on a bad CRC, sees a
different archive from the one the loader loads. This reader follows the
loader: central directory first, then every local header is checked against
it, and every disagreement is a finding.

Members become children for the dispatcher: stored members as zero-copy
:class:`SliceBlob` windows, compressed ones as lazily inflated blobs whose
true size, CRC and ratio were measured here in one bounded streaming pass
(so a multi-GB compressed member is never held in memory at once).
"""

from __future__ import annotations

import lzma
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from gate.formats import expand
from gate.formats.interface import DEFAULT_LIMITS, Blob, Child, Limits, Report, SliceBlob

EOCD_SIG = b"PK\x05\x06"
CD_SIG = b"PK\x01\x02"
LOCAL_SIG = b"PK\x03\x04"
ZIP64_LOCATOR_SIG = b"PK\x06\x07"
ZIP64_EOCD_SIG = b"PK\x06\x06"
DESCRIPTOR_SIG = b"PK\x07\x08"

EOCD_SIZE = 22
ZIP64_LOCATOR_SIZE = 20
ZIP64_EOCD_SIZE = 56
CD_ENTRY_SIZE = 46
LOCAL_SIZE = 30
MAX_COMMENT = 0xFFFF

STORED, DEFLATED, BZIP2, LZMA, ZSTD = 0, 8, 12, 14, 93
METHOD_NAMES = {
    STORED: "stored",
    1: "shrunk",
    6: "imploded",
    DEFLATED: "deflate",
    9: "deflate64",
    BZIP2: "bzip2",
    LZMA: "lzma",
    ZSTD: "zstd",
    95: "xz",
    98: "ppmd",
    99: "aes",
}

FLAG_ENCRYPTED = 0x1
FLAG_DESCRIPTOR = 0x8
FLAG_PATCHED = 0x20
FLAG_STRONG_ENCRYPTION = 0x40
FLAG_UTF8 = 0x800
FLAG_MASKED_HEADER = 0x2000
# Bits a well-formed model archive may carry: deflate/lzma options (1, 2),
# data descriptor (3) and UTF-8 names (11).
EXPECTED_FLAGS = 0x2 | 0x4 | FLAG_DESCRIPTOR | FLAG_UTF8

S_IFMT = 0o170000
S_IFLNK = 0o120000
SPECIAL_MODES = {0o020000: "character device", 0o060000: "block device", 0o010000: "fifo", 0o140000: "socket"}

CRC_CHECK_BYTES = 64 * 1024 * 1024
"""Stored members up to this size have their CRC checked here. Larger stored
members are tensor data the loader maps without interpreting; reading them
whole would double the cost of a scan for no security gain (a member that
sniffs as code is read and scanned by the dispatcher whatever its size)."""
MAX_LISTED_NAMES = 1000

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass
class Entry:
    """One central-directory record, resolved against its local header."""

    name: str
    raw_name: bytes
    cd_pos: int
    flags: int
    method: int
    crc: int
    csize: int
    usize: int
    local_offset: int
    external_attr: int
    made_by: int
    zip64: bool = False
    data_offset: int = -1
    """Start of the member's data (from its local header), -1 when unreadable."""
    span_end: int = -1
    """End of the member's data and data descriptor."""


@dataclass
class Directory:
    """What the End Of Central Directory and the central directory say."""

    eocd_offset: int
    end: int
    cd_offset: int
    cd_size: int
    base: int
    zip64: bool
    declared_entries: int
    comment_bytes: int
    entries: list[Entry] = field(default_factory=list)
    complete: bool = True
    """False when the directory was not read to its end (a limit or corruption stopped it)."""


def looks_like(blob: Blob) -> bool:
    """True when the blob starts like a zip or ends with a readable central directory."""
    head = blob.read_at(0, 4)
    if head in (LOCAL_SIG, EOCD_SIG):
        return True
    eocd = find_eocd(blob)
    if eocd is None:
        return False
    scratch = Report("zip")
    directory = read_directory(blob, Limits(max_entries=1), scratch)
    return directory is not None and (directory.declared_entries == 0 or bool(directory.entries))


def member_names(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> list[str] | None:
    """Names in central-directory order, or None when there is no readable directory."""
    directory = read_directory(blob, limits, Report("zip"))
    if directory is None:
        return None
    return [entry.name for entry in directory.entries]


def find_eocd(blob: Blob) -> int | None:
    """Offset of the last End Of Central Directory signature a loader would accept."""
    size = blob.size
    if size < EOCD_SIZE:
        return None
    start = max(0, size - (EOCD_SIZE + MAX_COMMENT))
    tail = blob.read_at(start, size - start)
    i = tail.rfind(EOCD_SIG)
    while i >= 0:
        if i + EOCD_SIZE <= len(tail):
            return start + i
        i = tail.rfind(EOCD_SIG, 0, i)
    return None


def read_directory(blob: Blob, limits: Limits, report: Report) -> Directory | None:
    """Read the EOCD (and ZIP64 records) and the central directory, recording findings."""
    eocd = find_eocd(blob)
    if eocd is None:
        report.add("invalid_header", "zip.no_eocd", "high", "No End Of Central Directory record found.")
        return None
    (_, disk, cd_disk, n_disk, n_total, cd_size, cd_off, comment_len) = struct.unpack(
        "<4s4H2LH", blob.read_at(eocd, EOCD_SIZE)
    )
    end = eocd + EOCD_SIZE + comment_len
    if end > blob.size:
        report.add(
            "archive_unsafe",
            "zip.comment_truncated",
            "medium",
            f"The archive comment claims {comment_len} bytes but the file ends first.",
            offset=eocd,
        )
        end = blob.size
    anchor = eocd
    zip64 = False
    if eocd >= ZIP64_LOCATOR_SIZE:
        locator = blob.read_at(eocd - ZIP64_LOCATOR_SIZE, ZIP64_LOCATOR_SIZE)
        if locator[:4] == ZIP64_LOCATOR_SIG:
            _, _, z64_off, _ = struct.unpack("<4sLQL", locator)
            pos = eocd - ZIP64_LOCATOR_SIZE - ZIP64_EOCD_SIZE
            candidates = [pos, z64_off] if pos >= 0 else [z64_off]
            record = b""
            for candidate in candidates:
                if 0 <= candidate <= blob.size - ZIP64_EOCD_SIZE:
                    record = blob.read_at(candidate, ZIP64_EOCD_SIZE)
                    if record[:4] == ZIP64_EOCD_SIG:
                        anchor = candidate
                        break
                    record = b""
            if not record:
                report.add(
                    "invalid_header",
                    "zip.zip64_record_missing",
                    "high",
                    "A ZIP64 locator points at no ZIP64 end-of-directory record.",
                    offset=eocd - ZIP64_LOCATOR_SIZE,
                )
                return None
            zip64 = True
            (_, _, _, _, disk64, cd_disk64, _, n_total64, cd_size64, cd_off64) = struct.unpack(
                "<4sQ2H2L4Q", record
            )
            for small, big, what in (
                (n_total, n_total64, "entry count"),
                (cd_size, cd_size64, "directory size"),
                (cd_off, cd_off64, "directory offset"),
            ):
                saturated = small in (0xFFFF, 0xFFFFFFFF)
                if not saturated and small != big:
                    report.add(
                        "archive_unsafe",
                        "zip.zip64_mismatch",
                        "high",
                        f"The ZIP64 record's {what} ({big}) disagrees with the classic record's ({small}); "
                        "readers differ on which one they use.",
                        offset=anchor,
                    )
            disk, cd_disk, n_total, cd_size, cd_off = disk64, cd_disk64, n_total64, cd_size64, cd_off64
    if disk != 0 or cd_disk != 0 or (not zip64 and n_disk != n_total):
        report.add(
            "archive_unsafe",
            "zip.multi_disk",
            "high",
            "The archive claims to span several disks; loaders do not read those.",
            offset=eocd,
        )
    base = anchor - cd_size - cd_off
    if base < 0:
        report.add(
            "archive_unsafe",
            "zip.directory_out_of_range",
            "high",
            f"The central directory ({cd_size} bytes at {cd_off}) runs past its end record.",
            offset=eocd,
        )
        base = 0
    elif base > 0 and blob.read_at(cd_off, 4) == CD_SIG:
        report.add(
            "archive_unsafe",
            "zip.ambiguous_directory",
            "high",
            "Two central directories are reachable: one at the stored offset and one after prepended "
            "bytes; readers that do and do not correct for prepended data see different archives.",
            offset=cd_off,
        )
    cd_abs = cd_off + base
    directory = Directory(
        eocd_offset=eocd,
        end=end,
        cd_offset=cd_abs,
        cd_size=cd_size,
        base=base,
        zip64=zip64,
        declared_entries=n_total,
        comment_bytes=comment_len,
    )
    if cd_size > limits.max_header_bytes:
        report.add(
            "archive_unsafe",
            "zip.directory_too_large",
            "high",
            f"The central directory is {cd_size} bytes, above the {limits.max_header_bytes}-byte limit.",
            offset=cd_abs,
        )
        directory.complete = False
        return directory
    data = blob.read_at(cd_abs, cd_size)
    _read_entries(data, cd_abs, base, limits, report, directory)
    return directory


def _read_entries(
    data: bytes, cd_abs: int, base: int, limits: Limits, report: Report, directory: Directory
) -> None:
    pos = 0
    while pos < len(data):
        if len(directory.entries) >= limits.max_entries:
            report.add(
                "archive_unsafe",
                "zip.too_many_members",
                "high",
                f"The archive has more than {limits.max_entries} members; the rest were not read.",
                offset=cd_abs + pos,
            )
            directory.complete = False
            return
        if pos + CD_ENTRY_SIZE > len(data) or data[pos : pos + 4] != CD_SIG:
            report.add(
                "invalid_header",
                "zip.directory_corrupt",
                "high",
                "The central directory holds bytes that are not a directory record.",
                offset=cd_abs + pos,
            )
            directory.complete = False
            return
        (_, made_by, _, flags, method, _, _, crc, csize, usize, nlen, xlen, clen, _, _, eattr, lh_off) = (
            struct.unpack("<4s6H3L5H2L", data[pos : pos + CD_ENTRY_SIZE])
        )
        name_end = pos + CD_ENTRY_SIZE + nlen
        record_end = name_end + xlen + clen
        if record_end > len(data):
            report.add(
                "invalid_header",
                "zip.directory_corrupt",
                "high",
                "A central directory record runs past the end of the directory.",
                offset=cd_abs + pos,
            )
            directory.complete = False
            return
        raw_name = data[pos + CD_ENTRY_SIZE : name_end]
        extra = data[name_end : name_end + xlen]
        entry = Entry(
            name=_decode_name(raw_name, flags),
            raw_name=raw_name,
            cd_pos=cd_abs + pos,
            flags=flags,
            method=method,
            crc=crc,
            csize=csize,
            usize=usize,
            local_offset=lh_off,
            external_attr=eattr,
            made_by=made_by,
        )
        _apply_zip64_extra(entry, extra)
        entry.local_offset += base
        _check_unicode_extra(entry, extra, report)
        directory.entries.append(entry)
        pos = record_end
    if len(directory.entries) != directory.declared_entries:
        report.add(
            "archive_unsafe",
            "zip.entry_count_mismatch",
            "high",
            f"The end record declares {directory.declared_entries} members but the central directory "
            f"holds {len(directory.entries)}; readers that trust one or the other see different archives.",
            offset=directory.eocd_offset,
        )


def _decode_name(raw: bytes, flags: int) -> str:
    if flags & FLAG_UTF8:
        return raw.decode("utf-8", "replace")
    return raw.decode("cp437")


def _extra_fields(extra: bytes) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, pos)
        yield tag, extra[pos + 4 : pos + 4 + length]
        pos += 4 + length


def _apply_zip64_extra(entry: Entry, extra: bytes) -> None:
    for tag, body in _extra_fields(extra):
        if tag != 0x0001:
            continue
        pos = 0
        for attr in ("usize", "csize", "local_offset"):
            if getattr(entry, attr) == 0xFFFFFFFF and pos + 8 <= len(body):
                setattr(entry, attr, struct.unpack_from("<Q", body, pos)[0])
                entry.zip64 = True
                pos += 8
        return


def _check_unicode_extra(entry: Entry, extra: bytes, report: Report) -> None:
    for tag, body in _extra_fields(extra):
        if tag == 0x7075 and len(body) >= 5:
            name_crc = struct.unpack_from("<L", body, 1)[0]
            alt = body[5:].decode("utf-8", "replace")
            if name_crc == zlib.crc32(entry.raw_name) and alt != entry.name:
                report.add(
                    "archive_unsafe",
                    "zip.unicode_name_mismatch",
                    "high",
                    f"Member {entry.name!r} carries a Unicode path field naming it {alt!r}; "
                    "readers disagree on its name.",
                    member=entry.name,
                    offset=entry.cd_pos,
                )


def parse(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> Report:
    """Check a zip archive's structure and return its members as children."""
    report = Report("zip")
    directory = read_directory(blob, limits, report)
    if directory is None:
        return report
    entries = directory.entries
    for entry in entries:
        _check_name(entry, report)
        _check_mode(entry, report)
        _check_flags(entry, report)
        _read_local_header(blob, entry, directory, report)
    _check_duplicates(entries, report)
    _check_layout(blob, directory, report)
    expanded, unchecked = _members(blob, entries, limits, report)
    methods: dict[str, int] = {}
    for entry in entries:
        label = METHOD_NAMES.get(entry.method, str(entry.method))
        methods[label] = methods.get(label, 0) + 1
    report.header = {
        "members": len(entries),
        "declared_members": directory.declared_entries,
        "zip64": directory.zip64,
        "eocd_offset": directory.eocd_offset,
        "cd_offset": directory.cd_offset,
        "cd_size": directory.cd_size,
        "base_offset": directory.base,
        "comment_bytes": directory.comment_bytes,
        "methods": methods,
        "expanded_bytes": expanded,
        "crc_unchecked": unchecked,
        "names": [e.name for e in entries[:MAX_LISTED_NAMES]],
        "names_truncated": len(entries) > MAX_LISTED_NAMES,
    }
    return report


def _check_name(entry: Entry, report: Report) -> None:
    name = entry.name
    at: dict[str, Any] = {"member": name, "offset": entry.cd_pos}
    if b"\x00" in entry.raw_name:
        report.add(
            "archive_unsafe", "zip.nul_in_name", "high", f"Member name {name!r} contains a NUL byte.", **at
        )
    if not name:
        report.add("archive_unsafe", "zip.empty_name", "medium", "A member has an empty name.", **at)
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        report.add(
            "archive_unsafe", "zip.absolute_path", "high", f"Member name {name!r} is an absolute path.", **at
        )
    if ".." in re.split(r"[/\\]", name):
        report.add(
            "archive_unsafe",
            "zip.path_traversal",
            "high",
            f"Member name {name!r} has a '..' segment that escapes the extraction directory.",
            **at,
        )
    if "\\" in name:
        report.add(
            "archive_unsafe",
            "zip.backslash_in_name",
            "medium",
            f"Member name {name!r} contains a backslash, a path separator on Windows.",
            **at,
        )


def _check_mode(entry: Entry, report: Report) -> None:
    mode = (entry.external_attr >> 16) & 0xFFFF
    kind = mode & S_IFMT
    if kind == S_IFLNK:
        report.add(
            "archive_unsafe",
            "zip.symlink",
            "high",
            f"Member {entry.name!r} is a symbolic link.",
            member=entry.name,
            offset=entry.cd_pos,
        )
    elif kind in SPECIAL_MODES:
        report.add(
            "archive_unsafe",
            "zip.special_file",
            "high",
            f"Member {entry.name!r} is a {SPECIAL_MODES[kind]}.",
            member=entry.name,
            offset=entry.cd_pos,
        )


def _check_flags(entry: Entry, report: Report) -> None:
    at: dict[str, Any] = {"member": entry.name, "offset": entry.cd_pos, "flags": entry.flags}
    if entry.flags & FLAG_ENCRYPTED:
        report.add(
            "archive_unsafe",
            "zip.encrypted",
            "high",
            f"Member {entry.name!r} is flagged as encrypted (bit 0x1); scanners skip such members.",
            **at,
        )
    if entry.flags & FLAG_PATCHED:
        report.add(
            "archive_unsafe",
            "zip.patched_data",
            "high",
            f"Member {entry.name!r} is flagged as compressed patched data (bit 0x20).",
            **at,
        )
    if entry.flags & FLAG_STRONG_ENCRYPTION:
        report.add(
            "archive_unsafe",
            "zip.strong_encryption",
            "high",
            f"Member {entry.name!r} is flagged as strongly encrypted (bit 0x40).",
            **at,
        )
    other = entry.flags & ~(EXPECTED_FLAGS | FLAG_ENCRYPTED | FLAG_PATCHED | FLAG_STRONG_ENCRYPTION)
    if other:
        report.add(
            "archive_unsafe",
            "zip.unexpected_flags",
            "medium",
            f"Member {entry.name!r} has unexpected general-purpose flag bits {other:#06x}.",
            **at,
        )


def _read_local_header(blob: Blob, entry: Entry, directory: Directory, report: Report) -> None:
    at: dict[str, Any] = {"member": entry.name, "offset": entry.local_offset}
    head = blob.read_at(entry.local_offset, LOCAL_SIZE) if entry.local_offset < blob.size else b""
    if len(head) < LOCAL_SIZE or head[:4] != LOCAL_SIG:
        report.add(
            "archive_unsafe",
            "zip.local_header_missing",
            "high",
            f"The central directory places member {entry.name!r} where there is no local header.",
            **at,
        )
        return
    (_, _, flags, method, _, _, crc, csize, usize, nlen, xlen) = struct.unpack("<4s5H3L2H", head)
    name = blob.read_at(entry.local_offset + LOCAL_SIZE, nlen)
    extra = blob.read_at(entry.local_offset + LOCAL_SIZE + nlen, xlen)
    entry.data_offset = entry.local_offset + LOCAL_SIZE + nlen + xlen
    if name != entry.raw_name:
        report.add(
            "archive_unsafe",
            "zip.local_name_mismatch",
            "high",
            f"Member {entry.name!r} is named {name.decode('cp437')!r} in its local header; a loader reads "
            "the central directory, a scanner walking local headers sees another archive.",
            **at,
        )
    if flags != entry.flags:
        report.add(
            "archive_unsafe",
            "zip.local_flags_mismatch",
            "high",
            f"Member {entry.name!r} has flags {flags:#06x} locally but {entry.flags:#06x} in the directory.",
            **at,
        )
    if method != entry.method:
        report.add(
            "archive_unsafe",
            "zip.local_method_mismatch",
            "high",
            f"Member {entry.name!r} has method {method} locally but {entry.method} in the directory.",
            **at,
        )
    for tag, body in _extra_fields(extra):
        if tag == 0x0001:
            if usize == 0xFFFFFFFF and len(body) >= 8:
                usize = struct.unpack_from("<Q", body, 0)[0]
            if csize == 0xFFFFFFFF and len(body) >= 16:
                csize = struct.unpack_from("<Q", body, 8)[0]
            entry.zip64 = True
    deferred = bool(flags & FLAG_DESCRIPTOR) and crc == 0 and csize == 0 and usize == 0
    if not deferred and (csize != entry.csize or usize != entry.usize):
        report.add(
            "archive_unsafe",
            "zip.local_size_mismatch",
            "high",
            f"Member {entry.name!r} has sizes {csize}/{usize} locally but {entry.csize}/{entry.usize} "
            "in the directory.",
            **at,
        )
    if not deferred and crc != entry.crc:
        report.add(
            "archive_unsafe",
            "zip.local_crc_mismatch",
            "high",
            f"Member {entry.name!r} has CRC {crc:#010x} locally but {entry.crc:#010x} in the directory.",
            **at,
        )
    data_end = entry.data_offset + entry.csize
    entry.span_end = data_end + (
        _descriptor_length(blob, entry, data_end) if entry.flags & FLAG_DESCRIPTOR else 0
    )
    if data_end > blob.size:
        report.add(
            "archive_unsafe",
            "zip.member_out_of_range",
            "high",
            f"Member {entry.name!r} claims {entry.csize} bytes of data but the file ends first.",
            **at,
        )


def _descriptor_length(blob: Blob, entry: Entry, pos: int) -> int:
    raw = blob.read_at(pos, 24)
    body, sig = (raw[4:], 4) if raw[:4] == DESCRIPTOR_SIG else (raw, 0)
    if len(body) >= 12:
        crc, csize, usize = struct.unpack_from("<3L", body)
        if crc == entry.crc and csize == entry.csize and usize == entry.usize:
            return sig + 12
    if len(body) >= 20:
        crc, csize64, usize64 = struct.unpack_from("<LQQ", body)
        if crc == entry.crc and csize64 == entry.csize and usize64 == entry.usize:
            return sig + 20
    return sig + (20 if entry.zip64 else 12)


def _normalise(name: str) -> str:
    parts = [p for p in re.split(r"[/\\]", name) if p not in ("", ".")]
    return "/".join(parts) + ("/" if name.endswith(("/", "\\")) else "")


def _check_duplicates(entries: list[Entry], report: Report) -> None:
    seen: dict[str, str] = {}
    for entry in entries:
        key = _normalise(entry.name)
        if key in seen:
            same = seen[key] == entry.name
            report.add(
                "archive_unsafe",
                "zip.duplicate_name",
                "high",
                f"Member {entry.name!r} appears twice"
                + ("" if same else f" (as {seen[key]!r})")
                + "; readers disagree on which copy they load.",
                member=entry.name,
                offset=entry.cd_pos,
            )
        else:
            seen[key] = entry.name


def _check_layout(blob: Blob, directory: Directory, report: Report) -> None:
    placed = sorted(
        (e for e in directory.entries if e.data_offset >= 0), key=lambda e: (e.local_offset, e.cd_pos)
    )
    previous: Entry | None = None
    for entry in placed:
        if previous is not None and entry.local_offset == previous.local_offset:
            report.add(
                "archive_unsafe",
                "zip.hardlink",
                "high",
                f"Members {previous.name!r} and {entry.name!r} share one local header and its data.",
                member=entry.name,
                offset=entry.local_offset,
            )
            continue
        if previous is not None and entry.local_offset < previous.span_end:
            report.add(
                "archive_unsafe",
                "zip.overlapping_members",
                "high",
                f"Member {entry.name!r} starts inside member {previous.name!r} (overlapping data is a "
                "classic zip bomb and parser-confusion trick).",
                member=entry.name,
                offset=entry.local_offset,
            )
        if (
            entry.span_end > directory.cd_offset
            and entry.local_offset < directory.cd_offset + directory.cd_size
        ):
            report.add(
                "archive_unsafe",
                "zip.member_overlaps_directory",
                "high",
                f"Member {entry.name!r} overlaps the central directory.",
                member=entry.name,
                offset=entry.local_offset,
            )
        if previous is None or entry.span_end > previous.span_end:
            previous = entry
    # Bytes nothing accounts for: before the first member, between members,
    # between the last member and the directory, after the end record.
    cursor = 0
    gaps: list[tuple[int, int, str]] = []
    if not directory.complete:
        placed = []
        cursor = directory.cd_offset
    for entry in placed:
        if entry.local_offset > cursor:
            gaps.append((cursor, entry.local_offset, "prepended_data" if cursor == 0 else "gap_data"))
        cursor = max(cursor, entry.span_end)
    if directory.cd_offset > cursor:
        gaps.append((cursor, directory.cd_offset, "prepended_data" if cursor == 0 else "gap_data"))
    if blob.size > directory.end:
        gaps.append((directory.end, blob.size, "appended_data"))
    for start, stop, check in gaps:
        stop = min(stop, blob.size)
        if stop <= start:
            continue
        where = {"prepended_data": "before the first member", "gap_data": "between members"}.get(
            check, "after the end of the archive"
        )
        report.add(
            "polyglot_payload",
            f"zip.{check}",
            "high",
            f"{stop - start} bytes {where} belong to no member; another reader can see them as a file.",
            offset=start,
            length=stop - start,
        )
        label = {"prepended_data": "prepended", "gap_data": "gap"}.get(check, "appended")
        report.children.append(Child(f"<{label}@{start}>", SliceBlob(blob, start, stop - start)))


def can_inflate(method: int) -> bool:
    """True when this Python can decompress the method."""
    if method in (STORED, DEFLATED, BZIP2):
        return True
    if method == LZMA:
        return hasattr(lzma, "_decode_filter_properties")
    if method == ZSTD:
        return expand.zstd_module() is not None
    return False


def inflate(blob: Blob, start: int, csize: int, method: int) -> Iterator[bytes]:
    """Decompress ``csize`` bytes at ``start`` in pieces of at most 1 MiB.

    Raises one of ``expand.DECOMPRESS_ERRORS`` on corrupt data.
    """
    if method == STORED:
        return expand.read_stream(blob, start, csize)
    if method == DEFLATED:
        return expand.zlib_stream(blob, start, csize, -15)
    if method == BZIP2:
        return expand.buffered_stream(blob, start, csize, expand.bz2_factory)
    if method == ZSTD:
        return expand.buffered_stream(blob, start, csize, expand.zstd_factory)
    if method == LZMA:
        head = blob.read_at(start, 4)
        if len(head) < 4:
            raise ValueError("truncated LZMA header")
        psize = struct.unpack_from("<H", head, 2)[0]
        props = blob.read_at(start + 4, psize)
        decode = lzma._decode_filter_properties  # type: ignore[attr-defined]
        filters = [decode(lzma.FILTER_LZMA1, props)]

        def factory() -> Any:
            return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters)

        return _raw_lzma(blob, start + 4 + psize, csize - 4 - psize, factory)
    raise ValueError(f"unsupported compression method {method}")


def _raw_lzma(blob: Blob, start: int, length: int, factory: Any) -> Iterator[bytes]:
    # Raw LZMA1 without an end marker never reports eof: stop at the input's end.
    decomp = factory()
    for piece in expand.read_stream(blob, start, length):
        out = decomp.decompress(piece, expand.CHUNK)
        if out:
            yield out
        while not decomp.eof and not decomp.needs_input:
            out = decomp.decompress(b"", expand.CHUNK)
            if not out:
                break
            yield out
        if decomp.eof:
            return


def _members(blob: Blob, entries: list[Entry], limits: Limits, report: Report) -> tuple[int, int]:
    """Measure every member (CRC, expanded size, ratio) and add it as a child."""
    expanded = 0
    unchecked = 0
    budget_hit = False
    for entry in entries:
        if entry.data_offset < 0 or entry.data_offset > blob.size:
            continue
        kind = (entry.external_attr >> 16) & S_IFMT
        if kind == S_IFLNK or kind in SPECIAL_MODES:
            continue
        available = max(0, min(entry.csize, blob.size - entry.data_offset))
        if entry.name.endswith("/") and entry.csize == 0:
            continue
        at: dict[str, Any] = {"member": entry.name, "offset": entry.data_offset}
        if entry.name.endswith("/"):
            report.add(
                "archive_unsafe",
                "zip.directory_with_data",
                "medium",
                f"Directory entry {entry.name!r} carries {entry.csize} bytes of data.",
                **at,
            )
        if entry.method == STORED:
            if entry.csize != entry.usize:
                report.add(
                    "archive_unsafe",
                    "zip.stored_size_mismatch",
                    "high",
                    f"Stored member {entry.name!r} has compressed size {entry.csize} but size {entry.usize}.",
                    **at,
                )
            if available <= CRC_CHECK_BYTES:
                crc = 0
                for piece in expand.read_stream(blob, entry.data_offset, available):
                    crc = zlib.crc32(piece, crc)
                if crc != entry.crc:
                    _crc_finding(entry, crc, report)
            else:
                unchecked += 1
            report.children.append(Child(entry.name, SliceBlob(blob, entry.data_offset, available)))
            continue
        if not can_inflate(entry.method):
            report.add(
                "archive_unsafe",
                "zip.unsupported_method",
                "high",
                f"Member {entry.name!r} uses compression method "
                f"{METHOD_NAMES.get(entry.method, entry.method)} which cannot be read here, so it "
                "cannot be scanned.",
                method=entry.method,
                **at,
            )
            continue
        if budget_hit:
            continue
        start, method = entry.data_offset, entry.method

        def stream(start: int = start, method: int = method, length: int = available) -> Iterator[bytes]:
            return inflate(blob, start, length, method)

        try:
            measured = expand.measure(stream, available, limits, limits.max_expanded_bytes - expanded)
        except ValueError as exc:
            measured = expand.Measure(0, 0, False, "error", str(exc))
        _measure_findings(entry, measured, available, limits, report)
        size = measured.size
        expanded += size
        if measured.stopped == "budget":
            budget_hit = True
        if measured.complete and measured.crc != entry.crc:
            _crc_finding(entry, measured.crc, report)
        if measured.complete and size != entry.usize:
            report.add(
                "archive_unsafe",
                "zip.size_mismatch",
                "high",
                f"Member {entry.name!r} expands to {size} bytes but declares {entry.usize}.",
                **at,
            )
        if size:
            report.children.append(Child(entry.name, expand.ExpandedBlob(stream, size)))
    return expanded, unchecked


def _crc_finding(entry: Entry, crc: int, report: Report) -> None:
    report.add(
        "archive_unsafe",
        "zip.crc_mismatch",
        "high",
        f"Member {entry.name!r} has CRC {crc:#010x} but declares {entry.crc:#010x}; Python's zipfile "
        "refuses it while PyTorch's loader does not check. The member is scanned anyway.",
        member=entry.name,
        offset=entry.data_offset,
    )


def _measure_findings(
    entry: Entry, measured: expand.Measure, available: int, limits: Limits, report: Report
) -> None:
    at: dict[str, Any] = {"member": entry.name, "offset": entry.data_offset}
    if measured.stopped == "ratio":
        report.add(
            "archive_unsafe",
            "zip.bomb_ratio",
            "high",
            f"Member {entry.name!r} expands beyond {limits.max_ratio:g} times its compressed size "
            f"({available} bytes); expansion stopped.",
            **at,
        )
    elif measured.stopped == "member":
        report.add(
            "archive_unsafe",
            "zip.member_too_large",
            "high",
            f"Member {entry.name!r} expands beyond {limits.max_member_bytes} bytes; only its first "
            f"{limits.max_member_bytes} bytes are scanned.",
            **at,
        )
    elif measured.stopped == "budget":
        report.add(
            "archive_unsafe",
            "zip.expanded_too_large",
            "high",
            f"The archive expands beyond {limits.max_expanded_bytes} bytes; members from {entry.name!r} "
            "on are not expanded.",
            **at,
        )
    elif measured.stopped == "error":
        report.add(
            "archive_unsafe",
            "zip.decompress_error",
            "high",
            f"Member {entry.name!r} does not decompress ({measured.error}); the part that does is scanned.",
            **at,
        )
