"""The model file or directory itself: walk, hash, parse (``evidence.artifact``).

Each regular file is opened once without following links, hashed in one
streaming pass (1 MiB buffer, ``readv`` into a reused buffer, so memory
stays small whatever the file size), then handed to the format scanner
(:func:`gate.formats.scan.scan_blob`) through a :class:`FileBlob` over the
same descriptor: its bounded reads hit the page cache the hash pass filled.

Symbolic links are recorded and never followed; special files (FIFOs,
devices, sockets) are recorded and never opened for reading. The walk is
bounded in file count and depth; what a bound leaves out is recorded in
``limits`` and never passes. The collector decides nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import math
import os
import posixpath
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.errors import InputError
from gate.evidence.directory import collect_directory, directory_digest
from gate.formats.interface import DEFAULT_LIMITS, FileBlob, Limits
from gate.fsutil import file_kind, open_fd

BUFFER = 1024 * 1024
MAX_HEADER_JSON = 64 * 1024
MAX_FINDINGS = 1000
DEFAULT_MAX_FILES = 10_000
DEFAULT_MAX_DEPTH = 16

# Which stage a finding code belongs to (docs/decisions.md §2), for people
# reading the input document; the policy keeps its own table.
STAGE_OF = {
    "unknown_format": "format",
    "invalid_header": "format",
    "polyglot_payload": "format",
    "chat_template_injection": "format",
    "denied_format": "format",
    "unsafe_pickle": "static_scan",
    "archive_unsafe": "static_scan",
    "unsafe_layer": "static_scan",
    "entropy_anomaly": "static_scan",
    "weight_anomaly": "static_scan",
    "scanner_finding": "static_scan",
    "scanner_error": "static_scan",
}

Progress = Callable[[int], None]


@dataclass
class Walk:
    """What a bounded, link-free walk found."""

    files: list[tuple[str, bytes]] = field(default_factory=list)
    """(relative display path, relative path bytes) of regular files, sorted."""
    symlinks: list[dict[str, str]] = field(default_factory=list)
    special: list[tuple[str, str]] = field(default_factory=list)
    """(relative path, kind) of FIFOs, devices and sockets."""
    subdirs: list[str] = field(default_factory=list)
    """Top-level folders."""
    limits: list[str] = field(default_factory=list)
    link_entries: list[tuple[bytes, bytes]] = field(default_factory=list)
    """(relative path bytes, target bytes) of links, for the directory digest."""


def _display(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")


def walk(root: Path, max_files: int = DEFAULT_MAX_FILES, max_depth: int = DEFAULT_MAX_DEPTH) -> Walk:
    """Walk *root* (a directory) without following links, within the bounds."""
    found = Walk()
    base = os.fsencode(root)
    stack: list[tuple[bytes, int]] = [(b"", 0)]
    count = 0
    while stack:
        rel, depth = stack.pop()
        try:
            with os.scandir(os.path.join(base, rel) if rel else base) as entries:
                listing = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            found.limits.append(f"cannot list {_display(rel) or '.'}: {exc.strerror}")
            continue
        for entry in listing:
            path = entry.name if not rel else rel + b"/" + entry.name
            shown = _display(path)
            if entry.is_symlink():
                try:
                    target = os.readlink(os.path.join(base, path))
                except OSError:
                    target = b""
                found.symlinks.append({"path": shown[:4096], "target": _display(target)[:4096]})
                found.link_entries.append((path, target))
                continue
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError as exc:
                found.limits.append(f"cannot stat {shown}: {exc.strerror}")
                continue
            if stat.S_ISDIR(mode):
                if depth == 0:
                    found.subdirs.append(shown)
                if depth + 1 >= max_depth:
                    found.limits.append(f"{shown}/ is deeper than {max_depth} levels; not scanned")
                else:
                    stack.append((path, depth + 1))
            elif stat.S_ISREG(mode):
                count += 1
                if count > max_files:
                    continue
                found.files.append((shown, path))
            else:
                found.special.append((shown, file_kind(mode)))
    if count > max_files:
        found.limits.append(
            f"{count} files, more than the limit of {max_files}; {count - max_files} not scanned"
        )
    found.files.sort(key=lambda f: f[1])
    return found


def hash_fd(fd: int, size: int, progress: Progress | None = None) -> bytes:
    """sha256 of *size* bytes of *fd* in one streaming pass (raw digest)."""
    h = hashlib.sha256()
    buf = bytearray(BUFFER)
    view = memoryview(buf)
    offset = 0
    with contextlib.suppress(AttributeError, OSError):  # not on every platform
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
    while True:
        n = os.preadv(fd, [buf], offset)
        if n <= 0:
            break
        h.update(view[:n])
        offset += n
        if progress is not None:
            progress(n)
    if offset != size:
        raise OSError(f"file changed while it was read ({offset} bytes, expected {size})")
    return h.digest()


def text(value: Any, limit: int) -> str:
    """A string safe for the input document: UTF-8 encodable, at most *limit* characters."""
    s = value if isinstance(value, str) else str(value)
    return s[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


def _clean(value: Any, depth: int = 0) -> Any:
    """JSON that both engines read alike: 64-bit integers, finite floats, clean strings."""
    if depth > 16:
        raise ValueError("nested too deep")
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return text(value, 4096)
    if isinstance(value, dict):
        return {text(k, 256): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [_clean(v, depth + 1) for v in items]
    return text(value, 4096)


def _bounded_header(header: dict[str, Any]) -> dict[str, Any]:
    try:
        cleaned = _clean(header)
        size = len(json.dumps(cleaned))
    except (TypeError, ValueError, RecursionError):
        return {"truncated": True}
    if size > MAX_HEADER_JSON or len(cleaned) > 256:
        return {"truncated": True, "bytes": size}
    result: dict[str, Any] = cleaned
    return result


def _finding_json(raw: dict[str, Any], name: str) -> dict[str, Any]:
    member = str(raw.get("member", ""))
    # The scanner names members from the top-level blob down (name!a!b): the
    # file is already recorded, so only the path inside it stays.
    if member == name:
        member = ""
    elif member.startswith(name + "!"):
        member = member[len(name) + 1 :]
    out: dict[str, Any] = {
        "stage": STAGE_OF.get(raw.get("code", ""), "format"),
        "code": _code(raw.get("code")),
        "check": text(raw.get("check", ""), 128),
        "severity": text(raw.get("severity", "high"), 16),
        "detail": text(raw.get("detail", ""), 4096),
        "member": text(member, 4096),
    }
    offset = raw.get("offset")
    if isinstance(offset, int) and 0 <= offset < 2**62:
        out["offset"] = offset
    data = raw.get("data")
    if isinstance(data, dict) and data:
        out["data"] = _bounded_header(dict(list(data.items())[:32]))
    return out


def _code(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"[a-z][a-z0-9_]{0,63}", value):
        return value
    return "invalid_header"


def _scanner() -> tuple[Any, str]:
    """gate's own format scanner, or the reason it cannot run."""
    try:
        module = importlib.import_module("gate.formats.scan")
    except ImportError as exc:
        return None, f"gate.formats.scan is not available: {exc}"
    return module.scan_blob, ""


def _statistics(
    blob: FileBlob, fmt: str, thresholds: dict[str, Any], limits: Limits
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Sampled tensor statistics (bounded reads) and their anomaly findings."""
    try:
        stats_module: Any = importlib.import_module("gate.formats.tensorstats")
        read = stats_module.safetensors_stats if fmt == "safetensors" else stats_module.gguf_stats
        stats = read(blob, limits)
        if stats is None:  # the parser already reported why
            return {}, []
        found = stats_module.anomalies(stats, thresholds)
    except Exception as exc:  # statistics that cannot be computed never pass
        return {}, [
            {
                "stage": "static_scan",
                "code": "weight_anomaly",
                "check": "gate.statistics_error",
                "severity": "high",
                "detail": text(f"tensor statistics could not be computed: {type(exc).__name__}: {exc}", 4096),
                "member": "",
            }
        ]
    summary = {
        "tensors_sampled": len(stats.tensors),
        "tensors_unsampled": stats.unsampled,
        "sampled_bytes": stats.sampled_bytes,
    }
    return summary, [_finding_json(f.to_json(), "") for f in found]


def scan_file(
    root: Path,
    rel: bytes,
    shown: str,
    scan: Any,
    limits: Limits,
    progress: Progress | None = None,
    thresholds: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], bytes]:
    """Hash and scan one regular file; returns its record and raw digest."""
    path = os.path.join(os.fsencode(root), rel) if rel else os.fsencode(root)
    record: dict[str, Any] = {"path": shown[:4096]}
    # Never follows a link, never hangs on a FIFO swapped in after the walk (gate.fsutil).
    fd, info = open_fd(path, follow_symlinks=False)
    try:
        digest = hash_fd(fd, info.st_size, progress)
        record.update(
            sha256=digest.hex(),
            size=info.st_size,
            executable=bool(info.st_mode & 0o111),
        )
        findings: list[dict[str, Any]] = []
        if scan is None:
            record.update(format="unknown", formats=["unknown"], header={})
        else:
            try:
                result = scan(FileBlob(fd, info.st_size), name=shown, limits=limits)
                record.update(
                    format=str(result.format)[:64],
                    formats=sorted(str(f)[:64] for f in result.formats)[:256] or [str(result.format)[:64]],
                    header=_bounded_header(result.header),
                )
                findings = [_finding_json(f.to_json(), shown) for f in result.findings]
                if result.format in ("safetensors", "gguf"):
                    summary, extra = _statistics(
                        FileBlob(fd, info.st_size), result.format, thresholds or {}, limits
                    )
                    findings.extend(extra)
                    if summary:
                        record["statistics"] = summary
            except Exception as exc:  # a scanner bug is a finding, never a pass
                record.update(format="unknown", formats=["unknown"], header={})
                findings = [
                    {
                        "stage": "format",
                        "code": "invalid_header",
                        "check": "gate.scan_error",
                        "severity": "high",
                        "detail": f"the format scanner failed: {type(exc).__name__}: {exc}"[:4096],
                        "member": "",
                    }
                ]
        record["findings"] = findings[:MAX_FINDINGS]
        if len(findings) > MAX_FINDINGS:
            record["findings_truncated"] = len(findings) - MAX_FINDINGS
    finally:
        os.close(fd)
    return record, digest


def _unreadable(shown: str, why: str) -> dict[str, Any]:
    return {
        "path": shown[:4096],
        "sha256": hashlib.sha256(b"").hexdigest(),
        "size": 0,
        "format": "unknown",
        "formats": ["unknown"],
        "header": {},
        "findings": [
            {
                "stage": "format",
                "code": "unknown_format",
                "check": "gate.unreadable",
                "severity": "high",
                "detail": why[:4096],
                "member": "",
            }
        ],
    }


def collect_artifact(
    path: str,
    *,
    max_files: int = DEFAULT_MAX_FILES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    limits: Limits = DEFAULT_LIMITS,
    progress: Callable[[int], Progress | None] | None = None,
    thresholds: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``evidence.artifact`` section for a model file or directory.

    *progress*, when given, is called with the total byte count and returns
    a per-chunk callback (a progress bar).
    """
    root = Path(path)
    scan, scan_error = _scanner()
    scanner: dict[str, Any] = {"name": "gate", "available": scan is not None}
    if scan_error:
        scanner["error"] = scan_error[:2048]
    section: dict[str, Any] = {"root": path[:4096], "scanner": scanner, "symlinks": [], "limits": []}
    info = os.lstat(root)
    if stat.S_ISLNK(info.st_mode):
        section.update(kind="file", files=[], size=0, file_count=0)
        section["symlinks"] = [{"path": root.name[:4096], "target": os.readlink(root)[:4096]}]
        section["digest"] = ""
        return section
    if stat.S_ISREG(info.st_mode):
        tick = progress(info.st_size) if progress else None
        try:
            record, digest = scan_file(root, b"", root.name, scan, limits, tick, thresholds)
        except OSError as exc:  # unreadable, or swapped for a FIFO since the lstat
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
        section.update(kind="file", files=[record], size=record["size"], file_count=1)
        section["digest"] = "sha256:" + digest.hex()
        return section
    if not stat.S_ISDIR(info.st_mode):
        # Nothing to collect, and no scanner may be handed it: one line, exit 2.
        raise InputError(f"{path}: a {file_kind(info.st_mode)}, not a regular file or a folder")
    found = walk(root, max_files, max_depth)
    total = 0
    sizes = []
    for _, rel in found.files:
        try:
            size = os.lstat(os.path.join(os.fsencode(root), rel)).st_size
        except OSError:
            size = 0
        sizes.append(size)
        total += size
    tick = progress(total) if progress else None
    files: list[dict[str, Any]] = []
    entries: list[tuple[bytes, bytes, bytes]] = []
    for shown, rel in found.files:
        try:
            record, digest = scan_file(root, rel, shown, scan, limits, tick, thresholds)
        except OSError as exc:
            record, digest = _unreadable(shown, f"{shown}: cannot read: {exc.strerror or exc}"), b""
        files.append(record)
        entries.append((b"F", rel, digest))
    for shown, kind in found.special:
        files.append(_unreadable(shown, f"{shown} is a {kind}, not a regular file"))
    entries.extend((b"L", rel, target) for rel, target in found.link_entries)
    section.update(
        kind="dir",
        files=files,
        size=total,
        file_count=len(files),
        digest=directory_digest(entries),
        symlinks=found.symlinks[:10000],
        limits=found.limits[:100],
    )
    _mark_onnx_external_data(files)
    section["directory"] = collect_directory(root, files, found.subdirs)
    return section


def _mark_onnx_external_data(files: list[dict[str, Any]]) -> None:
    """Raw files an ONNX model in the directory names as its external data are part of it.

    Such a file is bare tensor bytes (format ``unknown`` by content); it takes the
    model's format ``onnx`` and records ``external_data_of``. Only a location that stays
    inside the directory, and only a file whose content is no recognised format, is
    marked: a pickle or archive named as external data keeps its own format, and the
    file's findings (the embedded-payload search included) stay as they are.
    """
    from gate.formats.onnx import external_location_problem

    by_path = {f.get("path"): f for f in files if isinstance(f.get("path"), str)}
    for model in files:
        if model.get("format") != "onnx":
            continue
        header = model.get("header")
        entries = header.get("external_data") if isinstance(header, dict) else None
        if not isinstance(entries, list):
            continue
        base = posixpath.dirname(str(model.get("path", "")))
        for entry in entries:
            location = entry.get("location") if isinstance(entry, dict) else None
            if not isinstance(location, str) or external_location_problem(location) is not None:
                continue
            target = by_path.get(posixpath.normpath(posixpath.join(base, location)))
            if target is None or target is model or target.get("formats") != ["unknown"]:
                continue
            target.update(format="onnx", external_data_of=str(model.get("path", ""))[:4096])
