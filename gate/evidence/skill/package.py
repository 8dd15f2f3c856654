"""A skill package's files, from a folder or an archive, never unpacked to disk.

A folder is walked without following links (the artifact walk: bounded in
files and depth; links and special files are recorded, never opened) and its
digest is gate's directory digest. An archive (zip, tar, tar.gz/bz2/xz) is
read through gate's archive parsers: members are measured as they stream (no
bombs), names with traversal, absolute paths, links and device members are
findings (``archive_unsafe``), and the digest is the archive's sha256. An
archive whose files all sit under one top-level folder is read from inside it.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.errors import InputError
from gate.formats.interface import Blob, FileBlob, Finding, Limits
from gate.fsutil import open_fd, open_regular

MAX_FILES = 2_000
MAX_DEPTH = 12
MAX_READ = 2 * 1024 * 1024
"""Largest file read into memory for analysis; bigger files are hashed and listed."""
MAX_TOTAL = 512 * 1024 * 1024
LIMITS = Limits(
    max_entries=MAX_FILES * 2,
    max_depth=2,
    max_expanded_bytes=MAX_TOTAL,
    max_member_bytes=64 * 1024 * 1024,
    max_ratio=200.0,
)


@dataclass
class PackageFile:
    """One regular file of the package."""

    path: str
    size: int
    sha256: str
    data: bytes | None
    """The content when it is at most MAX_READ bytes (None: too large to analyse)."""


@dataclass
class Package:
    """What a skill package holds."""

    kind: str
    """``directory`` or ``archive``."""
    digest: str
    files: list[PackageFile] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    archive_format: str = ""
    links: list[dict[str, str]] = field(default_factory=list)
    """Symbolic links resolving inside the package: {path, target} (their targets are analysed as files)."""


def _hash_path(path: Path, size: int) -> tuple[str, bytes | None]:
    from gate.evidence.artifact import hash_fd

    fd, _ = open_fd(path, follow_symlinks=False)
    try:
        digest = hash_fd(fd, size).hex()
        data = FileBlob(fd, size).read_at(0, size) if size <= MAX_READ else None
    finally:
        os.close(fd)
    return digest, data


def from_directory(root: Path) -> Package:
    """The package of a skill folder."""
    from gate.evidence.artifact import walk
    from gate.evidence.directory import directory_digest

    found = walk(root, max_files=MAX_FILES, max_depth=MAX_DEPTH)
    package = Package(kind="directory", digest="")
    entries: list[tuple[bytes, bytes, bytes]] = []
    total = 0
    for shown, raw in found.files:
        full = Path(os.fsdecode(os.path.join(os.fsencode(root), raw)))
        try:
            info = os.lstat(full)
            if not stat.S_ISREG(info.st_mode):
                raise OSError("not a regular file any more")
            total += info.st_size
            if total > MAX_TOTAL:
                package.limits.append(
                    f"the package holds more than {MAX_TOTAL} bytes; {shown} and later not read"
                )
                break
            digest, data = _hash_path(full, info.st_size)
        except OSError as exc:
            package.limits.append(f"cannot read {shown}: {exc.strerror or exc}")
            continue
        entries.append((b"F", raw, bytes.fromhex(digest)))
        package.files.append(PackageFile(shown, info.st_size, "sha256:" + digest, data))
    for raw_path, target in found.link_entries:
        entries.append((b"L", raw_path, target))
    for link in found.symlinks:
        if link_stays_inside(link["path"], link["target"]):
            package.links.append({"path": link["path"][:4096], "target": link["target"][:4096]})
            continue
        package.findings.append(
            Finding(
                "archive_unsafe",
                "skill.symlink",
                "high",
                f"{link['path']} is a symbolic link to {link['target']!r}; "
                "an agent loading the skill would follow it.",
                member=link["path"],
            )
        )
    for path, what in found.special:
        package.findings.append(
            Finding("archive_unsafe", "skill.special_file", "high", f"{path} is a {what}.", member=path)
        )
    package.limits.extend(found.limits)
    package.digest = directory_digest(entries)
    return package


def link_stays_inside(member: str, target: str) -> bool:
    """Whether a symbolic link at *member* pointing at *target* resolves inside the package.

    A relative target that, joined to the link's folder, never climbs above
    the package root (``docs/latest -> v2``, ``scripts/run -> ../bin/run.sh``)
    stays inside; an absolute target, a drive letter, a backslash or any
    climb out (``../../.ssh``) does not.
    """
    if not target or target.startswith("/") or "\\" in target or ":" in target or "\x00" in target:
        return False
    parts: list[str] = [p for p in posixpath.dirname(member).split("/") if p not in ("", ".")]
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return False
            parts.pop()
        else:
            parts.append(part)
    return bool(parts)


def _strip_common_folder(names: list[str]) -> str:
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1 and all("/" in name for name in names):
        return tops.pop() + "/"
    return ""


def from_archive(path: Path) -> Package:
    """The package of a skill archive (zip or tar, optionally compressed)."""
    from gate.evidence.artifact import hash_fd
    from gate.formats import detect, tar, zip

    # A regular file only (a FIFO swapped in is refused, never waited on); unreadable: exit 2.
    fd, info = open_regular(str(path), follow_symlinks=False)
    try:
        size = info.st_size
        try:
            digest = "sha256:" + hash_fd(fd, size).hex()
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
        blob = FileBlob(fd, size)
        fmt = detect.detect(blob)
        if fmt in ("zip", "pytorch-zip", "npz", "keras"):
            report = zip.parse(blob, LIMITS)
        elif fmt == "tar":
            report = tar.parse(blob, LIMITS)
        else:
            raise InputError(
                f"{path}: not a skill folder or a zip/tar archive (content looks like {fmt or 'unknown'})"
            )
        package = Package(kind="archive", digest=digest, archive_format=report.format)
        prefix = _strip_common_folder([c.name for c in report.children if not c.name.startswith("<")])
        for finding in report.findings:
            target = finding.data.get("target") if finding.data else None
            if finding.check == "tar.symlink" and isinstance(target, str):
                name = finding.member[len(prefix) :] if prefix else finding.member
                if name and link_stays_inside(name, target):
                    package.links.append({"path": name[:4096], "target": target[:4096]})
                    continue
            package.findings.append(
                Finding(
                    "archive_unsafe",
                    finding.check,
                    finding.severity,
                    finding.detail,
                    finding.member,
                    finding.offset,
                )
            )
        members = [c for c in report.children if not c.name.startswith("<")]
        for child in report.children:
            if child.name.startswith("<"):
                package.findings.append(
                    Finding(
                        "archive_unsafe",
                        "skill.appended_bytes",
                        "high",
                        f"The archive carries bytes outside its members ({child.name}).",
                    )
                )
        for child in members[:MAX_FILES]:
            name = child.name[len(prefix) :] if prefix else child.name
            package.files.append(_member(name, child.blob))
        if len(members) > MAX_FILES:
            package.limits.append(f"{len(members)} members, more than the limit of {MAX_FILES}")
        package.files.sort(key=lambda f: f.path)
        return package
    finally:
        os.close(fd)


def _member(name: str, blob: Blob) -> PackageFile:
    h = hashlib.sha256()
    offset = 0
    head = b""
    while offset < blob.size:
        chunk = blob.read_at(offset, min(1 << 20, blob.size - offset))
        if not chunk:
            break
        if offset < MAX_READ:
            head += chunk[: MAX_READ - offset]
        h.update(chunk)
        offset += len(chunk)
    data = head if blob.size <= MAX_READ else None
    return PackageFile(name, blob.size, "sha256:" + h.hexdigest(), data)


def load(path: str) -> Package:
    """The package at *path* (a folder or an archive file)."""
    target = Path(path)
    try:
        info = os.lstat(target)
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or 'cannot be read'}") from None
    if stat.S_ISLNK(info.st_mode):
        raise InputError(f"{path}: is a symbolic link; give the skill folder or archive itself")
    if stat.S_ISDIR(info.st_mode):
        return from_directory(target)
    if stat.S_ISREG(info.st_mode):
        return from_archive(target)
    raise InputError(f"{path}: not a folder or a regular file")


def as_json(package: Package) -> dict[str, Any]:
    """The package summary recorded in the input document."""
    return {
        "kind": package.kind,
        "digest": package.digest,
        "archive_format": package.archive_format,
        "files": len(package.files),
        "bytes": sum(f.size for f in package.files),
        "limits": package.limits[:100],
        "links": package.links[:100],
    }
