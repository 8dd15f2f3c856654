"""One audit entry: its RFC 8785 canonical line and its hash.

An entry is the JSON object ``{data, entry_hash, event, prev_hash, seq,
subject_digest, time}``, written as one line of RFC 8785 canonical JSON
(keys sorted, no whitespace) followed by ``\\n``. ``entry_hash`` is the
lower-case hex sha256 of the canonical form of the entry *without*
``entry_hash``, and ``prev_hash`` is the previous entry's ``entry_hash``
(64 zeros for entry 1).

Because the line is canonical and ``data`` is the only member that sorts
before ``entry_hash``, the canonical form without ``entry_hash`` is exactly
the line with the bytes ``,"entry_hash":"<64 hex>"`` removed. Verification
hashes those bytes directly instead of re-canonicalising every entry;
``gate audit verify --strict`` also re-canonicalises, and the tests check
that both agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from hashlib import sha256
from typing import Any

import rfc8785

GENESIS = "0" * 64
MAX_LINE_BYTES = 1024 * 1024

_ENTRY_HASH = b',"entry_hash":"'
_PREV_HASH = b',"prev_hash":"'
_SEQ = b',"seq":'
_HEX = frozenset(b"0123456789abcdef")


class EntryError(ValueError):
    """A line that is not a well-formed audit entry (the message says why)."""


@dataclass(frozen=True)
class Entry:
    """An audit entry, parsed."""

    seq: int
    """1 for the first entry, then +1 each; never reused across rotation."""
    time: str
    """When it was appended, RFC 3339 UTC with microseconds."""
    event: str
    """What happened: decision, promotion, rejection, approval, lifecycle, audit.repair, ..."""
    subject_digest: str | None
    """``sha256:<hex>`` of the artifact the event is about, when there is one."""
    data: dict[str, Any]
    """Event details (verdict, reasons, digests, actor, ...)."""
    prev_hash: str
    """The previous entry's entry_hash."""
    entry_hash: str
    """sha256 of this entry's canonical form without entry_hash."""

    def as_json(self) -> dict[str, Any]:
        """JSON form, as stored."""
        return {
            "seq": self.seq,
            "time": self.time,
            "event": self.event,
            "subject_digest": self.subject_digest,
            "data": self.data,
            "prev_hash": self.prev_hash,
            "entry_hash": self.entry_hash,
        }


def now_rfc3339() -> str:
    """The current time, UTC, microseconds: ``2026-11-22T21:30:00.123456Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode(
    seq: int, time: str, event: str, subject_digest: str | None, data: dict[str, Any], prev_hash: str
) -> tuple[bytes, str]:
    """The entry's line (canonical JSON + newline) and its entry_hash.

    Raises EntryError for data RFC 8785 cannot represent (integers beyond
    2**53, NaN, lone surrogates, non-string keys).
    """
    if not isinstance(event, str) or not event:
        raise EntryError("event must be a non-empty string")
    if subject_digest is not None and not isinstance(subject_digest, str):
        raise EntryError("subject_digest must be a string or None")
    if not isinstance(data, dict):
        raise EntryError("data must be a JSON object")
    body: dict[str, Any] = {
        "data": data,
        "event": event,
        "prev_hash": prev_hash,
        "seq": seq,
        "subject_digest": subject_digest,
        "time": time,
    }
    try:
        canonical = rfc8785.dumps(body)
        entry_hash = sha256(canonical).hexdigest()
        line = rfc8785.dumps({**body, "entry_hash": entry_hash})
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise EntryError(f"data cannot be written as RFC 8785 JSON: {exc}") from None
    if len(line) >= MAX_LINE_BYTES:
        raise EntryError(f"entry is {len(line)} bytes, more than the limit of {MAX_LINE_BYTES}")
    return line + b"\n", entry_hash


@dataclass(frozen=True)
class Link:
    """What the fast verification reads from a line without parsing it as JSON."""

    seq: int
    """The entry's seq."""
    prev_hash: bytes
    """Its prev_hash (hex, ASCII bytes)."""
    entry_hash: bytes
    """Its entry_hash (hex, ASCII bytes), already checked against the line."""


def link_of(line: bytes) -> tuple[int, bytes, bytes]:
    """(seq, prev_hash, entry_hash) of one line (without its newline), its entry_hash checked.

    The members after ``data`` are strings, a number and hex, and a JSON
    string never holds an unescaped quote, so the last occurrence of each
    marker is the top-level member (``data`` may nest anything). A hash
    that equals a sha256 hexdigest (entry_hash), or the previous entry's
    entry_hash (prev_hash, compared by the caller), is 64 lower-case hex
    digits by construction, so the hot path does not check that again.
    """
    if not line.startswith(b'{"data":{') or line[-1:] != b"}":
        raise EntryError("not a gate audit entry")
    at = line.rfind(_ENTRY_HASH)
    if at < 0:
        raise EntryError("no entry_hash")
    start = at + 15  # len(_ENTRY_HASH)
    entry_hash = line[start : start + 64]
    if line[start + 64 : start + 65] != b'"':
        raise EntryError("entry_hash is not 64 characters")
    if sha256(line[:at] + line[start + 65 :]).hexdigest().encode() != entry_hash:
        raise EntryError("entry_hash does not match the entry (the line was changed)")
    prev_at = line.rfind(_PREV_HASH, start)
    seq_at = line.rfind(_SEQ, prev_at)
    if prev_at < 0 or seq_at < 0:
        raise EntryError("members are missing or out of canonical order")
    prev_hash = line[prev_at + 14 : prev_at + 78]  # len(_PREV_HASH) == 14
    end = line.find(b",", seq_at + 7)  # len(_SEQ) == 7
    digits = line[seq_at + 7 : end]
    if not digits.isdigit() or digits[:1] == b"0":
        raise EntryError("seq is not a positive integer")
    return int(digits), prev_hash, entry_hash


def check_line(line: bytes) -> Link:
    """Check one line (without its newline): shape, entry_hash, seq and prev_hash."""
    seq, prev_hash, entry_hash = link_of(line)
    if len(prev_hash) != 64 or not _HEX.issuperset(prev_hash):
        raise EntryError("prev_hash is not 64 lower-case hex digits")
    return Link(seq, prev_hash, entry_hash)


def parse_line(line: bytes, *, strict: bool = False) -> Entry:
    """Parse a checked line into an Entry; *strict* also checks the line is RFC 8785 canonical."""
    link = check_line(line)
    try:
        value = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise EntryError("not valid JSON") from None
    if not isinstance(value, dict) or set(value) != {
        "data", "entry_hash", "event", "prev_hash", "seq", "subject_digest", "time",
    }:  # fmt: skip
        raise EntryError("members are not exactly those of an audit entry")
    if strict:
        try:
            canonical = rfc8785.dumps(value)
        except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
            raise EntryError(f"not representable as RFC 8785 JSON: {exc}") from None
        if canonical != line:
            raise EntryError("not in RFC 8785 canonical form")
    entry = Entry(
        value["seq"],
        value["time"],
        value["event"],
        value["subject_digest"],
        value["data"],
        value["prev_hash"],
        value["entry_hash"],
    )
    if entry.seq != link.seq or entry.prev_hash.encode() != link.prev_hash:
        raise EntryError("members are ambiguous")
    return entry
