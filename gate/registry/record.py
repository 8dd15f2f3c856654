"""A model version's metadata record (``schemas/registry-record.schema.json``), validated on write."""

from __future__ import annotations

import functools
from typing import Any

from gate import schemas
from gate.errors import InputError


def validate_record(record: Any, source: str) -> dict[str, Any]:
    """The record if it is valid; an InputError naming *source* and the first problem otherwise."""
    found = schemas.problems("registry-record", record)
    if found:
        raise InputError(f"{source}: {found[0]}")
    assert isinstance(record, dict)
    expression = record["license"]["spdx"]
    problem = spdx_problem(expression)
    if problem:
        raise InputError(f"{source}: /license/spdx: {problem}")
    for group in ("training", "evaluation"):
        for i, dataset in enumerate(record["datasets"][group]):
            if dataset["window"]["from"] > dataset["window"]["to"]:
                raise InputError(f"{source}: /datasets/{group}/{i}/window: 'from' is after 'to'")
    return record


@functools.lru_cache(maxsize=1)
def _licensing() -> Any:
    """The SPDX licensing index (built once per process: about 30 ms)."""
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


@functools.lru_cache(maxsize=1024)
def spdx_problem(expression: str) -> str | None:
    """Why *expression* is not a valid SPDX license expression (None when it is)."""
    from license_expression import ExpressionError

    licensing = _licensing()
    try:
        info = licensing.validate(expression, strict=True)
    except ExpressionError as exc:
        return f"not an SPDX license expression: {exc}"
    if info.errors:
        return f"not a valid SPDX license expression: {'; '.join(info.errors)[:300]}"
    if info.invalid_symbols:
        return f"unknown SPDX license identifiers: {', '.join(sorted(info.invalid_symbols))[:300]}"
    return None
