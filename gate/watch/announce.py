"""Announcing a promotion to the registry API: ``POST {REGISTRY_URL}/v1/model/promote``.

The bearer token is read for every request, from ``SERVICE_TOKEN`` or else the
file named by ``SERVICE_TOKEN_PATH`` (the environment wins, as in the seed's
watcher), so a rotated token is picked up without a restart. The token never
appears in a message, a log line or the audit log. The body carries an
``idempotency_key`` (the artifact's sha256 and name): a registry that already
recorded it answers without recording it twice, so a retry after a lost
answer never announces twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TIMEOUT_S = 10.0
MAX_TOKEN_BYTES = 4096


@dataclass(frozen=True)
class TokenSource:
    """Where the token comes from (values read per request)."""

    env: str = "SERVICE_TOKEN"
    path: str | None = None

    def read(self) -> str | None:
        value = os.environ.get(self.env)
        if value:
            return value.strip()
        if not self.path:
            return None
        try:
            data = Path(self.path).read_bytes()[:MAX_TOKEN_BYTES]
        except OSError as exc:
            raise AnnounceError(f"cannot read the service token file {self.path}: {exc.strerror}") from None
        text = data.decode("utf-8", "replace").strip()
        return text or None


class AnnounceError(Exception):
    """The announcement did not go through (it will be retried)."""


def payload(manifest: dict[str, Any], manifest_sha256: str) -> dict[str, Any]:
    artifact = manifest["artifact"]
    return {
        "name": artifact["filename"],
        "filename": artifact["filename"],
        "filename_hex": artifact["filename_hex"],
        "kind": artifact["kind"],
        "sha256": artifact["sha256"],
        "size_bytes": artifact["size_bytes"],
        "source": manifest["source"]["url"],
        "source_revision": manifest["source"]["revision"],
        "scanner_versions": manifest["scanners"],
        "policy_version": manifest["policy"]["digest"],
        "scan_results": manifest["scan_summary"],
        "manifest_sha256": manifest_sha256,
        "idempotency_key": f"{artifact['sha256']}:{artifact['filename_hex']}",
    }


def announce(url: str, body: dict[str, Any], tokens: TokenSource) -> int:
    """POST the promotion; the HTTP status on success (200/201), AnnounceError otherwise."""
    import httpx

    headers = {"content-type": "application/json"}
    token = tokens.read()
    if token:
        headers["authorization"] = f"Bearer {token}"
    endpoint = url.rstrip("/") + "/v1/model/promote"
    try:
        response = httpx.post(endpoint, json=body, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise AnnounceError(f"{endpoint}: {type(exc).__name__}: {str(exc)[:200]}") from None
    if response.status_code in (200, 201):
        return response.status_code
    raise AnnounceError(f"{endpoint}: HTTP {response.status_code} {response.text[:200].strip()}")
