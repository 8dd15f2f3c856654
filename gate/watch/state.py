"""The watcher's persisted states: one SQLite row per artifact taken from quarantine.

States (the seed's, plus the steps that make promotion crash-safe)::

    PENDING -> SCANNING -> PASSED -> PROMOTED -> ANNOUNCED
                        -> FAILED      (decided, not promote: deleted)
    REJECTED                           (refused before or by the format/policy checks: deleted)

- A row is created when an artifact is complete and has been moved into the
  watcher's private work folder; the artifact is never scanned in the drop
  folder, where a writer could still change it.
- ``SCANNING`` rows found at start-up belong to a scan that was killed: they go
  back to ``PENDING`` and are scanned again from the start (``attempts`` counts
  it). Nothing half-scanned is ever promoted.
- ``PASSED`` means decided promote, not yet in the registry; ``PROMOTED``
  means the artifact and its provenance manifest are in the registry, and the
  announcement to the registry API is still owed; ``ANNOUNCED`` is final.
  Promotion is a rename, so a promoted artifact cannot be promoted twice: the
  work copy no longer exists.

Every change is committed before the next filesystem step (SQLite in WAL mode
with ``synchronous=FULL``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PENDING = "PENDING"
SCANNING = "SCANNING"
PASSED = "PASSED"
FAILED = "FAILED"
REJECTED = "REJECTED"
PROMOTED = "PROMOTED"
ANNOUNCED = "ANNOUNCED"
STATES = (PENDING, SCANNING, PASSED, FAILED, REJECTED, PROMOTED, ANNOUNCED)
FINAL = (FAILED, REJECTED, ANNOUNCED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS artifacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name BLOB NOT NULL,
    state TEXT NOT NULL,
    kind TEXT NOT NULL,
    source_url TEXT,
    sha256 TEXT,
    size INTEGER,
    verdict TEXT,
    reasons TEXT,
    detail TEXT,
    last_error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    announce_attempts INTEGER NOT NULL DEFAULT 0,
    next_announce REAL NOT NULL DEFAULT 0,
    taken_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS artifacts_state ON artifacts(state);
"""


@dataclass
class Row:
    """One artifact's record."""

    id: int
    name: bytes
    state: str
    kind: str
    source_url: str | None
    sha256: str | None
    size: int | None
    verdict: str | None
    reasons: str | None
    detail: str | None
    attempts: int
    announce_attempts: int
    next_announce: float


_COLUMNS = (
    "id, name, state, kind, source_url, sha256, size, verdict, reasons, detail, "
    "attempts, announce_attempts, next_announce"
)


class StateStore:
    """The watcher's state database (one writer: the watcher holds a lock file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None, timeout=30, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def _row(self, values: Any) -> Row:
        return Row(*values)

    def add(self, name: bytes, kind: str, source_url: str | None) -> int:
        """Record a newly taken artifact as PENDING; its id."""
        now = time.time()
        cursor = self.db.execute(
            "INSERT INTO artifacts (name, state, kind, source_url, taken_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (name, PENDING, kind, source_url, now, now),
        )
        return int(cursor.lastrowid or 0)

    def set(self, row_id: int, state: str, **fields: Any) -> None:
        """Move one artifact to *state*, updating *fields* in the same commit."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        names = ["state = ?", "updated_at = ?"] + [f"{key} = ?" for key in fields]
        values = [state, time.time(), *fields.values(), row_id]
        self.db.execute(f"UPDATE artifacts SET {', '.join(names)} WHERE id = ?", values)

    def set_kind(self, row_id: int, kind: str) -> None:
        """Record what was taken (file or dir): the take is complete (copy durable, drop removed)."""
        self.db.execute("UPDATE artifacts SET kind = ? WHERE id = ?", (kind, row_id))

    def start_scan(self, row_id: int) -> None:
        self.db.execute(
            "UPDATE artifacts SET state = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?",
            (SCANNING, time.time(), row_id),
        )

    def recover(self) -> list[Row]:
        """After a crash: every SCANNING row is scanned again. Those rows (and only those)."""
        interrupted = self.in_state(SCANNING)
        self.db.execute(
            "UPDATE artifacts SET state = ?, updated_at = ? WHERE state = ?", (PENDING, time.time(), SCANNING)
        )
        return interrupted

    def in_state(self, *states: str) -> list[Row]:
        marks = ", ".join("?" for _ in states)
        cursor = self.db.execute(
            f"SELECT {_COLUMNS} FROM artifacts WHERE state IN ({marks}) ORDER BY id", states
        )
        return [self._row(v) for v in cursor.fetchall()]

    def get(self, row_id: int) -> Row:
        cursor = self.db.execute(f"SELECT {_COLUMNS} FROM artifacts WHERE id = ?", (row_id,))
        found = cursor.fetchone()
        if found is None:
            raise KeyError(row_id)
        return self._row(found)

    def all(self) -> Iterator[Row]:
        for values in self.db.execute(f"SELECT {_COLUMNS} FROM artifacts ORDER BY id"):
            yield self._row(values)

    def announce_failed(self, row_id: int, retry_at: float, error: str) -> None:
        """The announcement failed: retry after *retry_at*; the manifest in ``detail`` stays."""
        self.db.execute(
            "UPDATE artifacts SET announce_attempts = announce_attempts + 1, next_announce = ?, "
            "last_error = ?, updated_at = ? WHERE id = ?",
            (retry_at, error, time.time(), row_id),
        )
