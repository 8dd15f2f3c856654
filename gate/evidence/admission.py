"""Model admission: run every artifact collector and assemble the input document.

``gate collect artifact`` and ``gate eval --artifact`` both call
:func:`collect_document`. Each collector fills its own section; failures
are recorded (in the section and in ``collection.errors``), never raised,
except for unusable operator files (lock, allowlist, signature), which are
usage errors.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gate.errors import InputError
from gate.evidence.artifact import DEFAULT_MAX_DEPTH, DEFAULT_MAX_FILES, Progress, collect_artifact
from gate.evidence.interface import Collection
from gate.evidence.pins import collect_pins, load_lock
from gate.evidence.source import collect_source, load_allowlist
from gate.profile import Profile


@dataclass(frozen=True)
class Request:
    """What the operator asked: the artifact and the files that go with it."""

    path: str
    source_url: str | None = None
    revision: str | None = None
    lock: str | None = None
    allowlist: str | None = None
    signature: str | None = None
    public_key: str | None = None
    certificate: str | None = None
    trusted_root: str | None = None
    identity: str | None = None
    issuer: str | None = None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def collect_document(
    request: Request,
    profile: Profile,
    progress: Callable[[int], Progress | None] | None = None,
) -> dict[str, Any]:
    """The input document for one model file or directory under *profile*."""
    root = Path(request.path)
    if not os.path.lexists(root):
        raise InputError(f"{request.path}: no such file or directory")
    settings: dict[str, Any] = profile.settings.get("artifact", {})
    collection = Collection()

    if request.allowlist:
        allow, allow_sha = load_allowlist(request.allowlist)
        origin = request.allowlist
    else:
        allow, allow_sha = list(settings.get("source", {}).get("allowlist", [])), ""
        origin = f"profile {profile.name}"
    if request.lock:
        pins, lock_sha = load_lock(request.lock)
        lock_origin = request.lock
    else:
        pins, lock_sha, lock_origin = [], "", "none"

    limits = settings.get("limits", {})
    artifact = collect_artifact(
        request.path,
        max_files=int(limits.get("max_files", DEFAULT_MAX_FILES)),
        max_depth=int(limits.get("max_depth", DEFAULT_MAX_DEPTH)),
        progress=progress,
        thresholds=dict(settings.get("statistics", {})),
    )
    if artifact["scanner"].get("error"):
        collection.error("artifact", artifact["scanner"]["error"])
    name = root.resolve().name if root.name in ("", ".", "..") else root.name

    evidence: dict[str, Any] = {
        "source": collect_source(request.source_url, request.revision, allow, origin, allow_sha),
        "pins": collect_pins(name, pins, lock_origin, lock_sha),
        "artifact": artifact,
        "provenance": _provenance(request, artifact, collection),
        "behaviour": _behaviour(root, artifact, settings, collection),
        "scanners": _scanners(request, settings, collection, artifact),
    }
    operator: dict[str, Any] = {}
    if request.source_url:
        operator["source_url"] = request.source_url[:4096]
    if request.revision:
        operator["revision"] = request.revision[:256]
    if request.identity:
        operator["expected_signer_identity"] = request.identity[:2048]
    if request.issuer:
        operator["expected_oidc_issuer"] = request.issuer[:2048]
    document: dict[str, Any] = {
        "gate": {
            "version": "1",
            "mode": "runtime",
            "now": _now(),
            "profile": {"name": profile.name, "sha256": profile.sha256},
            "nonce": secrets.token_hex(16),
        },
        "subject": {
            "kind": "model-dir" if artifact["kind"] == "dir" else "model-file",
            "ref": request.path[:2048],
        },
        "operator": operator,
        "evidence": evidence,
        "collection": collection.to_json(),
    }
    if artifact.get("digest"):
        document["subject"]["digest"] = artifact["digest"]
    return document


def _behaviour(
    root: Path, artifact: dict[str, Any], settings: dict[str, Any], collection: Collection
) -> dict[str, Any]:
    from gate.evidence.behaviour import collect_behaviour

    wanted = dict(settings.get("behaviour", {}))
    section = collect_behaviour(root, artifact, wanted)
    if wanted.get("run") and section.get("applicable", True) and not section.get("ran"):
        collection.error("behaviour", str(section.get("detail", "the smoke test did not run")))
    return section


def _provenance(request: Request, artifact: dict[str, Any], collection: Collection) -> dict[str, Any]:
    if not request.signature:
        return {"method": "none", "verified": False}
    logging.getLogger("sigstore").setLevel(logging.ERROR)  # "offline mode" notices are not news
    from gate.evidence.provenance import verify

    return verify(request, artifact, collection)


def _scanners(
    request: Request, settings: dict[str, Any], collection: Collection, artifact: dict[str, Any]
) -> list[dict[str, Any]]:
    names = list(settings.get("scanners", {}).get("run", []))
    if not names:
        return []
    from gate.evidence.scanners import run_scanners

    timeout = float(settings.get("scanners", {}).get("timeout_seconds", 300))
    return run_scanners(names, request.path, timeout, collection, artifact)
