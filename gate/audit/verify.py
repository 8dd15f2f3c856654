"""``gate audit verify``: walk the chain across every file, then hold it against the checkpoints.

The first problem found is reported with ``broken_at``, the position in the
chain (the seq the entry there should have) where the log stops being
trustworthy:

- a changed byte: that entry's hash no longer matches;
- a deleted, inserted or swapped line: the seq at that position is wrong,
  or prev_hash no longer links;
- a torn last line (a crash during an append): ``torn`` is true and
  ``gate audit repair`` fixes it;
- a cut tail: a signed checkpoint covers more entries than the log has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gate.attest.keys import VerifyKey
from gate.audit import checkpoint as cp
from gate.audit.entry import GENESIS, EntryError, check_entry, parse_line
from gate.audit.log import AuditLog, read_lines


@dataclass
class Report:
    """What ``gate audit verify`` prints."""

    valid: bool
    """True when the chain is intact and agrees with every checkpoint."""
    entries: int
    """Entries that verified (before the first problem)."""
    files: int
    """Files in the chain (archives + active)."""
    broken_at: int | None
    """Position (seq) of the first problem, or None."""
    detail: str
    """One sentence."""
    torn: bool = False
    """The last line is incomplete (repairable with gate audit repair)."""
    head: str | None = None
    """entry_hash of the last verified entry."""
    checkpoints: dict[str, Any] = field(default_factory=dict)
    """count, signatures_checked, latest_size."""

    def as_json(self) -> dict[str, Any]:
        """JSON form (``-o json``)."""
        return {
            "valid": self.valid,
            "entries": self.entries,
            "files": self.files,
            "broken_at": self.broken_at,
            "detail": self.detail,
            "torn": self.torn,
            "head": self.head,
            "checkpoints": self.checkpoints,
        }


def verify_log(
    log: AuditLog,
    key: VerifyKey | None = None,
    *,
    strict: bool = False,
    notes: list[tuple[str, cp.Checkpoint | str]] | None = None,
) -> Report:
    """Verify *log*; with *key*, every checkpoint's signature too; *strict* re-canonicalises each entry.

    *notes* are checkpoints kept elsewhere (label, parsed note or why it did
    not parse), held against the chain like the stored ones.
    """
    files = log.files()
    stored = log.checkpoints_path.name
    parsed = [(f"{stored} line {n}", c) for n, c in log.checkpoints()] + list(notes or [])
    needed = {c.size for _, c in parsed if isinstance(c, cp.Checkpoint)}
    at_size: dict[int, bytes] = {}
    expected = 1
    prev = GENESIS.encode("ascii")
    first: bytes | None = None
    for index, path in enumerate(files):
        last_file = index == len(files) - 1
        for number, line, complete in read_lines(path):
            if complete and not strict:
                # The hot path: one line of a sound log, checked exactly as show, appends and
                # repair check it (check_entry), so verify never passes a line they refuse.
                # Anything unusual falls through to the checks below, which say what is wrong.
                try:
                    link = check_entry(line)
                    seq, prev_hash, entry_hash = link.seq, link.prev_hash, link.entry_hash
                except EntryError:
                    seq = -1
                if seq == expected and prev_hash == prev:
                    if expected in needed:
                        at_size[expected] = entry_hash
                    if first is None:
                        first = entry_hash
                    prev = entry_hash
                    expected += 1
                    continue
            where = f"{path.name} line {number}"
            if not complete:
                if last_file:
                    return Report(
                        False, expected - 1, len(files), expected,
                        f"{where}: the last line is incomplete ({len(line)} bytes, a crash during an "
                        f"append?): run gate audit repair {log.path}",
                        torn=True, head=_hex(prev),
                    )  # fmt: skip
                return Report(False, expected - 1, len(files), expected, f"{where}: archive ends mid-line")
            try:
                if strict:
                    parse_line(line, strict=True)
                link = check_entry(line)
                seq, prev_hash, entry_hash = link.seq, link.prev_hash, link.entry_hash
            except EntryError as exc:
                return Report(False, expected - 1, len(files), expected, f"{where}: entry {expected}: {exc}")
            if seq != expected:
                return Report(
                    False, expected - 1, len(files), expected,
                    f"{where}: seq {seq} where entry {expected} belongs: "
                    "an entry was removed, inserted or moved",
                )  # fmt: skip
            if prev_hash != prev:
                return Report(
                    False, expected - 1, len(files), expected,
                    f"{where}: entry {expected} does not link to entry {expected - 1} "
                    "(prev_hash differs): an entry before it was changed or replaced",
                )  # fmt: skip
            if expected in needed:
                at_size[expected] = entry_hash
            if first is None:
                first = entry_hash
            prev = entry_hash
            expected += 1
    entries = expected - 1
    return _against_checkpoints(log, parsed, key, entries, len(files), at_size, first, prev)


def _hex(value: bytes) -> str | None:
    text = value.decode("ascii")
    return None if text == GENESIS else text


def _against_checkpoints(
    log: AuditLog,
    parsed: list[tuple[str, cp.Checkpoint | str]],
    key: VerifyKey | None,
    entries: int,
    files: int,
    at_size: dict[int, bytes],
    first: bytes | None,
    head: bytes,
) -> Report:
    latest = 0
    summary = {"count": len(parsed), "signatures_checked": key is not None, "latest_size": 0}

    def broken(at: int | None, detail: str) -> Report:
        summary["latest_size"] = latest
        counted = entries if at is None else min(entries, at - 1)
        return Report(False, counted, files, at, detail, head=_hex(head), checkpoints=summary)

    origin = cp.origin_of(first.decode("ascii")) if first else None
    for where, found in parsed:
        if isinstance(found, str):
            return broken(None, f"{where}: {found}")
        if key is not None and not found.verify(key):
            return broken(None, f"{where}: the checkpoint signature does not verify with {key.source}")
        if found.origin != origin:
            return broken(None, f"{where}: the checkpoint is for log {found.origin}, not {origin}")
        if found.size > entries:
            return broken(
                entries + 1,
                f"{where}: the checkpoint signed at {found.time} covers {found.size} entries but the log "
                f"has {entries}: entries {entries + 1}..{found.size} were cut",
            )
        if at_size.get(found.size, b"").decode("ascii") != found.head:
            return broken(
                found.size,
                f"{where}: entry {found.size} is not the one the checkpoint signed at {found.time}: "
                "the log up to it was rewritten",
            )
        latest = max(latest, found.size)
    summary["latest_size"] = latest
    detail = f"{entries} entries in {files} file(s), chain intact"
    if parsed:
        signed = "signature verified" if key is not None else "signatures not checked: give --key"
        detail += f"; {len(parsed)} checkpoint(s) agree ({signed}), the latest covers entry {latest}"
    elif entries:
        detail += "; no signed checkpoint, so a cut tail would go unnoticed"
    return Report(True, entries, files, None, detail, head=_hex(head), checkpoints=summary)
