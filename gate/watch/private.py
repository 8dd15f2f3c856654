"""The watcher's private folders and the private copy of every dropped artifact.

An uploader who can write the quarantine folder must never be able to write
anything gate scans, signs or promotes. So:

- the state folder and its ``work`` folder live outside the drop folder
  (``--state-dir``) and the watcher refuses to start unless each one is a real
  folder (not a link) owned by gate's uid with mode 0700 (``check``);
- a complete drop is *copied* into the work folder: every source file is
  opened with ``O_NOFOLLOW`` relative to its parent's descriptor, must be a
  regular file with one link, and is copied into a new file (``O_CREAT |
  O_EXCL | O_NOFOLLOW``, mode 0600) that is fsynced. A descriptor an uploader
  kept open on the drop writes only the drop, never the copy: the copy is what
  is hashed, scanned, signed and renamed into the registry (``copy_in``);
- every path under the work folder is reached from the work folder's own
  descriptor, opened once at start-up, never by following a name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from pathlib import Path

from gate.errors import UsageError

MAX_DIR_ENTRIES = 100_000
MAX_DIR_DEPTH = 32
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 30


def _problem(info: os.stat_result, uid: int) -> str | None:
    if not stat.S_ISDIR(info.st_mode):
        return "is not a folder (a symbolic link or a file)"
    mode = stat.S_IMODE(info.st_mode)
    if info.st_uid != uid or mode != 0o700:
        return (
            f"is owned by uid {info.st_uid} with mode {mode:04o}; "
            f"it must be owned by uid {uid} with mode 0700"
        )
    return None


def check(path: Path, what: str, *, inside: Path | None = None) -> int:
    """Create *path* (mode 0700) if missing, refuse it unless private; an open descriptor on it.

    *inside* is the drop folder: a private folder within it is refused (an
    uploader could rename it away and put their own in its place).
    """
    if inside is not None:
        real, drop = os.path.realpath(path), os.path.realpath(inside)
        if real == drop or real.startswith(drop.rstrip("/") + "/"):
            raise UsageError(f"{path}: the {what} must not be inside the quarantine folder {inside}")
    if not os.path.lexists(path):
        os.makedirs(path.parent, mode=0o700, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError as exc:
        raise UsageError(f"{path}: the {what} cannot be opened as a folder: {exc.strerror}") from None
    why = _problem(os.fstat(fd), os.geteuid())
    if why:
        os.close(fd)
        raise UsageError(f"{path}: the {what} {why}")
    return fd


def subdir(parent_fd: int, name: str, what: str) -> int:
    """The private folder *name* under *parent_fd* (created 0700 if missing), checked like ``check``."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o700, dir_fd=parent_fd)
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        raise UsageError(f"the {what} {name!r} cannot be opened as a folder: {exc.strerror}") from None
    why = _problem(os.fstat(fd), os.geteuid())
    if why:
        os.close(fd)
        raise UsageError(f"the {what} {name!r} {why}")
    return fd


def _copy_bytes(src: int, dst: int, size: int) -> None:
    """Copy *size* bytes (fewer if the source shrinks) from descriptor to descriptor, in the kernel."""
    done = 0
    try:
        while done < size:
            n = os.copy_file_range(src, dst, min(_CHUNK, size - done))
            if n == 0:
                return
            done += n
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    os.lseek(src, done, os.SEEK_SET)
    os.lseek(dst, done, os.SEEK_SET)
    while True:
        block = os.read(src, 1 << 20)
        if not block:
            return
        view = memoryview(block)
        while view:
            view = view[os.write(dst, view) :]


def _copy_file(src_dir: int, name: bytes, dst_dir: int, dst_name: bytes, shown: str | None) -> str | None:
    """Copy one regular file; why it is refused (*shown*: its path in a folder, None: the drop itself)."""
    what = f"{shown}" if shown else "the artifact"
    try:
        src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=src_dir)
    except FileNotFoundError:
        return f"{what} vanished before it could be copied"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"{what} is a symbolic link (never followed)"
        return f"{what} cannot be opened: {exc.strerror}"
    try:
        info = os.fstat(src)
        if not stat.S_ISREG(info.st_mode):
            return f"{what} is not a regular file"
        if info.st_nlink > 1:
            if shown:
                return f"the folder holds a file with {info.st_nlink} hard links: {shown}"
            return (
                f"the artifact has {info.st_nlink} hard links (it may be a link to a file outside quarantine)"
            )
        os.set_blocking(src, True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        dst = os.open(dst_name, flags, 0o600, dir_fd=dst_dir)
        try:
            _copy_bytes(src, dst, info.st_size)
            # Anything appended while copying is copied too: what the copy holds is what is scanned.
            _copy_bytes(src, dst, 1 << 62)
        finally:
            os.close(dst)
    finally:
        os.close(src)
    return None


def _copy_dir(src_dir: int, dst_dir: int, prefix: str, depth: int, count: list[int]) -> str | None:
    entries = sorted(os.listdir(src_dir), key=os.fsencode)
    for entry in entries:
        name = os.fsencode(entry)
        shown = (
            f"{prefix}/{name.decode('utf-8', 'backslashreplace')}"
            if prefix
            else name.decode("utf-8", "backslashreplace")
        )
        count[0] += 1
        if count[0] > MAX_DIR_ENTRIES:
            return f"the folder holds more than {MAX_DIR_ENTRIES} entries"
        try:
            info = os.stat(name, dir_fd=src_dir, follow_symlinks=False)
        except FileNotFoundError:
            return f"{shown} vanished before it could be copied"
        if stat.S_ISLNK(info.st_mode):
            return f"the folder holds a symbolic link: {shown}"
        if stat.S_ISDIR(info.st_mode):
            if depth + 1 > MAX_DIR_DEPTH:
                return f"the folder is nested deeper than {MAX_DIR_DEPTH} levels"
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=src_dir)
            except OSError as exc:
                return f"{shown} cannot be opened as a folder: {exc.strerror}"
            try:
                os.mkdir(name, 0o700, dir_fd=dst_dir)
                made = os.open(name, _DIR_FLAGS, dir_fd=dst_dir)
                try:
                    why = _copy_dir(child, made, shown, depth + 1, count)
                finally:
                    os.close(made)
            finally:
                os.close(child)
            if why:
                return why
        elif not stat.S_ISREG(info.st_mode):
            return f"the folder holds something that is not a regular file: {shown}"
        else:
            why = _copy_file(src_dir, name, dst_dir, name, shown)
            if why:
                return why
    return None


def copy_in(src_dir: int, name: bytes, dst_dir: int, dst_name: bytes) -> tuple[str, str | None]:
    """Copy the drop *name* (a file or a folder) to *dst_name* under *dst_dir*: (kind, why refused).

    Nothing is followed: a symbolic link, a file with other hard links, a FIFO
    or device, or a folder holding any of these is refused (the partial copy
    is removed). The copy is not yet durable: ``sync_tree`` makes it so.
    """
    try:
        info = os.stat(name, dir_fd=src_dir, follow_symlinks=False)
    except FileNotFoundError:
        return "unknown", "the artifact vanished before it could be copied"
    if stat.S_ISLNK(info.st_mode):
        return "link", "the artifact is a symbolic link (never followed)"
    if stat.S_ISREG(info.st_mode):
        why = _copy_file(src_dir, name, dst_dir, dst_name, None)
        kind = "file"
    elif stat.S_ISDIR(info.st_mode):
        kind = "dir"
        try:
            child = os.open(name, _DIR_FLAGS, dir_fd=src_dir)
        except OSError as exc:
            return kind, f"the folder cannot be opened: {exc.strerror}"
        try:
            os.mkdir(dst_name, 0o700, dir_fd=dst_dir)
            made = os.open(dst_name, _DIR_FLAGS, dir_fd=dst_dir)
            try:
                why = _copy_dir(child, made, "", 0, [0])
            finally:
                os.close(made)
        finally:
            os.close(child)
    else:
        return "other", "the artifact is neither a regular file nor a folder"
    if why:
        remove(dst_dir, dst_name)
    # The caller renames the copy into place and fsyncs *dst_dir* once, after the rename.
    return kind, why


def sync_tree(dir_fd: int, name: bytes) -> None:
    """fsync *name* under *dir_fd* (a folder: every file and folder in it), then *dir_fd* itself."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(name, flags, dir_fd=dir_fd)
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            for entry in os.listdir(fd):
                sync_tree(fd, os.fsencode(entry))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.fsync(dir_fd)


def remove(dir_fd: int, name: bytes) -> None:
    """Delete *name* under *dir_fd* (a folder recursively); a link is removed, never its target."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(os.fsdecode(name), dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


def write_file(dir_fd: int, name: bytes, data: bytes) -> None:
    """A new private file (0600, never following a link), fsynced."""
    fd = os.open(
        name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd
    )
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
