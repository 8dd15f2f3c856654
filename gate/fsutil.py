"""Files: opening user files as regular files only, bounded reads, durable writes.

Every user file gate reads goes through :func:`open_regular`: opened with
``O_NONBLOCK`` (a FIFO opens at once instead of waiting for a writer, and
is then refused) and checked with ``fstat`` on the descriptor itself, so
what is read is what was checked. Writes are atomic and fsynced: nothing
half-written, nothing lost on a crash.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from gate.errors import InputError


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, for messages (``FIFO``, ``socket``, ...)."""
    for test, name in (
        (stat.S_ISDIR, "folder"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISLNK, "symbolic link"),
    ):
        if test(mode):
            return name
    return "special file"


class NotRegularFile(OSError):
    """The path names a FIFO, socket, device or folder (``strerror`` says which)."""

    def __init__(self, kind: str) -> None:
        super().__init__(errno.EINVAL, f"a {kind}, not a regular file")
        self.kind = kind


def open_fd(
    path: str | bytes | os.PathLike[str], *, follow_symlinks: bool = True
) -> tuple[int, os.stat_result]:
    """(descriptor, fstat) of a regular file opened read-only; raises OSError.

    ``O_NONBLOCK`` makes a FIFO open without waiting for a writer, and the
    ``fstat`` of the descriptor refuses it (NotRegularFile) before anything
    is read; without *follow_symlinks* a symbolic link is refused by the
    kernel (``O_NOFOLLOW``). For regular files O_NONBLOCK changes nothing.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(file_kind(info.st_mode))
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def open_regular(source: str, *, follow_symlinks: bool = True) -> tuple[int, os.stat_result]:
    """open_fd for a file the user named: any failure is one InputError line naming it (exit 2)."""
    try:
        return open_fd(source, follow_symlinks=follow_symlinks)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise InputError(f"{source}: a symbolic link; give the file itself") from None
        raise InputError(f"{source}: cannot read: {exc.strerror or exc}") from None


def read_bounded(source: str, limit: int) -> bytes:
    """The bytes of the regular file *source*, refusing more than *limit* (one InputError line)."""
    fd, _ = open_regular(source)
    try:
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputError(f"{source}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise InputError(f"{source}: larger than the limit of {limit} bytes")
    return data


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
