"""Strict, bounded JSON for headers and configs read from hostile bytes.

Bounds: the caller caps the byte length before decoding; nesting is capped at
``max_depth`` (the C decoder's own recursion guard turns a deeper document
into an error instead of a crash); object keys must be unique (Python's
``json`` silently keeps the last one, while Rust's serde and other loaders
differ, so a duplicate lets two readers see two different headers); the
non-standard constants ``NaN``/``Infinity`` are refused; text must be UTF-8.
"""

from __future__ import annotations

import json
from typing import Any


class StrictJSONError(ValueError):
    """The bytes are not one strict JSON document within bounds."""

    def __init__(self, check: str, detail: str, offset: int | None = None) -> None:
        super().__init__(detail)
        self.check = check
        """Short check name: ``utf8``, ``syntax``, ``duplicate_key``, ``depth``, ``constant``."""
        self.offset = offset
        """Byte offset of the problem within the decoded bytes, when known."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise StrictJSONError("duplicate_key", f"duplicate key {key[:80]!r}")
        out[key] = value
    return out


def _constant(name: str) -> Any:
    raise StrictJSONError("constant", f"non-standard JSON constant {name}")


def depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value (a scalar is 0), computed without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            level += 1
            deepest = max(deepest, level)
            stack.extend((v, level) for v in item.values())
        elif isinstance(item, list):
            level += 1
            deepest = max(deepest, level)
            stack.extend((v, level) for v in item)
    return deepest


def loads(data: bytes, max_depth: int = 64) -> Any:
    """Decode *data* as one strict JSON document or raise :class:`StrictJSONError`."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrictJSONError("utf8", f"not UTF-8: {exc.reason}", exc.start) from None
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    except StrictJSONError:
        raise
    except RecursionError:
        raise StrictJSONError("depth", f"JSON nested deeper than {max_depth}") from None
    except json.JSONDecodeError as exc:
        offset = len(text[: exc.pos].encode("utf-8"))
        raise StrictJSONError("syntax", f"not valid JSON: {exc.msg}", offset) from None
    except ValueError as exc:  # e.g. an integer with too many digits
        raise StrictJSONError("syntax", f"not valid JSON: {exc}") from None
    if depth(value) > max_depth:
        raise StrictJSONError("depth", f"JSON nested deeper than {max_depth}")
    return value
