"""gate/evidence/artifact.py: the walk never follows links, stays bounded, and fails closed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from gate.evidence.artifact import collect_artifact, hash_fd, walk


def test_hash_is_the_file_sha256(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    data = os.urandom(3 * 1024 * 1024 + 17)
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert hash_fd(fd, len(data)) == hashlib.sha256(data).digest()
    finally:
        os.close(fd)
    section = collect_artifact(str(path))
    assert section["kind"] == "file"
    assert section["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert section["files"][0]["size"] == len(data)


def test_symlinks_are_recorded_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.write_bytes(b"do not read")
    root = tmp_path / "model"
    root.mkdir()
    (root / "weights").symlink_to(outside)
    (root / "dir").symlink_to(tmp_path)

    section = collect_artifact(str(root))

    assert {s["path"] for s in section["symlinks"]} == {"weights", "dir"}
    assert section["files"] == []
    link_root = collect_artifact(str(root / "weights"))
    assert link_root["symlinks"][0]["target"] == str(outside)
    assert link_root["files"] == []


def test_special_files_are_not_opened(tmp_path: Path) -> None:
    root = tmp_path / "model"
    root.mkdir()
    os.mkfifo(root / "pipe")
    section = collect_artifact(str(root))
    [record] = section["files"]
    assert record["path"] == "pipe"
    assert record["findings"][0]["code"] == "unknown_format"


def test_walk_is_bounded(tmp_path: Path) -> None:
    root = tmp_path / "model"
    deep = root / "a" / "b" / "c"
    deep.mkdir(parents=True)
    for i in range(5):
        (root / f"f{i}").write_bytes(b"x")
    (deep / "hidden").write_bytes(b"x")
    found = walk(root, max_files=3, max_depth=2)
    assert len(found.files) == 3
    assert any("more than the limit of 3" in m for m in found.limits)
    assert any("deeper than 2" in m for m in found.limits)


def test_executable_bit_recorded(tmp_path: Path) -> None:
    root = tmp_path / "model"
    root.mkdir()
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    assert collect_artifact(str(root))["files"][0]["executable"] is True
