"""7z archives, read in memory with py7zr under gate's bounds.

The member list (names, sizes, types) is read first and checked — names,
links, duplicates, declared sizes, the overall ratio — before anything is
decompressed. Small archives are then expanded in one pass; members of large
ones are expanded one at a time, when the dispatcher reaches them. Anything
that cannot be read within the limits (encryption, an unsupported coder, a
corrupt stream) is an ``archive_unsafe`` finding ``7z.unsupported``: a 7z
member that was not scanned is never taken as clean.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from gate.formats import names
from gate.formats.interface import DEFAULT_LIMITS, Blob, BytesBlob, Child, Finding, Limits, Report, SliceBlob

MAGIC = b"7z\xbc\xaf\x27\x1c"
START_HEADER = 32
EAGER_BYTES = 64 * 1024 * 1024
"""Archives expanding to at most this much are expanded in one pass."""
LAZY_MEMBERS = 1024
"""Most members of a large archive expanded one by one (each pass may re-read a solid block)."""
RATIO_FLOOR = 1024 * 1024


def looks_like(blob: Blob) -> bool:
    """True when the blob starts with the 7z signature."""
    return blob.read_at(0, 6) == MAGIC


class _BlobFile(io.RawIOBase):
    """A read-only, seekable file over a blob, for py7zr."""

    def __init__(self, blob: Blob) -> None:
        self._blob = blob
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._blob.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        data = self._blob.read_at(self._pos, len(buffer))
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def _open(blob: Blob, limits: Limits) -> Any:
    import py7zr

    return py7zr.SevenZipFile(
        io.BufferedReader(_BlobFile(blob)), mode="r", max_extract_size=limits.max_expanded_bytes
    )


def _extract(blob: Blob, limits: Limits, targets: list[str] | None, cap: int) -> dict[str, bytes]:
    from py7zr.io import BytesIOFactory

    factory = BytesIOFactory(cap + 1)
    with _open(blob, limits) as archive:
        archive.extract(targets=targets, factory=factory)
    out: dict[str, bytes] = {}
    for name, product in factory.products.items():
        product.seek(0)
        out[name] = product.read()
    return out


class SevenZipMember:
    """One member of a large 7z archive, expanded when first read."""

    def __init__(self, archive: Blob, name: str, size: int, limits: Limits) -> None:
        self._archive = archive
        self._name = name
        self._size = size
        self._limits = limits
        self._data: bytes | None = None
        self.findings: list[Finding] = []
        """Findings made when the member is expanded (the dispatcher collects them)."""

    @property
    def size(self) -> int:
        """The declared size (a member that expands to less reads as shorter)."""
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to *length* bytes from *offset* of the expanded member."""
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        if self._data is None:
            try:
                self._data = _extract(self._archive, self._limits, [self._name], self._size).get(
                    self._name, b""
                )
            except Exception as exc:
                self._data = b""
                self._fail(f"cannot be expanded ({type(exc).__name__}: {exc})")
            if len(self._data) != self._size and not self.findings:
                self._fail(f"expanded to {len(self._data)} bytes instead of its declared {self._size}")
        return self._data[offset : offset + length]

    def _fail(self, what: str) -> None:
        self.findings.append(
            Finding(
                "archive_unsafe",
                "7z.unsupported",
                "high",
                f"The 7z member {what}; it is not fully scanned.",
                data={"reason": "extract_failed"},
            )
        )

    def release(self) -> None:
        """Drop the expanded bytes."""
        self._data = None


def _archive_end(blob: Blob) -> int | None:
    head = blob.read_at(0, START_HEADER)
    if len(head) < START_HEADER or head[:6] != MAGIC:
        return None
    crc, next_offset, next_size, _ = struct.unpack_from("<LQQL", head, 8)
    if zlib.crc32(head[12:32]) != crc:
        return None
    return START_HEADER + int(next_offset) + int(next_size)


def parse(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> Report:
    """Check a 7z archive's member list, then expand its members within the limits."""
    report = Report("7z")
    end = _archive_end(blob)
    if end is None:
        report.add(
            "invalid_header", "7z.bad_start_header", "high", "The 7z start header is corrupt.", offset=0
        )
        return report
    if end > blob.size:
        report.add(
            "invalid_header",
            "7z.truncated",
            "high",
            f"The 7z header claims the archive runs to byte {end}, past the end of the file.",
            offset=0,
        )
        return report
    if end < blob.size:
        report.add(
            "polyglot_payload",
            "7z.appended_data",
            "high",
            f"{blob.size - end} bytes after the end of the archive belong to no member.",
            offset=end,
        )
    try:
        import py7zr  # noqa: F401
    except ImportError:
        report.add(
            "archive_unsafe",
            "7z.unsupported",
            "high",
            "py7zr is not installed, so the 7z archive cannot be scanned.",
        )
        _append_tail(blob, end, report)
        return report
    try:
        with _open(blob, limits) as archive:
            encrypted = bool(archive.needs_password())
            infos = archive.list()
    except Exception as exc:
        report.add(
            "archive_unsafe",
            "7z.unsupported",
            "high",
            f"The 7z archive cannot be read ({type(exc).__name__}: {exc}); its members are not scanned.",
        )
        _append_tail(blob, end, report)
        return report
    report.header = {"members": len(infos), "encrypted": encrypted, "archive_bytes": end}
    if encrypted:
        report.add(
            "archive_unsafe",
            "7z.unsupported",
            "high",
            "The 7z archive is encrypted; its members cannot be scanned.",
            reason="encrypted",
        )
        _append_tail(blob, end, report)
        return report
    if len(infos) > limits.max_entries:
        report.add(
            "archive_unsafe",
            "7z.too_many_members",
            "high",
            f"The archive has {len(infos)} members, more than {limits.max_entries}; none are scanned.",
        )
        _append_tail(blob, end, report)
        return report
    files = _check_members(infos, limits, report)
    total = sum(size for _, size in files)
    report.header["expanded_bytes"] = total
    if total > RATIO_FLOOR and total > limits.max_ratio * max(end, 1):
        report.add(
            "archive_unsafe",
            "7z.bomb_ratio",
            "high",
            f"The archive declares {total} bytes from {end} (ratio above {limits.max_ratio:g}); "
            "it is not expanded.",
        )
        files = []
    elif total > limits.max_expanded_bytes:
        report.add(
            "archive_unsafe",
            "7z.expanded_too_large",
            "high",
            f"The archive expands to {total} bytes, above {limits.max_expanded_bytes}; not expanded.",
        )
        files = []
    if files:
        _children(blob, files, total, limits, report)
    _append_tail(blob, end, report)
    return report


def _check_members(infos: list[Any], limits: Limits, report: Report) -> list[tuple[str, int]]:
    seen: set[str] = set()
    files: list[tuple[str, int]] = []
    for info in infos:
        name = str(info.filename)
        size = int(info.uncompressed or 0)
        names.check_name(report, "7z", name, None)
        names.check_duplicate(report, "7z", seen, name, None)
        if info.is_symlink:
            report.add(
                "archive_unsafe", "7z.symlink", "high", f"Member {name!r} is a symbolic link.", member=name
            )
            continue
        if info.is_directory:
            continue
        if not info.is_file:
            report.add(
                "archive_unsafe",
                "7z.special_file",
                "high",
                f"Member {name!r} is not a regular file.",
                member=name,
            )
            continue
        if size > limits.max_member_bytes:
            report.add(
                "archive_unsafe",
                "7z.unsupported",
                "high",
                f"Member {name!r} expands to {size} bytes, above the {limits.max_member_bytes}-byte limit; "
                "it is not scanned.",
                member=name,
                reason="member_too_large",
            )
            continue
        files.append((name, size))
    return files


def _children(blob: Blob, files: list[tuple[str, int]], total: int, limits: Limits, report: Report) -> None:
    if total <= EAGER_BYTES:
        try:
            expanded = _extract(blob, limits, [n for n, _ in files], max(s for _, s in files))
        except Exception as exc:
            report.add(
                "archive_unsafe",
                "7z.unsupported",
                "high",
                f"The 7z members cannot be expanded ({type(exc).__name__}: {exc}); they are not scanned.",
                reason="extract_failed",
            )
            return
        for name, size in files:
            data = expanded.get(name)
            if data is None or len(data) != size:
                report.add(
                    "archive_unsafe",
                    "7z.unsupported",
                    "high",
                    f"Member {name!r} did not expand to its declared {size} bytes; it is scanned as far "
                    "as it did.",
                    member=name,
                    reason="size_mismatch",
                )
            if data:
                report.children.append(Child(name, BytesBlob(data)))
        return
    for index, (name, size) in enumerate(files):
        if index >= LAZY_MEMBERS:
            report.add(
                "archive_unsafe",
                "7z.unsupported",
                "high",
                f"More than {LAZY_MEMBERS} members in a large 7z archive; the rest are not scanned.",
                reason="too_many_large_members",
            )
            return
        report.children.append(Child(name, SevenZipMember(blob, name, size, limits)))


def _append_tail(blob: Blob, end: int, report: Report) -> None:
    if end < blob.size:
        report.children.append(Child(f"<appended@{end}>", SliceBlob(blob, end, blob.size - end)))
