"""``POST /v1/model/promote``: the registry API the quarantine watcher announces to.

``gate serve --registry-dir DIR --watch-key PUB`` answers it (a bearer
token is then required). A promotion is recorded only for an artifact that
is really in the registry folder with its provenance manifest, only when the
announced sha256 and size match that manifest, only when the manifest's DSSE
envelope (``NAME.provenance.dsse.json``) verifies with the watcher's public
key over an in-toto Statement whose subject is NAME with that sha256 and
whose predicate is that manifest, and only when the artifact in the folder,
hashed here, has that sha256 (a directory: gate's directory digest). What
the request body says is never recorded on its own word. Records are appended (flock,
fsync) to ``DIR/.promotions.jsonl``; an announcement whose idempotency key is
already recorded is answered 200 without a second record, so a watcher
retrying after a lost answer never promotes twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import stat
import time
from pathlib import Path
from typing import Any

from gate.attest import dsse
from gate.evidence.directory import directory_digest

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


def _file_sha256(path: bytes) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PromotionRejected(409, "conflict", "the artifact is not a regular file")
        digest = hashlib.sha256()
        while block := os.read(fd, 1 << 20):
            digest.update(block)
        return digest.digest()
    finally:
        os.close(fd)


def artifact_sha256(base: bytes) -> str:
    """The artifact's sha256 as gate computes it: of the file, or gate's directory digest."""
    info = os.lstat(base)
    if not stat.S_ISDIR(info.st_mode):
        return _file_sha256(base).hex()
    entries: list[tuple[bytes, bytes, bytes]] = []
    for folder, dirs, files in os.walk(base, followlinks=False):
        for item in sorted(files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]):
            path = os.path.join(folder, item)
            rel = os.path.relpath(path, base)
            if os.path.islink(path):
                entries.append((b"L", rel, os.readlink(path)))
            else:
                entries.append((b"F", rel, _file_sha256(path)))
    entries.sort(key=lambda entry: entry[1])
    return directory_digest(entries).removeprefix("sha256:")


def _check_signed(base: bytes, name: bytes, manifest: Any, sha256: str, key: Any) -> None:
    """The manifest's DSSE envelope verifies with *key* and states exactly this manifest and sha256."""
    try:
        raw = Path(os.fsdecode(base + b".provenance.dsse.json")).read_bytes()[: 4 << 20]
        envelope = dsse.Envelope.from_json(json.loads(raw))
    except (OSError, ValueError, dsse.EnvelopeError):
        raise PromotionRejected(
            409, "conflict", "the artifact has no readable signed provenance (NAME.provenance.dsse.json)"
        ) from None
    if envelope.payload_type != dsse.INTOTO_PAYLOAD_TYPE or dsse.verify(envelope, key) is None:
        raise PromotionRejected(
            409, "conflict", "the provenance signature does not verify with the watch key"
        )
    try:
        statement = json.loads(envelope.payload)
        subjects = statement["subject"]
        predicate = statement["predicate"]
    except (ValueError, KeyError, TypeError):
        raise PromotionRejected(
            409, "conflict", "the signed provenance is not an in-toto Statement"
        ) from None
    named = manifest.get("artifact", {}).get("filename_hex") == name.hex()
    subject_ok = isinstance(subjects, list) and any(
        isinstance(s, dict) and s.get("digest", {}).get("sha256") == sha256 for s in subjects
    )
    if not (named and subject_ok and predicate == manifest):
        raise PromotionRejected(
            409, "conflict", "the signed provenance does not state this artifact's name, sha256 and manifest"
        )


def record(registry: Path, body: Any, key: Any = None) -> tuple[int, dict[str, Any]]:
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
    if key is None:
        raise PromotionRejected(500, "internal_error", "this server has no watch key to verify promotions")
    _check_signed(base, name, manifest, sha256, key)
    try:
        actual = artifact_sha256(base)
    except OSError as exc:
        raise PromotionRejected(409, "conflict", f"the artifact cannot be read: {exc.strerror}") from None
    if actual != sha256:
        raise PromotionRejected(
            409, "conflict", "the artifact in the registry folder does not have the signed sha256"
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
