"""Checks on member names that every archive format shares (tar, 7z)."""

from __future__ import annotations

import re
from typing import Any

from gate.formats.interface import Report

_DRIVE = re.compile(r"^[A-Za-z]:")


def check_name(report: Report, prefix: str, name: str, offset: int | None) -> None:
    """Record ``<prefix>.path_traversal`` / ``absolute_path`` / ``nul_in_name`` / ... for *name*."""
    at: dict[str, Any] = {"member": name, "offset": offset}
    if "\x00" in name:
        report.add(
            "archive_unsafe", f"{prefix}.nul_in_name", "high", f"Member name {name!r} has a NUL byte.", **at
        )
    if not name:
        report.add("archive_unsafe", f"{prefix}.empty_name", "medium", "A member has an empty name.", **at)
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        report.add(
            "archive_unsafe", f"{prefix}.absolute_path", "high", f"Member name {name!r} is absolute.", **at
        )
    if ".." in re.split(r"[/\\]", name):
        report.add(
            "archive_unsafe",
            f"{prefix}.path_traversal",
            "high",
            f"Member name {name!r} has a '..' segment that escapes the extraction directory.",
            **at,
        )
    if "\\" in name:
        report.add(
            "archive_unsafe",
            f"{prefix}.backslash_in_name",
            "medium",
            f"Member name {name!r} contains a backslash, a path separator on Windows.",
            **at,
        )


def normalise(name: str) -> str:
    """The name with empty and ``.`` segments and trailing slashes removed, separators unified."""
    return "/".join(p for p in re.split(r"[/\\]", name) if p not in ("", "."))


def check_duplicate(report: Report, prefix: str, seen: set[str], name: str, offset: int | None) -> None:
    """Record ``<prefix>.duplicate_name`` when *name* (normalised) was seen before."""
    key = normalise(name)
    if key in seen:
        report.add(
            "archive_unsafe",
            f"{prefix}.duplicate_name",
            "high",
            f"Member {name!r} appears twice; readers disagree on which copy they load.",
            member=name,
            offset=offset,
        )
    seen.add(key)
