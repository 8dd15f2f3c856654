"""Durable file writes: nothing half-written, nothing lost on a crash."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from gate.errors import InputError


def fsync_dir(path: Path) -> None:
    """fsync a directory so a file created, renamed or removed in it survives a crash."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write *data* to *path* via a temporary file in the same directory, fsync, rename.

    Readers see the old file or the new one, never a mix; the directory is
    fsynced so the rename survives a crash. Errors name the file.
    """
    directory = path.parent if str(path.parent) else Path(".")
    tmp = directory / f".{path.name}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.fchmod(fd, mode)  # the umask must not widen or narrow the mode asked for
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(directory)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
