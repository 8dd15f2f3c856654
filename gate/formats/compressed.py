"""Raw compressed streams (gzip, bz2, xz, lzma, zlib, zstd, lz4): joblib's wrappers.

joblib compresses its pickles with a plain compressor, so a ``.joblib`` or
``.pkl.gz`` file is a pickle behind one layer of compression. The stream is
measured once with bounds (ratio, size) and its expanded bytes become one
child, ``<decompressed>``, which the dispatcher scans like any other blob.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gate.formats import expand
from gate.formats.interface import DEFAULT_LIMITS, Blob, Child, Limits, Report

KINDS = ("gzip", "bz2", "xz", "zlib", "zstd", "lz4", "lzma")


def looks_like(blob: Blob) -> bool:
    """True when the blob starts with a compressed-stream signature."""
    return kind_of(blob) != ""


def kind_of(blob: Blob) -> str:
    """Which compressor's signature the blob starts with, or ""."""
    head = blob.read_at(0, 8)
    if head[:3] == b"\x1f\x8b\x08":
        return "gzip"
    if head[:3] == b"BZh":
        return "bz2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if head[:4] == b"\x04\x22\x4d\x18":
        return "lz4"
    if head[:3] == b"]\x00\x00":
        return "lzma"
    if len(head) >= 2 and head[0] & 0x0F == 8 and head[0] >> 4 <= 7 and (head[0] << 8 | head[1]) % 31 == 0:
        return "zlib"
    return ""


def _lz4_factory() -> Any:
    import lz4.frame  # type: ignore[import-not-found, unused-ignore]

    return lz4.frame.LZ4FrameDecompressor()


def opener(blob: Blob, kind: str) -> expand.Stream:
    """A function opening a fresh decompression stream over the whole blob."""

    def stream() -> Iterator[bytes]:
        size = blob.size
        if kind == "gzip":
            return expand.zlib_stream(blob, 0, size, 16 + 15, multi=True)
        if kind == "zlib":
            return expand.zlib_stream(blob, 0, size, 15)
        if kind == "bz2":
            return expand.buffered_stream(blob, 0, size, expand.bz2_factory, multi=True)
        if kind in ("xz", "lzma"):
            return expand.buffered_stream(blob, 0, size, expand.xz_factory, multi=kind == "xz")
        if kind == "zstd":
            return expand.buffered_stream(blob, 0, size, expand.zstd_factory, multi=True)
        if kind == "lz4":
            return expand.buffered_stream(blob, 0, size, _lz4_factory, multi=True)
        raise ValueError(f"not a compressed stream: {kind}")

    return stream


def available(kind: str) -> bool:
    """True when this Python can decompress *kind*."""
    if kind == "zstd":
        return expand.zstd_module() is not None
    if kind == "lz4":
        try:
            _lz4_factory()
        except ImportError:
            return False
    return kind in KINDS


def parse(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> Report:
    """Measure a compressed stream and return its expanded bytes as a child."""
    kind = kind_of(blob) or "unknown"
    report = Report(kind)
    if kind == "unknown":
        report.add("invalid_header", "compressed.unknown", "high", "Not a known compressed stream.")
        return report
    if not available(kind):
        report.add(
            "archive_unsafe",
            f"{kind}.unsupported",
            "high",
            f"The {kind} stream cannot be decompressed here (no decompressor installed), so it is "
            "not scanned.",
        )
        return report
    stream = opener(blob, kind)
    measured = expand.measure(stream, blob.size, limits, limits.max_expanded_bytes)
    report.header = {
        "compression": kind,
        "compressed_bytes": blob.size,
        "expanded_bytes": measured.size,
        "complete": measured.complete,
    }
    if measured.stopped == "ratio":
        report.add(
            "archive_unsafe",
            f"{kind}.bomb_ratio",
            "high",
            f"The {kind} stream expands beyond {limits.max_ratio:g} times its size; expansion stopped.",
        )
    elif measured.stopped in ("member", "budget"):
        cap = min(limits.max_member_bytes, limits.max_expanded_bytes)
        report.add(
            "archive_unsafe",
            f"{kind}.too_large",
            "high",
            f"The {kind} stream expands beyond {cap} bytes; only its first {measured.size} bytes "
            "are scanned.",
        )
    elif measured.stopped == "error":
        report.add(
            "archive_unsafe",
            f"{kind}.decompress_error",
            "high",
            f"The {kind} stream is corrupt or followed by other data ({measured.error}); "
            "the part that decompresses is scanned.",
        )
    if measured.size:
        report.children.append(Child("<decompressed>", expand.ExpandedBlob(stream, measured.size)))
    return report
