"""NumPy ``.npy``: the header is read as data, never through ``numpy.load``.

Layout: ``\\x93NUMPY``, major and minor version bytes, a header length
(``u16`` little-endian in version 1, ``u32`` in 2 and 3), then a Python dict
literal (latin-1, UTF-8 in version 3) and the array data. Bounds and checks:

- version 1.0, 2.0 or 3.0; header length <= ``MAX_HEADER_BYTES`` (numpy's own
  default cap, 10 000) and inside the file; only the header is read;
- the header is parsed with :func:`ast.parse` and converted by a walker that
  accepts only dict / tuple / list / string / number / bool / None nodes
  (nothing is evaluated); exactly the keys ``descr``, ``fortran_order``,
  ``shape``; shape a tuple of non-negative integers; structured dtypes nested at
  most ``MAX_DTYPE_DEPTH`` deep with at most ``Limits.max_entries`` fields;
- an object dtype (``'O'`` anywhere in the descr) means the data is a pickle:
  ``header["object_dtype"] = True`` and a :class:`~gate.formats.interface.Child`
  ``<object-array>`` (hint ``pickle``) over the data for the pickle analyser, which
  judges its globals; the nested format ``pickle`` is what a profile denies or allows;
- otherwise shape x itemsize must equal the data size (``invalid_header`` /
  ``npy.size_mismatch``); extra bytes are also ``polyglot_payload`` with a
  ``<appended@OFFSET>`` child.

``.npz`` archives are zips: the dispatcher calls :func:`parse` per member.
"""

from __future__ import annotations

import ast
import re
import struct
import warnings
from typing import Any

from gate.formats.interface import DEFAULT_LIMITS, Blob, Child, Limits, Report, SliceBlob

FORMAT = "npy"
MAGIC = b"\x93NUMPY"
MAX_HEADER_BYTES = 10_000
MAX_DTYPE_DEPTH = 16
_TYPESTR = re.compile(r"^([<>|=]?)([a-zA-Z?])(\d*)(\[[A-Za-z0-9]+\])?$")
_FIXED = {"b": {1}, "?": {1}, "i": {1, 2, 4, 8}, "u": {1, 2, 4, 8}, "f": {2, 4, 8, 10, 12, 16}}
_FIXED["c"] = {8, 16, 20, 24, 32}
_DEFAULT_SIZE = {"b": 1, "?": 1, "M": 8, "m": 8, "O": 8}


class NpyError(ValueError):
    """The header is not a valid, bounded ``.npy`` header."""

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(detail)
        self.check = check


def looks_like(blob: Blob) -> bool:
    """True when the blob starts with the ``.npy`` magic."""
    return blob.read_at(0, 6) == MAGIC


def parse(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> Report:
    """Validate an ``.npy`` header and the data size; hand object arrays to the pickle analyser."""
    report = Report(FORMAT)
    try:
        _parse(blob, limits, report)
    except NpyError as exc:
        report.add("invalid_header", exc.check, "high", str(exc), offset=10)
    except Exception as exc:  # a parser bug must still be evidence, never a crash
        report.add(
            "invalid_header",
            "npy.parser_error",
            "high",
            f"the .npy parser failed: {type(exc).__name__}: {str(exc)[:200]}",
        )
    return report


def _parse(blob: Blob, limits: Limits, report: Report) -> None:
    head = blob.read_at(0, 12)
    if head[:6] != MAGIC or len(head) < 10:
        report.add(
            "invalid_header", "npy.magic", "high", "not an .npy file (magic missing or truncated)", offset=0
        )
        return
    major, minor = head[6], head[7]
    report.header["version"] = f"{major}.{minor}"
    if (major, minor) not in ((1, 0), (2, 0), (3, 0)):
        report.add("invalid_header", "npy.version", "high", f"unknown .npy version {major}.{minor}", offset=6)
        return
    if major == 1:
        (hlen,) = struct.unpack_from("<H", head, 8)
        start = 10
    else:
        if len(head) < 12:
            report.add(
                "invalid_header", "npy.truncated", "high", "header length field is truncated", offset=8
            )
            return
        (hlen,) = struct.unpack_from("<I", head, 8)
        start = 12
    if hlen > MAX_HEADER_BYTES:
        report.add(
            "invalid_header",
            "npy.header_too_large",
            "high",
            f"header length {hlen} exceeds the {MAX_HEADER_BYTES}-byte limit",
            offset=8,
        )
        return
    if start + hlen > blob.size:
        report.add(
            "invalid_header", "npy.header_past_eof", "high", "header runs past the end of the file", offset=8
        )
        return
    raw = blob.read_at(start, hlen)
    try:
        text = raw.decode("utf-8" if major == 3 else "latin-1")
    except UnicodeDecodeError:
        raise NpyError("npy.header_encoding", "version 3 header is not UTF-8") from None
    header = parse_header(text, limits)
    data_start = start + hlen
    descr, shape = header["descr"], header["shape"]
    count = 1
    for dim in shape:
        count *= dim
    itemsize, has_object = dtype_info(descr, limits)
    report.header.update(
        {
            "descr": _short(descr),
            "shape": list(shape[:32]),
            "fortran_order": header["fortran_order"],
            "data_start": data_start,
            "object_dtype": has_object,
            "itemsize": itemsize,
        }
    )
    data_bytes = blob.size - data_start
    if has_object:
        # The data is a pickle (numpy.load(allow_pickle=True) unpickles it): the child is
        # analysed as one, and its format ("pickle") is what a profile allows or denies.
        report.children.append(Child("<object-array>", SliceBlob(blob, data_start, data_bytes), "pickle"))
        return
    expected = count * itemsize
    report.header["data_bytes"] = data_bytes
    if expected != data_bytes:
        report.add(
            "invalid_header",
            "npy.size_mismatch",
            "high",
            f"shape {list(shape[:8])} x itemsize {itemsize} is {expected} bytes but the data is {data_bytes}",
            offset=data_start,
        )
    if expected < data_bytes:
        at = data_start + expected
        report.add(
            "polyglot_payload",
            "npy.appended_data",
            "high",
            f"{data_bytes - expected} bytes after the array data at offset {at}",
            offset=at,
        )
        report.children.append(Child(f"<appended@{at}>", SliceBlob(blob, at, blob.size - at)))


def _short(value: Any) -> Any:
    text = repr(value)
    return value if len(text) <= 256 and isinstance(value, str) else text[:256]


def parse_header(text: str, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The header dict, or :class:`NpyError`; nothing in *text* is evaluated."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # odd escapes in string literals warn, harmlessly
            tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise NpyError("npy.header_syntax", f"header is not a Python literal: {type(exc).__name__}") from None
    value = _literal(tree.body, 0)
    if not isinstance(value, dict):
        raise NpyError("npy.header_syntax", "header is not a dict literal")
    if set(value) != {"descr", "fortran_order", "shape"}:
        keys = sorted(str(k)[:40] for k in value)
        raise NpyError("npy.header_keys", f"header keys must be descr, fortran_order, shape; got {keys}")
    if not isinstance(value["fortran_order"], bool):
        raise NpyError("npy.header_keys", "fortran_order is not a bool")
    shape = value["shape"]
    if not isinstance(shape, tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d < (1 << 63) for d in shape
    ):
        raise NpyError("npy.shape_invalid", "shape is not a tuple of non-negative integers")
    if len(shape) > 64:
        raise NpyError("npy.shape_invalid", f"shape has {len(shape)} dimensions (numpy allows 64)")
    return value


def _literal(node: ast.AST, depth: int) -> Any:
    if depth > MAX_DTYPE_DEPTH * 3:
        raise NpyError("npy.header_depth", "header literal nested too deeply")
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes, int, bool, type(None))):
        return node.value
    if isinstance(node, ast.Dict):
        out: dict[Any, Any] = {}
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:
                raise NpyError("npy.header_syntax", "header uses ** in a dict")
            key = _literal(k, depth + 1)
            if not isinstance(key, str) or key in out:
                raise NpyError("npy.header_syntax", "header dict keys must be unique strings")
            out[key] = _literal(v, depth + 1)
        return out
    if isinstance(node, ast.Tuple):
        return tuple(_literal(e, depth + 1) for e in node.elts)
    if isinstance(node, ast.List):
        return [_literal(e, depth + 1) for e in node.elts]
    raise NpyError("npy.header_syntax", f"header contains a {type(node).__name__}, not a literal")


def dtype_info(descr: Any, limits: Limits = DEFAULT_LIMITS, depth: int = 0) -> tuple[int, bool]:
    """(itemsize, contains an object field) of an array-protocol descr."""
    if depth > MAX_DTYPE_DEPTH:
        raise NpyError("npy.dtype_depth", f"structured dtype nested deeper than {MAX_DTYPE_DEPTH}")
    if isinstance(descr, str):
        return _typestr(descr)
    if not isinstance(descr, list) or not descr:
        raise NpyError("npy.dtype_invalid", "descr is neither a type string nor a list of fields")
    if len(descr) > limits.max_entries:
        raise NpyError("npy.dtype_invalid", f"structured dtype has more than {limits.max_entries} fields")
    total, has_object = 0, False
    for field in descr:
        if not isinstance(field, tuple) or len(field) not in (2, 3):
            raise NpyError("npy.dtype_invalid", "a structured dtype field is not (name, type[, shape])")
        name = field[0]
        if not isinstance(name, (str, tuple)):
            raise NpyError("npy.dtype_invalid", "a structured dtype field name is not a string")
        size, obj = dtype_info(field[1], limits, depth + 1)
        if len(field) == 3:
            sub = field[2]
            if isinstance(sub, int) and not isinstance(sub, bool):
                sub = (sub,)
            if not isinstance(sub, tuple) or not all(isinstance(d, int) and 0 <= d < (1 << 32) for d in sub):
                raise NpyError("npy.dtype_invalid", "a structured dtype field shape is invalid")
            for d in sub:
                size *= d
        total += size
        has_object = has_object or obj
    return total, has_object


def _typestr(descr: str) -> tuple[int, bool]:
    match = _TYPESTR.match(descr)
    if not match:
        raise NpyError("npy.dtype_invalid", f"unknown type string {descr[:40]!r}")
    _, kind, digits, unit = match.groups()
    if kind == "O":
        return 8, True
    if kind in ("M", "m"):
        if digits not in ("", "8"):
            raise NpyError("npy.dtype_invalid", f"datetime type {descr[:40]!r} is not 8 bytes")
        return 8, False
    if unit:
        raise NpyError("npy.dtype_invalid", f"type string {descr[:40]!r} has a unit but is not a datetime")
    if kind in ("S", "a", "V"):
        return int(digits or 0), False
    if kind == "U":
        return 4 * int(digits or 0), False
    if kind in _FIXED:
        size = int(digits) if digits else _DEFAULT_SIZE.get(kind, 0)
        if size not in _FIXED[kind]:
            raise NpyError("npy.dtype_invalid", f"type string {descr[:40]!r} has an impossible size")
        return size, False
    raise NpyError("npy.dtype_invalid", f"unknown type kind in {descr[:40]!r}")
