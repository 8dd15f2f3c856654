"""Reading untrusted JSON input documents: bounded, strict, validated."""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

from gate import schemas
from gate.engine.interface import JsonDocument
from gate.errors import InputError
from gate.fsutil import read_bounded

MAX_INPUT_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64


class _Refused(ValueError):
    """Valid JSON syntax that gate still refuses."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two parsers may keep different copies of a duplicated key; refuse it.
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"duplicate key {key!r}")
            seen.add(key)
    return result


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not valid JSON")


# Engines disagree on integers beyond 64 bits (regorus rounds them to floats,
# OPA keeps them exact), so such numbers are refused, as are floats that
# overflow to infinity.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_MAX_NUMBER_CHARS = 400


def _int(text: str) -> int:
    if len(text) > _MAX_NUMBER_CHARS:
        raise _Refused(f"number {text[:20]}... is too long")
    value = int(text)
    if not _INT_MIN <= value <= _INT_MAX:
        raise _Refused(f"integer {text} does not fit in 64 bits")
    return value


def _float(text: str) -> float:
    if len(text) > _MAX_NUMBER_CHARS:
        raise _Refused(f"number {text[:20]}... is too long")
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text} is out of range")
    return value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _check_unicode(value: Any, text: str) -> None:
    """Refuse lone UTF-16 surrogates (``\\ud800``): not encodable as UTF-8."""
    if not _SURROGATE_ESCAPE.search(text):
        return
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused("a string holds a lone UTF-16 surrogate escape") from None


def _too_deep(value: Any) -> bool:
    """True when containers nest deeper than MAX_DEPTH (scalars are not visited)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def read_bytes(source: str, limit: int | None = None) -> bytes:
    """Read a regular file, or standard input for ``-``, refusing more than *limit* bytes
    (default MAX_INPUT_BYTES); a FIFO, device or folder is refused (gate.fsutil.read_bounded)."""
    if limit is None:
        limit = MAX_INPUT_BYTES
    if source != "-":
        return read_bounded(source, limit)  # a regular file only: a FIFO or device is refused
    try:
        data = sys.stdin.buffer.read(limit + 1)
    except OSError as exc:
        raise InputError(f"{source}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InputError(f"{source}: larger than the limit of {limit} bytes")
    return data


def parse_json(source: str, data: bytes) -> JsonDocument:
    """Parse JSON strictly: UTF-8, no duplicate keys, no NaN, bounded depth."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_int=_int,
            parse_float=_float,
        )
        _check_unicode(value, text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except _Refused as exc:
        raise InputError(f"{source}: not valid JSON: {exc}") from None
    except RecursionError:
        raise InputError(f"{source}: nested deeper than {MAX_DEPTH} levels") from None
    if isinstance(value, (dict, list)) and _too_deep(value):
        raise InputError(f"{source}: nested deeper than {MAX_DEPTH} levels")
    return JsonDocument(value, text)


class InvalidDocument(InputError):
    """The document parsed but does not match its schema."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: does not match the {len(problems)} schema rule(s) below")
        self.source = source
        self.problems = problems

    def lines(self) -> list[str]:
        """One line per problem, each naming the file and the JSON pointer."""
        return [f"{self.source}: {p}" for p in self.problems]


def load_input(source: str) -> JsonDocument:
    """Read, parse and validate an input document (path or ``-``)."""
    document = parse_json(source, read_bytes(source))
    found = schemas.problems("input", document.value)
    if found:
        raise InvalidDocument(source, found)
    return document
