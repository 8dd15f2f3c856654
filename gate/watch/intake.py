"""Finding complete artifacts in the quarantine folder and taking them out of reach.

Names are bytes end to end (``os.listdir`` of a bytes path): spaces, newlines
and bytes that are not UTF-8 are kept exactly. Entries whose name starts
with ``.`` are never artifacts: they are the watcher's own folder, a
companion ``.<name>.source`` file (the source URL, as the seed's watcher
reads it) or a completion marker ``.<name>.ready``.

Entries named ``<name>.sig`` or ``<name>.sigstore.json`` are the companion
signature of ``<name>`` (OpenSSF model signing), never artifacts.

An artifact is complete when its marker exists, or when what ``lstat``
shows of it (size and mtime; for a folder, its entry count, total size and
newest mtime) has not changed for the settle interval. It is then *taken*:
copied into the watcher's private work folder (gate.watch.private), and only
the copy is checked, scanned and promoted. Nothing is ever followed.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from dataclasses import dataclass, field

MARKER_SUFFIX = b".ready"
SOURCE_SUFFIX = b".source"
# Companion signatures beside the drop (OpenSSF model signing: a Sigstore bundle), first found wins.
SIGNATURE_SUFFIXES = (b".sig", b".sigstore.json")
MAX_SOURCE_BYTES = 4096
MAX_SIGNATURE_BYTES = 16 * 1024 * 1024
MAX_DIR_ENTRIES = 100_000
MAX_DIR_DEPTH = 32


def display(name: bytes) -> str:
    """A printable, one-line form of a name (non-UTF-8 bytes and newlines escaped)."""
    text = name.decode("utf-8", "backslashreplace")
    return text.replace("\n", "\\n").replace("\r", "\\r")


@dataclass(frozen=True)
class Shape:
    """What lstat shows of an entry; equal shapes over the settle interval mean complete."""

    kind: str
    count: int
    size: int
    mtime_ns: int


def shape(path: bytes) -> Shape | None:
    """The entry's shape, or None when it vanished. Never follows a link."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(info.st_mode):
        count, size, newest = 0, 0, info.st_mtime_ns
        stack = [(path, 0)]
        while stack and count <= MAX_DIR_ENTRIES:
            folder, depth = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                count += 1
                try:
                    sub = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                size += sub.st_size
                newest = max(newest, sub.st_mtime_ns)
                if entry.is_dir(follow_symlinks=False) and depth < MAX_DIR_DEPTH:
                    stack.append((entry.path, depth + 1))
        return Shape("dir", count, size, newest)
    kind = "file" if stat.S_ISREG(info.st_mode) else "link" if stat.S_ISLNK(info.st_mode) else "other"
    return Shape(kind, 1, info.st_size, info.st_mtime_ns)


@dataclass
class Settler:
    """Decides when each dropped entry is complete."""

    settle_s: float
    seen: dict[bytes, tuple[Shape, float]] = field(default_factory=dict)

    def ready(self, quarantine: bytes, now: float | None = None) -> list[bytes]:
        """Names of complete entries, oldest first by when they were first seen stable."""
        moment = time.monotonic() if now is None else now
        try:
            names = sorted(os.listdir(quarantine))
        except FileNotFoundError:
            return []
        present = set()
        out: list[tuple[float, bytes]] = []
        for name in names:
            if name.startswith(b".") or is_companion(name):
                continue
            present.add(name)
            path = os.path.join(quarantine, name)
            marker = os.path.join(quarantine, b"." + name + MARKER_SUFFIX)
            current = shape(path)
            if current is None:
                continue
            if os.path.lexists(marker):
                out.append((0.0, name))
                continue
            before = self.seen.get(name)
            if before is None or before[0] != current:
                self.seen[name] = (current, moment)
                if self.settle_s > 0:
                    continue
                before = self.seen[name]
            if moment - before[1] >= self.settle_s:
                out.append((before[1], name))
        for gone in set(self.seen) - present:
            del self.seen[gone]
        return [name for _, name in sorted(out)]

    def forget(self, name: bytes) -> None:
        self.seen.pop(name, None)


def is_companion(name: bytes) -> bool:
    """A signature file (``<name>.sig``, ``<name>.sigstore.json``): never an artifact itself."""
    return any(name.endswith(suffix) and len(name) > len(suffix) for suffix in SIGNATURE_SUFFIXES)


def _read_companion(path: bytes, limit: int) -> bytes | None:
    """A companion file's bytes (bounded, never following a link), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, total = [], 0
        while total <= limit:
            block = os.read(fd, min(1 << 20, limit + 1 - total))
            if not block:
                break
            chunks.append(block)
            total += len(block)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    return None if len(data) > limit else data


def read_signature(quarantine: bytes, name: bytes) -> tuple[bytes, bytes] | None:
    """(suffix, bytes) of the companion signature ``<name>.sig`` or ``<name>.sigstore.json``, if any.

    A companion larger than the bound is passed on as is (empty), so it is
    reported as a signature that does not verify, never silently ignored.
    """
    for suffix in SIGNATURE_SUFFIXES:
        path = os.path.join(quarantine, name + suffix)
        if not os.path.lexists(path):
            continue
        data = _read_companion(path, MAX_SIGNATURE_BYTES)
        return suffix, data if data is not None else b""
    return None


def read_source(quarantine: bytes, name: bytes) -> str | None:
    """The source URL from the companion ``.<name>.source`` file (first line, bounded), if any."""
    path = os.path.join(quarantine, b"." + name + SOURCE_SUFFIX)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, MAX_SOURCE_BYTES)
    finally:
        os.close(fd)
    line = data.decode("utf-8", "replace").strip().splitlines()
    return line[0].strip() if line else None


def remove_companions(quarantine: bytes, name: bytes) -> None:
    for suffix in (SOURCE_SUFFIX, MARKER_SUFFIX):
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(quarantine, b"." + name + suffix))
    for suffix in SIGNATURE_SUFFIXES:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(quarantine, name + suffix))
