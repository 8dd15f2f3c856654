"""joblib files: a pickle stream with array bytes inside it, optionally compressed.

``joblib.dump`` replaces every NumPy array by a ``NumpyArrayWrapper`` whose
``BUILD`` is followed, in the same file, by the array: one padding-length
byte and that many ``\\xff`` bytes (joblib >= 1.2), then the raw data; or,
for object arrays, a complete inner pickle stream. ``joblib.load`` reads
those bytes itself and carries on with the next opcode. The interpreter in
:mod:`gate.formats.pickle` calls :func:`joblib_build_hook` after every
``BUILD`` to do the same, and asks what a plain ``pickle.load`` would make
of the skipped bytes, so a payload hidden where joblib skips is still seen.

Compressed joblib files (zlib, gzip, bz2, xz, lzma, lz4) are decompressed
with a size and ratio cap into a child blob the dispatcher scans as a pickle.
"""

from __future__ import annotations

import bz2
import lzma
import math
import re
import zlib
from typing import Any

from gate.formats.interface import DEFAULT_LIMITS, Blob, BytesBlob, Child, Limits, Report
from gate.formats.pickle import Called, Glob, Machine, Map, Opaque, Seq, Str, analyse

WRAPPERS = frozenset(
    {
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
    }
)

COMPRESSIONS = (
    (b"ZF", "zfile"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"]\x00\x00", "lzma"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"\x78", "zlib"),
)

_DTYPE = re.compile(r"([<>|=]?)([a-zA-Z])(\d*)")
_KIND_SIZE = {"b": 1, "?": 1, "M": 8, "m": 8, "O": 8}
_CHUNK = 1 << 20


def _wrapper_of(inst: Any) -> bool:
    if not isinstance(inst, Called):
        return False
    func = inst.func
    if isinstance(func, Glob) and func.full in WRAPPERS:
        return True
    # protocol 0/1: copyreg._reconstructor(NumpyArrayWrapper, object, None)
    if isinstance(func, Glob) and func.full == "copyreg._reconstructor" and isinstance(inst.args, Seq):
        first = inst.args.items[0] if inst.args.items else None
        return isinstance(first, Glob) and first.full in WRAPPERS
    return False


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def dtype_itemsize(dtype: Any) -> tuple[int | None, bool]:
    """(itemsize, is_object) of a symbolic ``numpy.dtype(...)`` call with its BUILD state."""
    if not isinstance(dtype, Called) or not isinstance(dtype.args, Seq) or not dtype.args.items:
        return None, False
    spec = dtype.args.items[0]
    if not isinstance(spec, Str) or not isinstance(spec.text, str):
        return None, False
    m = _DTYPE.fullmatch(spec.text)
    if m is None:
        return None, False
    kind, digits = m.group(2), m.group(3)
    is_object = kind == "O"
    size: int | None = int(digits) if digits else _KIND_SIZE.get(kind)
    if kind == "U" and size is not None:
        size *= 4
    state = dtype.state
    if isinstance(state, Seq) and len(state.items) >= 6:
        elsize = _int(state.items[5])
        if elsize is not None and elsize > 0:
            size = elsize
    return size, is_object


def joblib_build_hook(machine: Machine, inst: Any, state: Any, off: int) -> None:
    """After BUILD of a NumpyArrayWrapper, consume the array bytes the way joblib.load does."""
    if not _wrapper_of(inst) or not isinstance(state, Map):
        return
    subclass = state.get("subclass")
    if isinstance(subclass, (Called, Opaque)):
        machine.flag(
            "pickle.computed_callable",
            "critical",
            f"NumpyArrayWrapper at offset {off} names a computed value as the array class joblib builds",
            off,
            "BUILD",
        )
    shape = state.get("shape")
    itemsize, is_object = dtype_itemsize(state.get("dtype"))
    reader = machine.reader
    start = reader.pos
    if is_object:
        machine.inner_stream(start)
        machine.skipped_regions.append((start, reader.pos))
        return
    if not isinstance(shape, Seq) or shape.count != len(shape.items) or itemsize is None:
        machine.flag(
            "joblib.array_unknown_size",
            "high",
            f"NumpyArrayWrapper at offset {off} has a shape or dtype gate cannot size; "
            "the bytes after it cannot be accounted for",
            off,
            "BUILD",
        )
        return
    dims = [_int(d) for d in shape.items]
    if any(d is None or d < 0 for d in dims):
        machine.flag("joblib.array_unknown_size", "high", f"negative or non-integer shape at {off}", off)
        return
    count = math.prod(d for d in dims if d is not None)
    alignment = state.get("numpy_array_alignment_bytes")
    pad = 0
    if alignment is not None:
        pad_len = reader.take(1)[0]
        padding = reader.take(pad_len) if pad_len else b""
        pad = 1 + pad_len
        align = _int(alignment)
        if align is None or pad_len > align or padding.strip(b"\xff"):
            machine.flag(
                "joblib.bad_padding",
                "high",
                f"array padding after the NumpyArrayWrapper at offset {off} is not what joblib writes",
                start,
                "BUILD",
            )
    data_start = reader.skip(count * itemsize)
    machine.skipped_regions.append((start, reader.pos))
    # A plain pickle.load reads these bytes as opcodes instead of skipping them.
    machine.plain_view(start if pad else data_start)


def _decompress(blob: Blob, kind: str, limits: Limits, report: Report) -> bytes | None:
    cap = limits.max_member_bytes
    ratio_cap = limits.max_ratio
    decomp: Any
    offset = 0
    if kind == "zfile":
        # joblib < 0.10: b"ZF" + 8-byte hex length field (padded) + zlib data
        offset = 2 + 8 + 8
        decomp = zlib.decompressobj()
    elif kind == "zlib":
        decomp = zlib.decompressobj()
    elif kind == "gzip":
        decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif kind == "bz2":
        decomp = bz2.BZ2Decompressor()
    elif kind in ("xz", "lzma"):
        decomp = lzma.LZMADecompressor(lzma.FORMAT_AUTO)
    else:
        try:
            import lz4.frame  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError:
            report.add(
                "unsafe_pickle",
                "joblib.unsupported_compression",
                "high",
                f"{kind}-compressed joblib file: the decompressor is not installed, so the pickle "
                "inside cannot be scanned",
            )
            return None
        decomp = lz4.frame.LZ4FrameDecompressor()
    out: list[bytes] = []
    total = 0
    pos = offset
    while pos < blob.size:
        chunk = blob.read_at(pos, _CHUNK)
        if not chunk:
            break
        pos += len(chunk)
        try:
            piece = decomp.decompress(chunk, cap + 1 - total) if kind != "lz4" else decomp.decompress(chunk)
        except (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError, RuntimeError) as exc:
            report.add(
                "unsafe_pickle",
                "joblib.decompress_error",
                "high",
                f"{kind} data of the joblib file is corrupt near offset {pos}: {exc}",
                offset=pos,
            )
            return None
        total += len(piece)
        out.append(piece)
        if total > cap or (pos > 0 and total / max(pos, 1) > ratio_cap and total > (1 << 20)):
            report.add(
                "archive_unsafe",
                "joblib.decompression_bomb",
                "high",
                f"the {kind}-compressed joblib file expands past {cap} bytes or a ratio of "
                f"{ratio_cap:g}; not decompressed further",
                expanded=total,
                compressed=pos,
            )
            return None
        if getattr(decomp, "eof", False):
            break
    return b"".join(out)


def compression_of(blob: Blob) -> str:
    """The compression a joblib file uses, by magic bytes ("" for a plain pickle)."""
    head = blob.read_at(0, 8)
    for magic, kind in COMPRESSIONS:
        if head.startswith(magic):
            if kind == "zlib" and (len(head) < 2 or (head[0] * 256 + head[1]) % 31):
                continue
            return kind
    return ""


def parse(blob: Blob, limits: Limits = DEFAULT_LIMITS, *, member: str = "") -> Report:
    """A joblib file: decompress into a child (hint ``pickle``), or analyse the pickle in place."""
    kind = compression_of(blob)
    if kind:
        report = Report(format="joblib", header={"compression": kind, "compressed_bytes": blob.size})
        data = _decompress(blob, kind, limits, report)
        if data is not None:
            report.header["expanded_bytes"] = len(data)
            report.children.append(Child("<joblib-decompressed>", BytesBlob(data), hint="pickle"))
        return report
    report = analyse(blob, limits, member=member).report
    if any(
        g.get("module", "").startswith(("joblib.", "sklearn.externals.joblib"))
        for g in report.header["globals"]
    ):
        report.format = "joblib"
    report.header["compression"] = ""
    return report
