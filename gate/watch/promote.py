"""Promotion: the provenance manifest, its DSSE signature, and the atomic move into the registry.

For an artifact named ``NAME`` the registry folder ends up holding::

    NAME                          the artifact (file or folder), moved, never copied in place
    NAME.provenance.json          the manifest (the seed's fields, plus gate's)
    NAME.provenance.dsse.json     a DSSE envelope over an in-toto Statement whose subject is
                                  NAME with its sha256 and whose predicate is the manifest

The manifest and its envelope are written first (temporary file, fsync,
rename); the artifact is moved last, by ``rename`` on the same filesystem or
by copy + fsync + rename across filesystems. A crash at any point leaves
either the artifact still in the work folder (promotion is simply redone)
or the artifact in the registry with its manifest beside it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import stat
import struct
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gate import __version__
from gate.attest import dsse
from gate.attest.keys import SigningKey
from gate.attest.sign import statement_bytes
from gate.fsutil import fsync_dir, write_atomic

PREDICATE_TYPE = "https://gate.dev/provenance/quarantine/v1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
MANIFEST_SUFFIX = b".provenance.json"
ENVELOPE_SUFFIX = b".provenance.dsse.json"

# linux/fsverity.h
_FS_IOC_ENABLE_VERITY = 0x40806685
_FS_IOC_MEASURE_VERITY = 0xC0046686
_FS_VERITY_HASH_ALG_SHA256 = 1


class PromotionError(Exception):
    """The artifact could not be placed in the registry (it stays where it was)."""


def _revision(url: str | None, given: str | None) -> str:
    if given:
        return given
    if url and "/resolve/" in url:
        rest = url.split("/resolve/", 1)[1]
        return rest.split("/", 1)[0] or "unknown"
    return "unknown"


def manifest(
    *,
    name: bytes,
    document: dict[str, Any],
    decision: dict[str, Any],
    policy_digest: str,
    input_digest: str,
    decision_entry: str | None,
) -> dict[str, Any]:
    """The provenance manifest of one passed artifact, from its input document and decision."""
    evidence = document.get("evidence", {})
    artifact = evidence.get("artifact", {})
    files = artifact.get("files", [])
    digest = str(document.get("subject", {}).get("digest", ""))
    sha256 = digest.removeprefix("sha256:")
    size = sum(int(f.get("size", 0)) for f in files if isinstance(f, dict))
    source_url = document.get("operator", {}).get("source_url")
    scanners = {"gate": __version__}
    for scanner in evidence.get("scanners", []):
        if isinstance(scanner, dict) and scanner.get("installed"):
            scanners[str(scanner.get("name"))] = str(scanner.get("version", ""))
    stages = {key: value.get("status") for key, value in decision.get("stages", {}).items()}
    return {
        "schema_version": "gate/1",
        "artifact": {
            "filename": name.decode("utf-8", "backslashreplace"),
            "filename_hex": name.hex(),
            "kind": "dir" if artifact.get("kind") == "dir" else "file",
            "sha256": sha256,
            "size_bytes": size,
            "files": len(files),
        },
        "source": {
            "url": source_url or "local-import",
            "revision": _revision(source_url, document.get("operator", {}).get("revision")),
        },
        "scanners": scanners,
        "policy": {
            "profile": decision.get("profile", {}),
            "digest": policy_digest,
        },
        "decision": {
            "verdict": decision.get("verdict"),
            "reasons": decision.get("reasons", []),
            "warnings": [w.get("code") for w in decision.get("warnings", []) if isinstance(w, dict)],
            "input_digest": input_digest,
            "audit_entry": decision_entry,
        },
        "scan_summary": stages,
        "promotion": {
            "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "hostname": socket.gethostname(),
        },
        "integrity": {"fsverity_enabled": False, "fsverity_digest": None},
    }


def _envelope(doc: dict[str, Any], key: SigningKey) -> bytes:
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": doc["artifact"]["filename"], "digest": {"sha256": doc["artifact"]["sha256"]}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": doc,
    }
    envelope = dsse.sign(dsse.INTOTO_PAYLOAD_TYPE, statement_bytes(statement), key)
    return (json.dumps(envelope.to_json(), sort_keys=True) + "\n").encode()


def fsverity(path: bytes, enable: bool) -> tuple[bool, str | None, str | None]:
    """(enabled, sha256 fs-verity digest, why not) for a promoted regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        return False, None, exc.strerror
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False, None, "not a regular file"
        if enable:
            arg = struct.pack("=IIIIQII", 1, _FS_VERITY_HASH_ALG_SHA256, 4096, 0, 0, 0, 0) + b"\0" * 96
            try:
                fcntl.ioctl(fd, _FS_IOC_ENABLE_VERITY, arg)
            except OSError as exc:
                if exc.errno != 17:  # EEXIST: already enabled
                    return False, None, f"cannot enable fs-verity: {exc.strerror}"
        buf = bytearray(struct.pack("=HH", 0, 64) + b"\0" * 64)
        try:
            fcntl.ioctl(fd, _FS_IOC_MEASURE_VERITY, buf)
        except OSError as exc:
            return False, None, f"fs-verity not enabled here: {exc.strerror}"
        _, size = struct.unpack_from("=HH", buf)
        return True, "sha256:" + bytes(buf[4 : 4 + size]).hex(), None
    finally:
        os.close(fd)


def _copy_in(source: bytes, target: bytes) -> None:
    """Copy across filesystems into *target* (a temporary name), every file fsynced."""
    if os.path.isdir(source) and not os.path.islink(source):
        shutil.copytree(os.fsdecode(source), os.fsdecode(target), symlinks=True)
        for folder, _dirs, names in os.walk(target):
            for item in names:
                fd = os.open(os.path.join(folder, item), os.O_RDONLY | os.O_NOFOLLOW)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            fsync_dir(Path(os.fsdecode(folder)))
    else:
        shutil.copyfile(source, target, follow_symlinks=False)
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def place(source: bytes, registry: bytes, name: bytes) -> bytes:
    """Move the artifact into the registry atomically; its new path."""
    target = os.path.join(registry, name)
    if os.path.lexists(target):
        raise PromotionError(f"the registry already holds an entry named {name.decode('utf-8', 'replace')!r}")
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno != 18:  # EXDEV: another filesystem
            raise PromotionError(f"cannot move the artifact into the registry: {exc.strerror}") from None
        incoming = os.path.join(registry, b".gate-incoming-" + name)
        if os.path.lexists(incoming):
            shutil.rmtree(incoming) if os.path.isdir(incoming) else os.unlink(incoming)
        _copy_in(source, incoming)
        os.rename(incoming, target)
        fsync_dir(Path(os.fsdecode(registry)))
        shutil.rmtree(source) if os.path.isdir(source) else os.unlink(source)
        return target
    fsync_dir(Path(os.fsdecode(registry)))
    return target


def promote(
    source: bytes,
    registry: bytes,
    name: bytes,
    doc: dict[str, Any],
    key: SigningKey | None,
    *,
    enable_fsverity: bool = False,
) -> dict[str, Any]:
    """Write the manifest (and its DSSE envelope when there is a key), then move the artifact in.

    *source* is the watcher's private copy: nothing but gate can write it, so
    the file that lands in the registry holds the bytes the manifest's sha256
    was computed over.
    """
    base = os.path.join(registry, name)
    if os.path.lexists(base):
        # Checked before the manifest is written, so another artifact's manifest is never replaced.
        raise PromotionError(f"the registry already holds an entry named {name.decode('utf-8', 'replace')!r}")
    manifest_path = Path(os.fsdecode(base + MANIFEST_SUFFIX))
    envelope_path = Path(os.fsdecode(base + ENVELOPE_SUFFIX))
    if doc["artifact"]["kind"] == "file" and enable_fsverity:
        # fs-verity is enabled on the file before it is moved (same inode after a rename).
        enabled, digest, why = fsverity(source, True)
    elif doc["artifact"]["kind"] == "file":
        enabled, digest, why = fsverity(source, False)
    else:
        enabled, digest, why = False, None, "a folder artifact (fs-verity protects single files)"
    doc["integrity"] = {
        "fsverity_enabled": enabled,
        "fsverity_digest": digest,
        "manifest_signed": key is not None,
    }
    if why:
        doc["integrity"]["fsverity_unavailable"] = why
    text = (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    write_atomic(manifest_path, text)
    if key is not None:
        write_atomic(envelope_path, _envelope(doc, key))
    place(source, registry, name)
    return doc
