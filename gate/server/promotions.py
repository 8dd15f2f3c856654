"""``POST /v1/model/promote``: the registry API the quarantine watcher announces to.

``gate serve --registry-dir DIR`` answers it (a bearer token is then
required). A promotion is recorded only for an artifact that is really in
the registry folder with its provenance manifest, and only when the
announced sha256 and size match that manifest. Records are appended (flock,
fsync) to ``DIR/.promotions.jsonl``; an announcement whose idempotency key is
already recorded is answered 200 without a second record, so a watcher
retrying after a lost answer never promotes twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from pathlib import Path
from typing import Any

RECORDS = ".promotions.jsonl"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX = re.compile(r"^(?:[0-9a-f]{2}){1,1024}$")


class PromotionRejected(Exception):
    """The announcement does not match what the registry folder holds."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _name(body: dict[str, Any]) -> bytes:
    hex_name = body.get("filename_hex")
    if isinstance(hex_name, str) and _HEX.match(hex_name):
        name = bytes.fromhex(hex_name)
    elif isinstance(body.get("filename"), str):
        name = body["filename"].encode("utf-8")
    else:
        raise PromotionRejected(400, "invalid_parameter", "filename_hex or filename is required")
    if not name or name.startswith(b".") or b"/" in name or b"\0" in name:
        raise PromotionRejected(
            400, "invalid_parameter", "the file name must be a plain name in the registry folder"
        )
    return name


def record(registry: Path, body: Any) -> tuple[int, dict[str, Any]]:
    """(HTTP status, answer) for one announcement."""
    if not isinstance(body, dict):
        raise PromotionRejected(400, "invalid_parameter", "expected a JSON object")
    name = _name(body)
    sha256 = body.get("sha256")
    size = body.get("size_bytes")
    if not isinstance(sha256, str) or not _HEX64.match(sha256):
        raise PromotionRejected(400, "invalid_parameter", "sha256 must be 64 lowercase hex digits")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise PromotionRejected(400, "invalid_parameter", "size_bytes must be a non-negative integer")
    base = os.path.join(os.fsencode(registry), name)
    if not os.path.lexists(base) or os.path.islink(base):
        raise PromotionRejected(404, "not_found", "no such artifact in the registry folder")
    try:
        manifest = json.loads(Path(os.fsdecode(base + b".provenance.json")).read_bytes()[: 1 << 20])
        artifact = manifest["artifact"]
    except (OSError, ValueError, KeyError, TypeError):
        raise PromotionRejected(409, "conflict", "the artifact has no readable provenance manifest") from None
    if artifact.get("sha256") != sha256 or artifact.get("size_bytes") != size:
        raise PromotionRejected(
            409, "conflict", "sha256 or size does not match the artifact's provenance manifest"
        )
    key = f"{sha256}:{name.hex()}"
    path = registry / RECORDS
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        seen = os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")
        for line in seen.splitlines():
            with contextlib.suppress(ValueError):
                if json.loads(line).get("idempotency_key") == key:
                    return 200, {"status": "already-recorded", "idempotency_key": key}
        entry = {
            "idempotency_key": key,
            "filename_hex": name.hex(),
            "sha256": sha256,
            "size_bytes": size,
            "source": body.get("source"),
            "policy_version": body.get("policy_version"),
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return 201, {"status": "recorded", "idempotency_key": key}
