"""safetensors: validate the header the way the Rust loader does, and then some.

Layout: ``u64`` little-endian header length ``N``, ``N`` bytes of UTF-8 JSON,
then the data section. Bounds and checks (every violation is a finding with
code ``invalid_header`` unless noted, and the byte offset it is about):

- ``N`` <= ``Limits.max_header_bytes`` (100 MB by default) and ``8 + N`` <= file size;
  only those ``8 + N`` bytes are read — never the data section;
- the header starts with ``{``, is UTF-8, strict JSON (no duplicate keys, no
  ``NaN``), nested at most ``Limits.max_json_depth`` deep, and is an object;
- at most ``Limits.max_entries`` tensors; each has exactly a known ``dtype``, a
  ``shape`` of non-negative integers whose product fits in 64 bits, and
  ``data_offsets`` ``[begin, end]`` with ``begin <= end``;
- ``shape`` x dtype bit size == ``end - begin`` bytes (sub-byte dtypes must
  end on a byte boundary);
- sorted by offset, the spans start at 0, are contiguous, never overlap, and the
  last one ends exactly at the end of the file;
- ``__metadata__`` maps strings to strings;
- bytes after the last tensor are a ``polyglot_payload`` finding and a
  :class:`~gate.formats.interface.Child` ``<appended@OFFSET>`` for the dispatcher.

:func:`read_index` also returns the tensor table for
:mod:`gate.formats.tensorstats`; the report's header stays bounded in size.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gate.formats import strictjson
from gate.formats.interface import DEFAULT_LIMITS, Blob, Child, Limits, Report, SliceBlob

FORMAT = "safetensors"

DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
}
"""Every dtype the safetensors 0.8 loader accepts, with its size in bits."""

_U64 = 1 << 64
_SUMMARY_ITEMS = 64
_SUMMARY_CHARS = 256


@dataclass(frozen=True)
class Tensor:
    """One entry of the header, offsets relative to the start of the data section."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def count(self) -> int:
        """Number of elements."""
        n = 1
        for dim in self.shape:
            n *= dim
        return n


@dataclass
class Index:
    """The validated tensor table of one file."""

    data_start: int
    """Absolute offset of the data section (``8 + N``)."""
    tensors: list[Tensor] = field(default_factory=list)
    """Tensors whose entry was well-formed, in offset order."""
    malformed: int = 0
    """Entries that were not (their spans are unknown, so unreferenced bytes prove nothing)."""


def looks_like(blob: Blob) -> bool:
    """True when the first bytes are a plausible safetensors header prefix."""
    head = blob.read_at(0, 10)
    if len(head) < 10:
        return False
    (n,) = struct.unpack_from("<Q", head)
    return 2 <= n <= blob.size - 8 and head[8:9] == b"{" and head[9:10] in b'"} \t\r\n'


def parse(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> Report:
    """Validate a safetensors file's header and layout; read nothing of the data."""
    report, _ = read_index(blob, limits)
    return report


def read_index(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> tuple[Report, Index | None]:
    """The report and, when the header could be decoded, the tensor table."""
    report = Report(FORMAT)
    try:
        index = _read(blob, limits, report)
    except Exception as exc:  # a parser bug must still be evidence, never a crash
        report.add(
            "invalid_header",
            "safetensors.parser_error",
            "high",
            f"the safetensors parser failed: {type(exc).__name__}: {str(exc)[:200]}",
        )
        return report, None
    return report, index


def _read(blob: Blob, limits: Limits, report: Report) -> Index | None:
    size = blob.size
    report.header["file_bytes"] = size
    if size < 8:
        report.add("invalid_header", "safetensors.too_small", "high", f"file is {size} bytes, under 8")
        return None
    (n,) = struct.unpack("<Q", blob.read_at(0, 8))
    report.header["header_bytes"] = n
    if n > limits.max_header_bytes:
        report.add(
            "invalid_header",
            "safetensors.header_too_large",
            "high",
            f"header length {n} exceeds the {limits.max_header_bytes}-byte limit",
            offset=0,
        )
        return None
    if 8 + n > size:
        report.add(
            "invalid_header",
            "safetensors.header_past_eof",
            "high",
            f"header length {n} points past the end of the {size}-byte file",
            offset=0,
        )
        return None
    raw = blob.read_at(8, n)
    if raw[:1] != b"{":
        report.add(
            "invalid_header", "safetensors.header_start", "high", "header does not start with '{'", offset=8
        )
        return None
    try:
        header = strictjson.loads(raw, limits.max_json_depth)
    except strictjson.StrictJSONError as exc:
        report.add(
            "invalid_header",
            f"safetensors.json_{exc.check}",
            "high",
            f"header is not strict JSON: {exc}",
            offset=8 + (exc.offset or 0),
        )
        return None
    if not isinstance(header, dict):
        report.add(
            "invalid_header", "safetensors.not_object", "high", "header is not a JSON object", offset=8
        )
        return None

    data_start = 8 + n
    index = Index(data_start)
    report.header["data_start"] = data_start
    _check_metadata(header.get("__metadata__"), "__metadata__" in header, report)
    entries = [(k, v) for k, v in header.items() if k != "__metadata__"]
    report.header["tensor_count"] = len(entries)
    if len(entries) > limits.max_entries:
        report.add(
            "invalid_header",
            "safetensors.too_many_tensors",
            "high",
            f"{len(entries)} tensors exceed the limit of {limits.max_entries}",
            offset=8,
        )
        return None

    for name, entry in entries:
        tensor = _tensor(name, entry, data_start, report)
        if tensor is not None:
            index.tensors.append(tensor)
        else:
            index.malformed += 1
    declared = [t.begin for t in index.tensors]
    report.header["declared_in_offset_order"] = declared == sorted(declared)
    index.tensors.sort(key=lambda t: (t.begin, t.end))
    _check_layout(blob, index, report)

    dtypes = Counter(t.dtype for t in index.tensors)
    report.header["dtypes"] = dict(sorted(dtypes.items()))
    total = sum(t.count for t in index.tensors)
    # capped so the figure stays an exact JSON number for every engine that reads it
    report.header["total_parameters"] = min(total, 2**53)
    report.header["total_parameters_capped"] = total > 2**53
    report.header["tensors_sample"] = [
        {"name": t.name[:_SUMMARY_CHARS], "dtype": t.dtype, "shape": list(t.shape[:8])}
        for t in index.tensors[:16]
    ]
    return index


def _check_metadata(meta: Any, present: bool, report: Report) -> None:
    if not present:
        return
    if not isinstance(meta, dict):
        report.add(
            "invalid_header", "safetensors.metadata_type", "high", "__metadata__ is not an object", offset=8
        )
        return
    bad = [k for k, v in meta.items() if not isinstance(v, str)]
    if bad:
        report.add(
            "invalid_header",
            "safetensors.metadata_type",
            "high",
            f"__metadata__ values must be strings; {len(bad)} are not (first: {bad[0][:80]!r})",
            offset=8,
            keys=[k[:80] for k in bad[:8]],
        )
    report.header["metadata_keys"] = [k[:_SUMMARY_CHARS] for k in list(meta)[:_SUMMARY_ITEMS]]
    report.header["metadata"] = {
        k[:_SUMMARY_CHARS]: v[:_SUMMARY_CHARS]
        for k, v in list(meta.items())[:_SUMMARY_ITEMS]
        if isinstance(v, str)
    }


def _is_uint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _U64


def _tensor(name: str, entry: Any, data_start: int, report: Report) -> Tensor | None:
    short = name[:120]

    def bad(check: str, detail: str) -> None:
        report.add("invalid_header", f"safetensors.{check}", "high", detail, offset=8, tensor=short)

    if not isinstance(entry, dict):
        bad("tensor_entry", f"tensor {short!r} is not an object")
        return None
    missing = [k for k in ("dtype", "shape", "data_offsets") if k not in entry]
    if missing:
        bad("tensor_entry", f"tensor {short!r} lacks {', '.join(missing)}")
        return None
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        bad("dtype_unknown", f"tensor {short!r} has unknown dtype {str(dtype)[:40]!r}")
        return None
    if not isinstance(shape, list) or not all(_is_uint(d) for d in shape):
        bad("shape_invalid", f"tensor {short!r} shape is not a list of non-negative 64-bit integers")
        return None
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_is_uint(o) for o in offsets)
        or offsets[0] > offsets[1]
    ):
        bad("offsets_invalid", f"tensor {short!r} data_offsets is not [begin, end] with begin <= end")
        return None
    tensor = Tensor(name, dtype, tuple(shape), offsets[0], offsets[1])
    count = tensor.count
    if count >= _U64:
        bad("shape_overflow", f"tensor {short!r} has {len(shape)} dims whose product overflows 64 bits")
        return None
    bits = count * DTYPE_BITS[dtype]
    where = data_start + tensor.begin
    if bits % 8:
        report.add(
            "invalid_header",
            "safetensors.subbyte_misaligned",
            "high",
            f"tensor {short!r}: {count} x {dtype} does not end on a byte boundary",
            offset=where,
            tensor=short,
        )
    elif bits // 8 != tensor.end - tensor.begin:
        report.add(
            "invalid_header",
            "safetensors.span_mismatch",
            "high",
            f"tensor {short!r}: shape {list(shape)[:8]} x {dtype} is {bits // 8} bytes "
            f"but its data_offsets span {tensor.end - tensor.begin}",
            offset=where,
            tensor=short,
        )
    return tensor


def _check_layout(blob: Blob, index: Index, report: Report) -> None:
    size = blob.size
    data_bytes = size - index.data_start
    report.header["data_bytes"] = data_bytes
    cursor = 0
    for tensor in index.tensors:
        where = index.data_start + tensor.begin
        short = tensor.name[:120]
        if tensor.begin < cursor:
            report.add(
                "invalid_header",
                "safetensors.offsets_overlap",
                "high",
                f"tensor {short!r} [{tensor.begin}, {tensor.end}) overlaps the previous tensor "
                f"ending at {cursor}",
                offset=where,
                tensor=short,
            )
        elif tensor.begin > cursor:
            check = "safetensors.first_offset" if cursor == 0 else "safetensors.offsets_gap"
            report.add(
                "invalid_header",
                check,
                "high",
                f"{tensor.begin - cursor} unreferenced bytes before tensor {short!r} at data offset {cursor}",
                offset=index.data_start + cursor,
                tensor=short,
            )
        if tensor.end > data_bytes:
            report.add(
                "invalid_header",
                "safetensors.offsets_out_of_range",
                "high",
                f"tensor {short!r} ends at data offset {tensor.end}, past the {data_bytes}-byte data section",
                offset=where,
                tensor=short,
            )
        cursor = max(cursor, tensor.end)
    if cursor < data_bytes:
        start = index.data_start + cursor
        report.children.append(Child(f"<appended@{start}>", SliceBlob(blob, start, size - start)))
        if index.malformed:
            return
        report.add(
            "polyglot_payload",
            "safetensors.appended_data",
            "high",
            f"{data_bytes - cursor} bytes after the last tensor at offset {start} belong to no tensor",
            offset=start,
            length=data_bytes - cursor,
        )
