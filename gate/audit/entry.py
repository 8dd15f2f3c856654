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

Every reader checks a line the same way (:func:`check_entry`): that hash,
then the line parsed as JSON with exactly the members and types of an
entry. Verification, ``show``, appends (the tail) and repair all call it,
so no line one of them accepts is refused by another: a correct hash alone
proves nothing about a line's shape, since anyone can compute sha256.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from hashlib import sha256
from typing import Any, NamedTuple

import orjson
import rfc8785

GENESIS = "0" * 64
MAX_LINE_BYTES = 1024 * 1024

_ENTRY_HASH = b',"entry_hash":"'


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


class Link(NamedTuple):
    """What verification needs of a checked line: its place in the chain (a tuple: cheap to make)."""

    seq: int
    """The entry's seq."""
    prev_hash: bytes
    """Its prev_hash (hex, ASCII bytes)."""
    entry_hash: bytes
    """Its entry_hash (hex, ASCII bytes), already checked against the line."""


_MEMBERS = frozenset({"data", "entry_hash", "event", "prev_hash", "seq", "subject_digest", "time"})
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _checked(line: bytes) -> tuple[Link, dict[str, Any]]:
    """The one check every reader applies to a line (without its newline).

    1. The hash, over the stored bytes: the last ``,"entry_hash":"<64>"``
       is cut out and the rest hashed. A JSON string never holds an
       unescaped quote, so in a line gate wrote the last such member is the
       top-level one (``data``, the only member before it, may nest
       anything); and a line whose cut is elsewhere would have to hold its
       own hash in the bytes it hashes, which sha256 does not allow.
    2. The line parsed as JSON (orjson): exactly the members of an entry,
       each of its type, the parsed entry_hash the one just checked.

    seq and prev_hash come from the parsed object, so what verification
    links is what ``show`` prints.
    """
    at = line.rfind(_ENTRY_HASH)
    if at < 0:
        raise EntryError("not a gate audit entry (no entry_hash)")
    start = at + 15  # len(_ENTRY_HASH)
    entry_hash = line[start : start + 64]
    if line[start + 64 : start + 65] != b'"':
        raise EntryError("entry_hash is not 64 characters")
    if sha256(line[:at] + line[start + 65 :]).hexdigest().encode() != entry_hash:
        raise EntryError("entry_hash does not match the entry (the line was changed)")
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise EntryError("not valid JSON") from None
    if not isinstance(value, dict) or value.keys() != _MEMBERS:
        raise EntryError("members are not exactly those of an audit entry")
    seq, prev_hash, event, subject = value["seq"], value["prev_hash"], value["event"], value["subject_digest"]
    if type(seq) is not int or seq < 1:
        raise EntryError("seq is not a positive integer")
    if type(prev_hash) is not str or not _SHA256_HEX.fullmatch(prev_hash):
        raise EntryError("prev_hash is not 64 lower-case hex digits")
    if type(value["entry_hash"]) is not str or value["entry_hash"].encode() != entry_hash:
        raise EntryError("members are ambiguous (entry_hash)")
    if (
        type(value["time"]) is not str
        or type(event) is not str
        or not event
        or (subject is not None and type(subject) is not str)
        or type(value["data"]) is not dict
    ):
        raise EntryError("a member has the wrong type (time, event, subject_digest or data)")
    return Link(seq, prev_hash.encode(), entry_hash), value


def check_entry(line: bytes) -> Link:
    """Check one line (without its newline) as every reader of the log does (see _checked).

    ``gate audit verify``, ``show``, appends (the tail) and repair all call
    this, so a line one of them accepts is never refused by another.
    """
    return _checked(line)[0]


def parse_line(line: bytes, *, strict: bool = False) -> Entry:
    """Parse a checked line into an Entry; *strict* also checks the line is RFC 8785 canonical."""
    _, value = _checked(line)
    if strict:
        try:
            canonical = rfc8785.dumps(value)
        except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
            raise EntryError(f"not representable as RFC 8785 JSON: {exc}") from None
        if canonical != line:
            raise EntryError("not in RFC 8785 canonical form")
    return Entry(
        value["seq"],
        value["time"],
        value["event"],
        value["subject_digest"],
        value["data"],
        value["prev_hash"],
        value["entry_hash"],
    )
