"""The entry line: RFC 8785 canonical, and the fast hash check agrees with re-canonicalising."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import rfc8785

from gate.audit.entry import GENESIS, EntryError, check_entry, encode, parse_line

SAMPLES: list[dict[str, Any]] = [
    {},
    {"verdict": "promote", "reasons": ["all_gates_passed"], "actor": "ops@example.com"},
    {"age_hours": 3.5, "ratio": 1e-7, "big": 1e21, "neg": -0.0, "n": 9007199254740991},
    {"text": 'quote " backslash \\ newline \n tab \t nul \u0000 del \u007f', "é": "ü", "emoji": "😀"},
    {"\U0001f600": 1, "\ue000": 2, "a": 3},  # UTF-16 ordering differs from code-point ordering here
    {"nested": {"entry_hash": "f" * 64, "prev_hash": "e" * 64, "seq": 99, "x": [{"entry_hash": "0"}]}},
    {"s": ',"entry_hash":"' + "a" * 64 + '"', "t": ',"seq":5,'},
]


@pytest.mark.parametrize("data", SAMPLES)
def test_fast_check_agrees_with_rfc8785(data: dict[str, Any]) -> None:
    line, entry_hash = encode(
        7, "2026-11-22T21:00:00.000001Z", "decision", "sha256:" + "1" * 64, data, "2" * 64
    )
    raw = line[:-1]

    # The stored line is exactly RFC 8785 of the entry with its hash ...
    value = json.loads(raw)
    assert rfc8785.dumps(value) == raw
    # ... and entry_hash is sha256 of RFC 8785 of the entry without it, which the
    # fast path computes by cutting bytes instead of re-canonicalising.
    del value["entry_hash"]
    assert hashlib.sha256(rfc8785.dumps(value)).hexdigest() == entry_hash
    link = check_entry(raw)
    assert (link.seq, link.prev_hash, link.entry_hash) == (7, b"2" * 64, entry_hash.encode())
    assert parse_line(raw, strict=True).data == data


def test_every_byte_matters() -> None:
    line, _ = encode(1, "2026-11-22T21:00:00.000001Z", "decision", None, {"verdict": "block"}, GENESIS)
    raw = line[:-1]
    for index in range(len(raw)):
        changed = raw[:index] + bytes([raw[index] ^ 0x01]) + raw[index + 1 :]
        with pytest.raises(EntryError):
            check_entry(changed)


def test_non_canonical_line_is_caught_by_strict() -> None:
    line, _ = encode(1, "2026-11-22T21:00:00.000001Z", "decision", None, {"b": 1, "a": 2}, GENESIS)
    value = json.loads(line)
    pretty = json.dumps(value, indent=1).encode()

    with pytest.raises(EntryError):
        parse_line(pretty, strict=True)


@pytest.mark.parametrize("data", [{"n": 2**60}, {"x": float("nan")}, {"s": "\ud800"}, {1: "non-string key"}])
def test_data_rfc8785_cannot_represent_is_refused(data: dict[Any, Any]) -> None:
    with pytest.raises(EntryError, match="RFC 8785"):
        encode(1, "2026-11-22T21:00:00.000001Z", "decision", None, data, GENESIS)
