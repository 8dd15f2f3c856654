"""Decompressed bytes as a blob, produced lazily and measured with bounds.

Archives hand the dispatcher compressed members; holding every expanded
member in memory would let one archive exhaust the host. Instead a member is
measured once here (true size, CRC, ratio, each bound checked as it streams)
and then exposed as an :class:`ExpandedBlob` that decompresses again, from the
start, only as far as reads ask, keeping a bounded window of recent bytes.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gate.formats.interface import Blob, Limits

CHUNK = 1 << 20
CACHE_BYTES = 64 * 1024 * 1024
RATIO_FLOOR = 1024 * 1024
"""Expanded bytes below which a high ratio is not called a bomb (small runs of
zeros compress beyond any ratio and harm nobody)."""

DECOMPRESS_ERRORS: tuple[type[BaseException], ...] = (
    zlib.error,
    lzma.LZMAError,
    OSError,
    EOFError,
    ValueError,
)

Stream = Callable[[], Iterator[bytes]]
"""Opens a fresh decompression stream yielding pieces of at most ``CHUNK`` bytes."""


class ExpandedBlob:
    """Random access to a decompressed stream of known (measured) size."""

    def __init__(self, open_stream: Stream, size: int, cache_bytes: int = CACHE_BYTES) -> None:
        self._open = open_stream
        self._size = size
        self._cache_bytes = cache_bytes
        self._chunks: deque[tuple[int, bytes]] = deque()
        self._cached = 0
        self._stream: Iterator[bytes] | None = None
        self._produced = 0

    @property
    def size(self) -> int:
        """Length in bytes (expanded, capped at what was measured)."""
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to *length* bytes from *offset* of the expanded stream."""
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        end = min(offset + length, self._size)
        if end <= offset:
            return b""
        if self._chunks and offset < self._chunks[0][0]:
            self._restart()
        parts: list[bytes] = []
        for start, chunk in self._chunks:
            if start + len(chunk) > offset and start < end:
                parts.append(chunk[max(0, offset - start) : end - start])
        got = sum(len(p) for p in parts)
        if offset + got >= end:
            return b"".join(parts)
        while self._produced < end:
            produced = self._next()
            if produced is None:
                break
            start = self._produced - len(produced)
            if start + len(produced) > offset + got:
                lo = max(0, offset + got - start)
                piece = produced[lo : end - start]
                parts.append(piece)
                got += len(piece)
        return b"".join(parts)

    def release(self) -> None:
        """Drop the cached bytes and the stream."""
        self._chunks.clear()
        self._cached = 0
        self._stream = None
        self._produced = 0

    def _restart(self) -> None:
        self.release()
        self._stream = self._open()

    def _next(self) -> bytes | None:
        if self._stream is None:
            self._stream = self._open()
        try:
            chunk = next(self._stream)
        except StopIteration:
            return None
        except Exception:  # decompressors are foreign code with their own error types
            return None
        self._produced += len(chunk)
        self._chunks.append((self._produced - len(chunk), chunk))
        self._cached += len(chunk)
        while self._cached > self._cache_bytes and len(self._chunks) > 1:
            _, old = self._chunks.popleft()
            self._cached -= len(old)
        return chunk


@dataclass
class Measure:
    """What one bounded pass over a decompression stream found."""

    size: int
    """Bytes produced and kept (capped by the bound that stopped the pass)."""
    crc: int
    """CRC-32 of the bytes produced."""
    complete: bool
    """True when the stream ended on its own, within every bound."""
    stopped: str
    """Why it stopped early: ``ratio``, ``member``, ``budget``, ``error`` or ""."""
    error: str = ""
    """The decompressor's complaint when ``stopped == "error"``."""


def measure(open_stream: Stream, compressed_size: int, limits: Limits, budget: int) -> Measure:
    """Stream once, checking the ratio, the per-member cap and the remaining *budget*."""
    size = 0
    crc = 0
    floor = max(compressed_size, 1)
    try:
        for piece in open_stream():
            crc = zlib.crc32(piece, crc)
            size += len(piece)
            if size > RATIO_FLOOR and size > limits.max_ratio * floor:
                return Measure(min(size, limits.max_member_bytes, budget), crc, False, "ratio")
            if size > limits.max_member_bytes:
                return Measure(min(limits.max_member_bytes, budget), crc, False, "member")
            if size > budget:
                return Measure(max(0, budget), crc, False, "budget")
    except Exception as exc:  # zstd, lz4, ... raise their own error types
        return Measure(size, crc, False, "error", f"{type(exc).__name__}: {exc}"[:200])
    return Measure(size, crc, True, "")


def read_stream(blob: Blob, start: int, length: int) -> Iterator[bytes]:
    """The raw bytes ``[start, start + length)`` of *blob* in pieces."""
    pos = 0
    while pos < length:
        piece = blob.read_at(start + pos, min(CHUNK, length - pos))
        if not piece:
            return
        pos += len(piece)
        yield piece


def zlib_stream(blob: Blob, start: int, length: int, wbits: int, multi: bool = False) -> Iterator[bytes]:
    """Inflate with zlib (raw deflate, zlib or gzip by *wbits*); *multi* follows concatenated members."""
    decomp: Any = zlib.decompressobj(wbits)
    pos = 0
    pending = b""
    while True:
        if not pending:
            if pos >= length:
                break
            pending = blob.read_at(start + pos, min(CHUNK, length - pos))
            if not pending:
                break
            pos += len(pending)
        out = decomp.decompress(pending, CHUNK)
        pending = decomp.unconsumed_tail
        if out:
            yield out
        if decomp.eof:
            rest = decomp.unused_data + pending
            if not multi or not rest.strip(b"\x00"):
                return
            decomp = zlib.decompressobj(wbits)
            pending = rest
    out = decomp.flush()
    if out:
        yield out
    if not decomp.eof:
        raise zlib.error("compressed stream ends early")


def buffered_stream(
    blob: Blob, start: int, length: int, factory: Callable[[], Any], multi: bool = False
) -> Iterator[bytes]:
    """Decompress with a bz2/lzma/zstd-style object (``decompress(data, max_length)``, ``eof``).

    With *multi*, concatenated streams are followed the way the command-line
    tools and Python's modules do; zero padding after the last one is ignored,
    anything else is an error (bytes no reader accounts for).
    """
    decomp = factory()
    pos = 0
    pending = b""
    while True:
        if decomp.eof:
            rest = decomp.unused_data + pending
            if not rest and pos < length:
                rest = blob.read_at(start + pos, min(CHUNK, length - pos))
                pos += len(rest)
            if not rest.strip(b"\x00") and (pos >= length or not multi):
                return
            if not multi:
                raise ValueError("data after the end of the compressed stream")
            decomp = factory()
            pending = rest
        if not pending and decomp.needs_input:
            if pos >= length:
                break
            pending = blob.read_at(start + pos, min(CHUNK, length - pos))
            if not pending:
                break
            pos += len(pending)
        out = decomp.decompress(pending, CHUNK)
        pending = b""
        if out:
            yield out
    if not decomp.eof:
        raise EOFError("compressed stream ends early")


def bz2_factory() -> Any:
    """A fresh bz2 decompressor."""
    return bz2.BZ2Decompressor()


def xz_factory() -> Any:
    """A fresh xz/lzma (auto-detecting) decompressor."""
    return lzma.LZMADecompressor()


def zstd_module() -> Any:
    """The first zstd implementation importable here, or None."""
    for name in ("compression.zstd", "backports.zstd", "pyzstd"):
        try:
            return __import__(name, fromlist=["_"])
        except ImportError:
            continue
    return None


def zstd_factory() -> Any:
    """A fresh zstd decompressor (``decompress(data, max_length)`` style)."""
    module = zstd_module()
    if module is None:
        raise ValueError("no zstd decompressor is installed")
    return module.ZstdDecompressor()
