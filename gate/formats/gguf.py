"""GGUF v2/v3: bounded key/value and tensor-info parsing, layout checks, template inspection.

Layout: ``GGUF`` magic, ``u32`` version, ``u64`` tensor count, ``u64`` KV count,
the KV pairs, the tensor infos, padding to ``general.alignment``, then the
tensor data. Bounds and checks (code ``invalid_header`` unless noted):

- version 2 or 3 (version 1, with 32-bit counts, and anything else is refused);
  big-endian files (version bytes swapped) are parsed as big-endian and recorded;
- tensor count and KV count <= ``Limits.max_entries``; the KV area plus the
  tensor infos <= ``Limits.max_header_bytes`` (nothing past it is read);
- every string <= ``Limits.max_string_bytes`` and inside the file; arrays
  <= ``Limits.max_entries`` elements, nested at most ``Limits.max_depth`` deep;
  value types 0..12 only; no duplicate keys;
- ``general.alignment`` is a ``u32`` power of two (default 32);
- tensor infos: unique names <= 64 bytes, 1..4 dims, each dim >= 1 with a
  64-bit element count, a known ggml type whose block size divides the first
  dim, an offset that is a multiple of the alignment, at the position llama.cpp
  expects (previous tensors' padded sizes), span inside the file, no overlap;
- bytes after the last tensor beyond zero padding are a ``polyglot_payload``
  finding and a :class:`~gate.formats.interface.Child` ``<appended@OFFSET>``;
- ``tokenizer.chat_template``, ``tokenizer.chat_template.*`` and every other
  string value containing ``{{`` or ``{%`` go through :mod:`gate.formats.jinja`
  (parsed, never rendered).

Only the header area is read; the tensor data is left to
:mod:`gate.formats.tensorstats`, which samples it.
"""

from __future__ import annotations

import itertools
import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gate.formats import jinja
from gate.formats.interface import DEFAULT_LIMITS, Blob, Child, Limits, Report, SliceBlob

FORMAT = "gguf"
MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4
"""GGML_MAX_DIMS in llama.cpp."""
MAX_NAME_BYTES = 64
"""GGML_MAX_NAME in llama.cpp (including the terminating NUL, so 63 usable; 64 tolerated)."""

GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
    40: ("NVFP4", 64, 36),
    41: ("Q1_0", 128, 18),
}
"""ggml tensor types: id -> (name, elements per block, bytes per block), as in gguf-py 0.19."""

VALUE_TYPES: dict[int, str] = {
    0: "UINT8",
    1: "INT8",
    2: "UINT16",
    3: "INT16",
    4: "UINT32",
    5: "INT32",
    6: "FLOAT32",
    7: "BOOL",
    8: "STRING",
    9: "ARRAY",
    10: "UINT64",
    11: "INT64",
    12: "FLOAT64",
}
_SCALARS: dict[int, str] = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING, _ARRAY = 8, 9
_SUMMARY_KEYS = 256
_SUMMARY_CHARS = 256
_U64 = 1 << 64


@dataclass(frozen=True)
class Tensor:
    """One tensor info, with its absolute byte span."""

    name: str
    type_id: int
    type_name: str
    dims: tuple[int, ...]
    start: int
    """Absolute offset of the tensor's first byte."""
    nbytes: int

    @property
    def count(self) -> int:
        """Number of elements."""
        n = 1
        for dim in self.dims:
            n *= dim
        return n


@dataclass
class Index:
    """The parsed tensor table of one file."""

    alignment: int
    data_start: int
    tensors: list[Tensor] = field(default_factory=list)


class _Stop(Exception):
    """A violation after which the rest of the file cannot be interpreted."""

    def __init__(self, check: str, detail: str, offset: int) -> None:
        super().__init__(detail)
        self.check = check
        self.offset = offset


class _Reader:
    """Sequential reads over a blob through a bounded buffer."""

    _CHUNK = 1 << 18

    def __init__(self, blob: Blob, endian: str, limit: int) -> None:
        self.blob = blob
        self.endian = endian
        self.pos = 0
        self.limit = min(limit, blob.size)
        self.limit_is_eof = limit >= blob.size
        self._buf = b""
        self._buf_start = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > self.limit:
            if self.limit_is_eof:
                raise _Stop(
                    "gguf.truncated", f"{n} bytes needed at offset {self.pos} run past the end", self.pos
                )
            raise _Stop(
                "gguf.header_too_large", f"header area grows past the {self.limit}-byte limit", self.pos
            )
        rel = self.pos - self._buf_start
        if rel < 0 or rel + n > len(self._buf):
            if n > self._CHUNK:
                data = self.blob.read_at(self.pos, n)
                self.pos += n
                return data
            self._buf = self.blob.read_at(self.pos, self._CHUNK)
            self._buf_start = self.pos
            rel = 0
        data = self._buf[rel : rel + n]
        self.pos += n
        return data

    def skip(self, n: int) -> None:
        if self.pos + n > self.limit:
            self.take(n)  # raises with the right check
        self.pos += n

    def scalar(self, code: str) -> Any:
        fmt = self.endian + code
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def u32(self) -> int:
        value: int = self.scalar("I")
        return value

    def u64(self) -> int:
        value: int = self.scalar("Q")
        return value

    def string(self, max_bytes: int) -> bytes:
        at = self.pos
        n = self.u64()
        if n > max_bytes:
            raise _Stop("gguf.string_too_long", f"string of {n} bytes exceeds the {max_bytes}-byte limit", at)
        return self.take(n)


def looks_like(blob: Blob) -> bool:
    """True when the blob starts with the GGUF magic and a plausible version."""
    head = blob.read_at(0, 8)
    if len(head) < 8 or head[:4] != MAGIC:
        return False
    le: int = struct.unpack_from("<I", head, 4)[0]
    be: int = struct.unpack_from(">I", head, 4)[0]
    return 1 <= le <= 3 or 1 <= be <= 3


def parse(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> Report:
    """Validate a GGUF file's header, tensor table, layout and templates."""
    report, _ = read_index(blob, limits)
    return report


def read_index(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> tuple[Report, Index | None]:
    """The report and, when the tensor table could be read, the tensor index."""
    report = Report(FORMAT)
    try:
        return report, _read(blob, limits, report)
    except _Stop as stop:
        report.add("invalid_header", stop.check, "high", str(stop), offset=stop.offset)
    except Exception as exc:  # a parser bug must still be evidence, never a crash
        report.add(
            "invalid_header",
            "gguf.parser_error",
            "high",
            f"the GGUF parser failed: {type(exc).__name__}: {str(exc)[:200]}",
        )
    return report, None


def _read(blob: Blob, limits: Limits, report: Report) -> Index | None:
    report.header["file_bytes"] = blob.size
    head = blob.read_at(0, 8)
    if len(head) < 8 or head[:4] != MAGIC:
        raise _Stop("gguf.magic", "file does not start with the GGUF magic and a version", 0)
    endian = "<"
    version = struct.unpack_from("<I", head, 4)[0]
    if version & 0xFFFF == 0 and version:
        endian, version = ">", struct.unpack_from(">I", head, 4)[0]
    report.header["version"] = version
    report.header["endianness"] = "little" if endian == "<" else "big"
    if version not in (2, 3):
        raise _Stop(
            "gguf.version_unsupported",
            f"GGUF version {version} is not supported (only 2 and 3)",
            4,
        )
    r = _Reader(blob, endian, limits.max_header_bytes)
    r.skip(8)
    n_tensors, n_kv = r.u64(), r.u64()
    report.header["tensor_count"] = n_tensors
    report.header["kv_count"] = n_kv
    for what, n, at in (("tensor", n_tensors, 8), ("key/value", n_kv, 16)):
        if n > limits.max_entries:
            raise _Stop(
                "gguf.too_many_entries", f"{n} {what} entries exceed the limit of {limits.max_entries}", at
            )

    alignment = _read_kvs(r, n_kv, limits, report)
    report.header["alignment"] = alignment
    tensors = _read_tensor_infos(r, n_tensors, limits, report)
    infos_end = r.pos
    data_start = infos_end + (-infos_end) % alignment
    report.header["data_start"] = data_start
    index = Index(alignment, data_start)
    _check_layout(blob, index, tensors, infos_end, report)

    types = Counter(t.type_name for t in index.tensors)
    report.header["tensor_types"] = dict(sorted(types.items()))
    total = sum(t.count for t in index.tensors)
    # capped so the figure stays an exact JSON number for every engine that reads it
    report.header["total_parameters"] = min(total, 2**53)
    report.header["total_parameters_capped"] = total > 2**53
    report.header["tensors_sample"] = [
        {"name": t.name[:_SUMMARY_CHARS], "type": t.type_name, "dims": list(t.dims)}
        for t in index.tensors[:16]
    ]
    return index


def _read_kvs(r: _Reader, n_kv: int, limits: Limits, report: Report) -> int:
    seen: set[str] = set()
    summary: dict[str, Any] = {}
    templates: list[str] = []
    alignment = DEFAULT_ALIGNMENT
    for _ in range(n_kv):
        key_at = r.pos
        key = r.string(limits.max_string_bytes).decode("utf-8", "replace")
        if key in seen:
            raise _Stop("gguf.duplicate_key", f"duplicate key {key[:80]!r}", key_at)
        seen.add(key)
        vtype = r.u32()
        value_at = r.pos
        value = _value(r, vtype, limits, 0, key, report)
        if len(summary) < _SUMMARY_KEYS:
            summary[key[:_SUMMARY_CHARS]] = _summarize(value, vtype)
        if vtype == _STRING:
            text = value.decode("utf-8", "replace")
            is_template = key == "tokenizer.chat_template" or key.startswith("tokenizer.chat_template.")
            if is_template or "{{" in text or "{%" in text:
                templates.append(key[:_SUMMARY_CHARS])
                for finding in jinja.inspect(
                    text, source=key, offset=value_at, report_parse_errors=is_template, limits=limits
                ):
                    report.findings.append(finding)
        if key == "general.alignment":
            if vtype != 4 or not isinstance(value, int) or value == 0 or value & (value - 1):
                raise _Stop(
                    "gguf.alignment",
                    f"general.alignment must be a u32 power of two, got {_summarize(value, vtype)!r}",
                    value_at,
                )
            alignment = value
    report.header["kv"] = summary
    report.header["templates"] = templates
    arch = summary.get("general.architecture")
    if isinstance(arch, str):
        report.header["architecture"] = arch
    return alignment


def _value(r: _Reader, vtype: int, limits: Limits, depth: int, key: str, report: Report) -> Any:
    if vtype in _SCALARS:
        return r.scalar(_SCALARS[vtype])
    if vtype == _STRING:
        return r.string(limits.max_string_bytes)
    if vtype != _ARRAY:
        raise _Stop("gguf.value_type", f"key {key[:80]!r} has unknown value type {vtype}", r.pos - 4)
    if depth >= limits.max_depth:
        raise _Stop(
            "gguf.array_depth", f"key {key[:80]!r} nests arrays deeper than {limits.max_depth}", r.pos
        )
    at = r.pos
    etype, count = r.u32(), r.u64()
    if count > limits.max_entries:
        raise _Stop(
            "gguf.array_too_long",
            f"key {key[:80]!r} array of {count} elements exceeds the limit of {limits.max_entries}",
            at,
        )
    if etype in _SCALARS:
        r.skip(count * struct.calcsize(r.endian + _SCALARS[etype]))
        return _Array(etype, count)
    if etype == _STRING:
        inspect = "template" in key
        for _ in range(count):
            item_at = r.pos
            item = r.string(limits.max_string_bytes)
            if inspect and (b"{{" in item or b"{%" in item):
                report.findings.extend(
                    jinja.inspect(
                        item.decode("utf-8", "replace"),
                        source=key,
                        offset=item_at,
                        report_parse_errors=False,
                        limits=limits,
                    )
                )
        return _Array(etype, count)
    for _ in range(count):
        _value(r, etype, limits, depth + 1, key, report)
    return _Array(etype, count)


@dataclass(frozen=True)
class _Array:
    etype: int
    count: int


def _summarize(value: Any, vtype: int) -> Any:
    if isinstance(value, _Array):
        return {"type": "ARRAY", "element_type": VALUE_TYPES.get(value.etype, "?"), "length": value.count}
    if isinstance(value, bytes):
        return value[: _SUMMARY_CHARS * 4].decode("utf-8", "replace")[:_SUMMARY_CHARS]
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return str(value)
    return value


def _read_tensor_infos(r: _Reader, n_tensors: int, limits: Limits, report: Report) -> list[Tensor]:
    names: set[str] = set()
    out: list[Tensor] = []
    for _ in range(n_tensors):
        at = r.pos
        raw = r.string(limits.max_string_bytes)
        name = raw.decode("utf-8", "replace")
        if len(raw) > MAX_NAME_BYTES:
            raise _Stop("gguf.tensor_name", f"tensor name of {len(raw)} bytes exceeds {MAX_NAME_BYTES}", at)
        if name in names:
            raise _Stop("gguf.duplicate_tensor", f"duplicate tensor name {name!r}", at)
        names.add(name)
        n_dims = r.u32()
        if not 1 <= n_dims <= MAX_DIMS:
            raise _Stop("gguf.tensor_dims", f"tensor {name!r} has {n_dims} dims (allowed 1..{MAX_DIMS})", at)
        dims = tuple(r.u64() for _ in range(n_dims))
        count = 1
        for d in dims:
            count *= d
        if 0 in dims or count >= (1 << 63):
            raise _Stop("gguf.tensor_dims", f"tensor {name!r} dims {list(dims)} are zero or overflow", at)
        type_id = r.u32()
        if type_id not in GGML_TYPES:
            raise _Stop("gguf.tensor_type_unknown", f"tensor {name!r} has unknown ggml type {type_id}", at)
        type_name, block, type_size = GGML_TYPES[type_id]
        if dims[0] % block:
            raise _Stop(
                "gguf.tensor_block",
                f"tensor {name!r} first dim {dims[0]} is not a multiple of "
                f"the {type_name} block size {block}",
                at,
            )
        offset = r.u64()
        out.append(Tensor(name, type_id, type_name, dims, offset, count // block * type_size))
    return out


def _check_layout(blob: Blob, index: Index, tensors: list[Tensor], infos_end: int, report: Report) -> None:
    size = blob.size
    align = index.alignment
    expected = 0
    for t in tensors:
        where = index.data_start + t.start
        if t.start % align:
            report.add(
                "invalid_header",
                "gguf.tensor_misaligned",
                "high",
                f"tensor {t.name!r} offset {t.start} is not a multiple of the alignment {align}",
                offset=where,
                tensor=t.name,
            )
        elif t.start != expected:
            report.add(
                "invalid_header",
                "gguf.tensor_offset",
                "high",
                f"tensor {t.name!r} offset {t.start} is not where its predecessors end ({expected})",
                offset=where,
                tensor=t.name,
            )
        expected = t.start + t.nbytes + (-(t.start + t.nbytes)) % align
        if where + t.nbytes > size:
            report.add(
                "invalid_header",
                "gguf.tensor_past_eof",
                "high",
                f"tensor {t.name!r} [{where}, {where + t.nbytes}) runs past the end of the {size}-byte file",
                offset=where,
                tensor=t.name,
            )
        index.tensors.append(Tensor(t.name, t.type_id, t.type_name, t.dims, where, t.nbytes))
    ordered = sorted(index.tensors, key=lambda t: t.start)
    for prev, cur in itertools.pairwise(ordered):
        if cur.start < prev.start + prev.nbytes:
            report.add(
                "invalid_header",
                "gguf.tensor_overlap",
                "high",
                f"tensor {cur.name!r} at {cur.start} overlaps {prev.name!r} "
                f"ending at {prev.start + prev.nbytes}",
                offset=cur.start,
                tensor=cur.name,
            )
    end = max((t.start + t.nbytes for t in index.tensors), default=infos_end)
    if end >= size:
        return
    tail = blob.read_at(end, min(size - end, align))
    if size - end < align and not tail.strip(b"\0"):
        return  # zero padding up to the alignment
    report.add(
        "polyglot_payload",
        "gguf.appended_data",
        "high",
        f"{size - end} bytes after the last tensor at offset {end} belong to no tensor",
        offset=end,
        length=size - end,
    )
    report.children.append(Child(f"<appended@{end}>", SliceBlob(blob, end, size - end)))
