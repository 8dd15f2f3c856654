"""JSON Schema validation that reports every problem with its JSON pointer."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from gate.resources import schema_path

MAX_PROBLEMS = 50


@cache
def _validator(name: str) -> Any:
    from jsonschema import Draft202012Validator, FormatChecker

    schema = json.loads(schema_path(name).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=FormatChecker())


@cache
def _fast_validator(name: str) -> Any:
    """jsonschema-rs, compiled once: a fast yes/no for the common, valid case."""
    import jsonschema_rs

    schema = json.loads(schema_path(name).read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def _pointer(parts: Any) -> str:
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "/" + "/".join(escaped) if parts else "/"


def problems(name: str, value: Any) -> list[str]:
    """Every way *value* fails schema *name*, as ``/json/pointer: message``.

    Sorted by pointer; at most MAX_PROBLEMS lines (and a last line saying how
    many more there were). jsonschema-rs answers whether the value is valid
    (about 200 times faster); python-jsonschema lists the problems.
    """
    fast = _fast_validator(name)
    if fast.is_valid(value):
        return []
    validator = _validator(name)
    errors = sorted(validator.iter_errors(value), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    lines = []
    for error in errors[:MAX_PROBLEMS]:
        message = error.message
        if len(message) > 200:
            message = message[:197] + "..."
        lines.append(f"{_pointer(list(error.absolute_path))}: {message}")
    if not errors:  # the two validators disagree: trust the refusal
        first = next(iter(fast.iter_errors(value)))
        lines.append(f"{_pointer(list(first.instance_path))}: {first.message}")
    if len(errors) > MAX_PROBLEMS:
        lines.append(f"... and {len(errors) - MAX_PROBLEMS} more problems")
    return lines
