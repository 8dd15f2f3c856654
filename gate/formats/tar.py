"""Tar archives (v7, ustar, GNU, pax; plain or gzip/bz2/xz-compressed), never extracted.

Headers are walked here rather than through ``tarfile`` so that a member's
data can be handed on as a zero-copy window (uncompressed tars) or a window of
a lazily decompressed stream (compressed ones), and so that every header field
is bounded before it is used. The walk follows ``tarfile``'s reading rules —
PyTorch's legacy tar checkpoints are read with it — including its treatment
of unknown member types as regular files and of data after directory or link
headers as further headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gate.formats import compressed, expand, names
from gate.formats.interface import DEFAULT_LIMITS, Blob, Child, Limits, Report, SliceBlob

BLOCK = 512
REGULAR = frozenset(b"07\x00")
SPECIAL = {ord("3"): "character device", ord("4"): "block device", ord("6"): "fifo"}
PAX_LIMIT = 1024 * 1024
"""Largest pax / GNU long-name record read."""
WRAPPERS = ("gzip", "bz2", "xz")


@dataclass
class _Pending:
    """Overrides carried from pax / GNU long-name headers to the next member."""

    path: str | None = None
    linkpath: str | None = None
    size: int | None = None
    global_fields: dict[str, str] = field(default_factory=dict)


def looks_like(blob: Blob) -> bool:
    """True for an uncompressed tar whose first header checksum is valid."""
    head = blob.read_at(0, BLOCK)
    return len(head) == BLOCK and _checksum_ok(head)


def parse(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> Report:
    """Walk a tar's headers and return its regular members as children."""
    report = Report("tar")
    data: Blob = blob
    kind = compressed.kind_of(blob)
    header: dict[str, object] = {"compression": kind if kind in WRAPPERS else "none"}
    if kind in WRAPPERS:
        stream = compressed.opener(blob, kind)
        measured = expand.measure(stream, blob.size, limits, limits.max_expanded_bytes)
        header["expanded_bytes"] = measured.size
        if measured.stopped:
            what = {
                "ratio": f"expands beyond {limits.max_ratio:g} times its size",
                "member": f"expands beyond {limits.max_member_bytes} bytes",
                "budget": f"expands beyond {limits.max_expanded_bytes} bytes",
            }.get(measured.stopped, f"does not decompress ({measured.error})")
            check = {"ratio": "tar.bomb_ratio", "error": "tar.decompress_error"}.get(
                measured.stopped, "tar.expanded_too_large"
            )
            report.add(
                "archive_unsafe",
                check,
                "high",
                f"The {kind}-compressed tar {what}; only the first {measured.size} bytes are read.",
            )
        data = expand.ExpandedBlob(stream, measured.size)
    count, member_bytes = _walk(data, limits, report)
    header.update({"members": count, "member_bytes": member_bytes})
    report.header = header
    return report


def _checksum_ok(block: bytes) -> bool:
    raw = block[148:156].replace(b"\x00", b" ").strip()
    if not raw or any(c not in b"01234567" for c in raw):
        return False
    stored = int(raw, 8)
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    signed = sum(b - 256 if b > 127 else b for b in block[:148] + block[156:]) + 8 * 32
    return stored in (unsigned, signed)


def _number(field_bytes: bytes) -> int | None:
    if field_bytes[:1] in (b"\x80", b"\xff"):
        if field_bytes[0] == 0xFF:
            return None  # negative base-256
        return int.from_bytes(field_bytes[1:], "big")
    raw = field_bytes.replace(b"\x00", b" ").strip()
    if not raw:
        return 0
    if any(c not in b"01234567" for c in raw):
        return None
    return int(raw, 8)


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            break
        if length <= 0 or pos + length > len(data):
            break
        record = data[space + 1 : pos + length].rstrip(b"\n")
        key, _, value = record.partition(b"=")
        out[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def _walk(data: Blob, limits: Limits, report: Report) -> tuple[int, int]:
    pos = 0
    count = 0
    member_bytes = 0
    seen: set[str] = set()
    pending = _Pending()
    size_total = data.size
    while True:
        block = data.read_at(pos, BLOCK)
        if len(block) < BLOCK:
            if block.strip(b"\x00") or pos == 0:
                report.add(
                    "invalid_header", "tar.truncated", "high", "The archive ends inside a header.", offset=pos
                )
            return count, member_bytes
        if not block.strip(b"\x00"):
            _trailer(data, pos, report)
            return count, member_bytes
        if not _checksum_ok(block):
            report.add(
                "invalid_header",
                "tar.bad_checksum",
                "high",
                "A header's checksum does not match; readers stop or resynchronise differently here.",
                offset=pos,
            )
            return count, member_bytes
        typeflag = block[156]
        size = _number(block[124:136])
        if pending.size is not None:
            size = pending.size
        elif "size" in pending.global_fields:
            size = _int_or_none(pending.global_fields["size"])
        if size is None or size < 0:
            report.add(
                "invalid_header", "tar.bad_size", "high", "A header's size field is not a number.", offset=pos
            )
            return count, member_bytes
        data_start = pos + BLOCK
        next_pos = data_start + (size + BLOCK - 1) // BLOCK * BLOCK
        if typeflag in (ord("x"), ord("g"), ord("L"), ord("K")):
            if size > PAX_LIMIT:
                report.add(
                    "archive_unsafe",
                    "tar.extended_header_too_large",
                    "high",
                    f"An extended header claims {size} bytes.",
                    offset=pos,
                )
                return count, member_bytes
            body = data.read_at(data_start, size)
            if typeflag == ord("x"):
                fields = _pax(body)
                pending.path = fields.get("path", pending.path)
                pending.linkpath = fields.get("linkpath", pending.linkpath)
                if "size" in fields:
                    pending.size = _int_or_none(fields["size"])
            elif typeflag == ord("g"):
                pending.global_fields.update(_pax(body))
            elif typeflag == ord("L"):
                pending.path = _text(body)
            else:
                pending.linkpath = _text(body)
            pos = next_pos
            continue
        count += 1
        if count > limits.max_entries:
            report.add(
                "archive_unsafe",
                "tar.too_many_members",
                "high",
                f"The archive has more than {limits.max_entries} members; the rest were not read.",
                offset=pos,
            )
            return count - 1, member_bytes
        name = _member_name(block, pending)
        linkname = pending.linkpath if pending.linkpath is not None else _text(block[157:257])
        pending = _Pending(global_fields=pending.global_fields)
        names.check_name(report, "tar", name, pos)
        names.check_duplicate(report, "tar", seen, name, pos)
        at: dict[str, Any] = {"member": name, "offset": pos}
        advance = True
        if typeflag == ord("2"):
            report.add(
                "archive_unsafe",
                "tar.symlink",
                "high",
                f"Member {name!r} is a symbolic link to {linkname[:200]!r}.",
                target=linkname[:200],
                **at,
            )
            advance = False
        elif typeflag == ord("1"):
            report.add(
                "archive_unsafe",
                "tar.hardlink",
                "high",
                f"Member {name!r} is a hard link to {linkname[:200]!r}.",
                target=linkname[:200],
                **at,
            )
            advance = False
        elif typeflag in SPECIAL:
            report.add(
                "archive_unsafe",
                "tar.special_file",
                "high",
                f"Member {name!r} is a {SPECIAL[typeflag]}.",
                **at,
            )
            advance = False
        elif typeflag == ord("5"):
            advance = False
        elif typeflag == ord("S"):
            report.add(
                "archive_unsafe",
                "tar.sparse",
                "high",
                f"Member {name!r} is a GNU sparse file, which is not scanned.",
                **at,
            )
        else:
            if typeflag not in REGULAR:
                report.add(
                    "archive_unsafe",
                    "tar.unknown_type",
                    "medium",
                    f"Member {name!r} has unknown type {chr(typeflag)!r}; readers take it as a regular file.",
                    **at,
                )
            available = max(0, min(size, size_total - data_start))
            if available < size:
                report.add(
                    "archive_unsafe",
                    "tar.member_out_of_range",
                    "high",
                    f"Member {name!r} claims {size} bytes but the archive ends first.",
                    **at,
                )
            member_bytes += available
            if available or size == 0:
                report.children.append(Child(name, SliceBlob(data, data_start, available)))
        if not advance and size:
            # tarfile does not skip data after a non-file header: it reads the
            # next header right there. Other tools skip. Flag the ambiguity.
            report.add(
                "archive_unsafe",
                "tar.data_on_non_file",
                "high",
                f"Member {name!r} is not a regular file but claims {size} bytes of data; tar readers "
                "disagree on where the next header is.",
                **at,
            )
        pos = next_pos if advance else data_start


def _int_or_none(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _member_name(block: bytes, pending: _Pending) -> str:
    if pending.path is not None:
        return pending.path
    if "path" in pending.global_fields:
        return pending.global_fields["path"]
    name = _text(block[:100])
    if block[257:263] == b"ustar\x00":
        prefix = _text(block[345:500])
        if prefix:
            name = f"{prefix}/{name}"
    return name


def _trailer(data: Blob, pos: int, report: Report) -> None:
    """Bytes after the end-of-archive marker that are not zero padding are appended data."""
    cursor = pos
    while cursor < data.size:
        chunk = data.read_at(cursor, expand.CHUNK)
        stripped = chunk.lstrip(b"\x00")
        if stripped:
            start = cursor + len(chunk) - len(stripped)
            start -= start % BLOCK
            report.add(
                "polyglot_payload",
                "tar.appended_data",
                "high",
                f"{data.size - start} bytes after the end of the archive belong to no member.",
                offset=start,
            )
            report.children.append(Child(f"<appended@{start}>", SliceBlob(data, start, data.size - start)))
            return
        cursor += len(chunk)
