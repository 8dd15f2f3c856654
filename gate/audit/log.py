"""The hash-chained audit log: append, rotate, checkpoint, repair, read.

Files, for a log at ``DIR/audit.jsonl``:

- ``audit.jsonl``: the active file; ``audit.000001.jsonl``, ``...02`` the
  archives, oldest first, read-only (0444). The chain runs across them: the
  first entry of a file links to the last entry of the previous one.
- ``audit.jsonl.lock``: the append lock (``fcntl.flock``), separate from the
  data so rotation never moves it.
- ``audit.jsonl.checkpoints``: signed checkpoints, one JSON object a line.
- ``inputs/<sha256>.json``: input documents, content-addressed, so each
  recorded decision can be replayed (``gate replay``).

Every append holds the lock, reads and checks the last entry, writes one
line with a single ``write`` on an ``O_APPEND`` descriptor, and fsyncs the
file (and the directory when a file is created or rotated) before it
returns: an entry whose append returned survives a crash. A crash in the
middle leaves at most one incomplete last line; appends then refuse until
``gate audit repair`` truncates it and records the repair as an event.

Python API for other parts of gate (watcher, registry, skills)::

    from gate.audit.log import AuditLog
    log = AuditLog("/var/lib/gate/audit.jsonl")
    entry = log.append("promotion", "sha256:...", {"verdict": "promote", "actor": "..."})
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.attest.keys import SigningKey
from gate.audit import checkpoint as cp
from gate.audit.entry import (
    GENESIS,
    MAX_LINE_BYTES,
    Entry,
    EntryError,
    check_entry,
    encode,
    now_rfc3339,
    parse_line,
)
from gate.errors import EXIT_USAGE, GateError
from gate.fsutil import fsync_dir, write_atomic

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_CHECKPOINT_EVERY = 100
MAX_INPUT_BYTES = 64 * 1024 * 1024
READ_CHUNK = 8 * 1024 * 1024

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class AuditError(GateError):
    """The audit log cannot be used as asked (torn tail, corrupt entry, unwritable)."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class Tail:
    """The last entry of the log as an append sees it."""

    seq: int
    """Its seq (0 for an empty log)."""
    entry_hash: str
    """Its entry_hash (GENESIS for an empty log)."""


@dataclass(frozen=True)
class Repair:
    """What ``repair`` did."""

    file: Path
    """The file truncated."""
    offset: int
    """Its new size."""
    removed: int
    """Bytes removed (the incomplete last line)."""
    entry: Entry
    """The audit.repair event recorded."""


def read_lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, line without newline, complete) for every line; bounded memory."""
    number = 0
    carry = b""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(READ_CHUNK)
            if not chunk:
                break
            lines = (carry + chunk).split(b"\n")
            carry = lines.pop()
            if len(carry) > MAX_LINE_BYTES:
                raise AuditError(
                    f"{path}: line {number + len(lines) + 1} is longer than {MAX_LINE_BYTES} bytes"
                )
            for line in lines:
                number += 1
                yield number, line, True
    if carry:
        yield number + 1, carry, False


class AuditLog:
    """One audit log (its active file, archives, checkpoints and stored inputs)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        key: SigningKey | None = None,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    ) -> None:
        """*max_bytes*: rotate before the active file would exceed it; *key*: sign a
        checkpoint every *checkpoint_every* entries (0: only on demand)."""
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.key = key
        self.checkpoint_every = checkpoint_every
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.checkpoints_path = self.path.with_name(self.path.name + ".checkpoints")
        self.inputs_dir = self.path.parent / "inputs"

    # --- files ---

    def _archive_name(self, number: int) -> Path:
        return self.path.with_name(f"{self.path.stem}.{number:06d}{self.path.suffix}")

    def archives(self) -> list[Path]:
        """Archived files, oldest first."""
        pattern = re.compile(re.escape(self.path.stem) + r"\.(\d{6,})" + re.escape(self.path.suffix) + "$")
        found = []
        if self.path.parent.is_dir():
            for candidate in self.path.parent.iterdir():
                match = pattern.match(candidate.name)
                if match:
                    found.append((int(match.group(1)), candidate))
        return [p for _, p in sorted(found)]

    def files(self) -> list[Path]:
        """Every file of the chain in order: archives, then the active file if present."""
        return self.archives() + ([self.path] if self.path.exists() else [])

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the append lock (exclusive across processes)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise AuditError(f"{self.lock_path}: cannot open the lock: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    # --- the tail ---

    def _last_line(self, path: Path) -> tuple[bytes | None, int, bool]:
        """(last complete line, file size, torn) for one file, reading backwards."""
        size = path.stat().st_size
        if size == 0:
            return None, 0, False
        with path.open("rb") as handle:
            handle.seek(size - 1)
            torn = handle.read(1) != b"\n"
            window = 64 * 1024
            while True:
                start = max(0, size - window)
                handle.seek(start)
                data = handle.read(size - start)
                end = data.rfind(b"\n") if torn else len(data) - 1
                if end < 0:
                    if start == 0:
                        return None, size, torn
                    window *= 2
                    continue
                begin = data.rfind(b"\n", 0, end) + 1
                if begin == 0 and start > 0:
                    if window > 2 * MAX_LINE_BYTES:
                        raise AuditError(f"{path}: last line is longer than {MAX_LINE_BYTES} bytes")
                    window *= 2
                    continue
                return data[begin:end], size, torn

    def first_hash(self) -> str | None:
        """entry 1's entry_hash (it names the log in checkpoints), or None for an empty log."""
        for path in self.files():
            with path.open("rb") as handle:
                line = handle.readline(MAX_LINE_BYTES + 1)
            if line.endswith(b"\n"):
                try:
                    return check_entry(line[:-1]).entry_hash.decode("ascii")
                except EntryError as exc:
                    raise AuditError(f"{path}: line 1: {exc}") from None
            if line:
                return None
        return None

    def tail(self) -> Tail:
        """The last entry, checked; raises AuditError for a torn or corrupt tail."""
        files = self.files()
        for path in reversed(files):
            line, _, torn = self._last_line(path)
            if torn:
                raise AuditError(
                    f"{path}: the last line is incomplete (a crash during an append?); appends refuse "
                    f"until it is repaired: gate audit repair {self.path}"
                )
            if line is None:
                continue
            try:
                link = check_entry(line)
            except EntryError as exc:
                raise AuditError(
                    f"{path}: the last entry is corrupt ({exc}): run gate audit verify {self.path}"
                ) from None
            return Tail(link.seq, link.entry_hash.decode("ascii"))
        return Tail(0, GENESIS)

    # --- appending ---

    def append(self, event: str, subject_digest: str | None, data: dict[str, Any]) -> Entry:
        """Append one event; returns when the entry is on disk (fsynced)."""
        with self.locked():
            return self._append_locked(event, subject_digest, data)

    def _append_locked(self, event: str, subject_digest: str | None, data: dict[str, Any]) -> Entry:
        tail = self.tail()
        seq = tail.seq + 1
        time = now_rfc3339()
        try:
            line, entry_hash = encode(seq, time, event, subject_digest, data, tail.entry_hash)
        except EntryError as exc:
            raise AuditError(f"{self.path}: cannot append {event!r}: {exc}") from None
        size = self.path.stat().st_size if self.path.exists() else 0
        if size and size + len(line) > self.max_bytes:
            self._rotate()
            size = 0
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            if size == 0:
                fsync_dir(self.path.parent)  # a new file: make its directory entry durable too
        except OSError as exc:
            raise AuditError(f"{self.path}: cannot append: {exc.strerror or exc}") from None
        entry = Entry(seq, time, event, subject_digest, data, tail.entry_hash, entry_hash)
        if self.key is not None and self.checkpoint_every and seq % self.checkpoint_every == 0:
            self._checkpoint_locked(self.key, seq, entry_hash)
        return entry

    def _rotate(self) -> None:
        archives = self.archives()
        number = 1
        if archives:
            number = int(archives[-1].name[len(self.path.stem) + 1 :].split(".")[0]) + 1
        target = self._archive_name(number)
        try:
            os.rename(self.path, target)
            os.chmod(target, 0o444)
            fsync_dir(self.path.parent)
        except OSError as exc:
            raise AuditError(f"{self.path}: cannot rotate to {target.name}: {exc.strerror or exc}") from None

    # --- checkpoints ---

    def checkpoint(self, key: SigningKey | None = None) -> str:
        """Sign the current head now; returns the checkpoint note."""
        key = key or self.key
        if key is None:
            raise AuditError("a checkpoint needs a signing key")
        with self.locked():
            tail = self.tail()
            if tail.seq == 0:
                raise AuditError(f"{self.path}: the log is empty: nothing to checkpoint")
            return self._checkpoint_locked(key, tail.seq, tail.entry_hash)

    def _checkpoint_locked(self, key: SigningKey, size: int, head: str) -> str:
        note = cp.sign(cp.origin_of(self.first_hash() or head), size, head, now_rfc3339(), key)
        record = json.dumps({"keyid": key.keyid, "note": note}, separators=(",", ":")).encode() + b"\n"
        created = not self.checkpoints_path.exists()
        try:
            fd = os.open(self.checkpoints_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, record)
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                fsync_dir(self.checkpoints_path.parent)
        except OSError as exc:
            raise AuditError(f"{self.checkpoints_path}: cannot write: {exc.strerror or exc}") from None
        return note

    def checkpoints(self) -> list[tuple[int, cp.Checkpoint | str]]:
        """(line number, parsed checkpoint or the reason it does not parse) for each one."""
        if not self.checkpoints_path.exists():
            return []
        found: list[tuple[int, cp.Checkpoint | str]] = []
        for number, line, complete in read_lines(self.checkpoints_path):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
                found.append((number, cp.parse(value["note"])))
            except (ValueError, KeyError, TypeError, cp.CheckpointError) as exc:
                found.append((number, f"not a checkpoint ({exc})" if complete else "incomplete last line"))
        return found

    # --- repair ---

    def repair(self, actor: str | None = None) -> Repair | None:
        """Truncate an incomplete last line and record it; None when there is nothing to repair.

        Only a torn tail is repaired: any other damage is evidence, and is
        left for ``gate audit verify`` to report.
        """
        with self.locked():
            files = self.files()
            if not files:
                return None
            path = files[-1]
            line, _, torn = self._last_line(path)
            if not torn:
                return None
            if line is not None:
                try:
                    check_entry(line)
                except EntryError as exc:
                    raise AuditError(
                        f"{path}: the entry before the incomplete line is corrupt ({exc}); "
                        "repair only removes an incomplete last line"
                    ) from None
            with path.open("rb") as handle:
                data = handle.read()
            offset = data.rfind(b"\n") + 1
            removed = data[offset:]
            try:
                with path.open("r+b") as handle:
                    handle.truncate(offset)
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as exc:
                raise AuditError(f"{path}: cannot truncate: {exc.strerror or exc}") from None
            entry = self._append_locked(
                "audit.repair",
                None,
                {
                    "file": path.name,
                    "offset": offset,
                    "removed_bytes": len(removed),
                    "removed_sha256": hashlib.sha256(removed).hexdigest(),
                    "actor": actor,
                },
            )
            return Repair(path, offset, len(removed), entry)

    # --- reading ---

    def entries(self) -> Iterator[Entry]:
        """Every complete entry in order (an incomplete last line is skipped: never acknowledged)."""
        for path in self.files():
            for number, line, complete in read_lines(path):
                if not complete:
                    continue
                try:
                    yield parse_line(line)
                except EntryError as exc:
                    raise AuditError(f"{path}: line {number}: {exc}") from None

    # --- stored inputs ---

    def store_input(self, data: bytes) -> str:
        """Keep an input document as ``inputs/<sha256>.json`` (atomic, deduplicated).

        Returns the hex digest.
        """
        digest = hashlib.sha256(data).hexdigest()
        target = self.inputs_dir / f"{digest}.json"
        if target.exists() and target.stat().st_size == len(data):
            return digest
        created = not self.inputs_dir.exists()
        self.inputs_dir.mkdir(parents=True, exist_ok=True)
        if created:
            fsync_dir(self.inputs_dir.parent)
        write_atomic(target, data, mode=0o444)
        return digest

    def load_input(self, digest: str) -> bytes:
        """A stored input document, checked against its digest."""
        if not _SHA256_HEX.match(digest):
            raise AuditError(f"{digest!r} is not a sha256 hex digest")
        target = self.inputs_dir / f"{digest}.json"
        try:
            with target.open("rb") as handle:
                data = handle.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise AuditError(f"{target}: cannot read: {exc.strerror or exc}") from None
        if len(data) > MAX_INPUT_BYTES or hashlib.sha256(data).hexdigest() != digest:
            raise AuditError(f"{target}: content does not match its sha256 name")
        return data
