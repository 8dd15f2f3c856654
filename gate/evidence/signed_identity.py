"""The identity a cosign signature claims: ``critical.identity.docker-reference``.

A cosign simple-signing payload names the image it was made for twice: the
manifest digest it signs, and the docker reference of the repository (and,
for some signers, the tag) it was pushed to. gate verifies the digest
cryptographically; this module records the claimed reference next to the
reference the operator asked for, both parsed and normalised the way docker
reads them (``docker.io/library/`` for Docker Hub short names), so that the
policy can apply containers-policy.json(5) ``signedIdentity`` semantics
(``matchRepository``, ``matchExact``, ``matchRepoDigestOrExact``; the
profile's ``container.signed_identity`` picks one). Nothing here decides.

As in containers/image, an image reference with neither tag nor digest means
``:latest``; a signed reference is taken as it is written (a name-only
reference stays name-only, which matchExact never accepts).
"""

from __future__ import annotations

import json
from typing import Any

from gate.evidence.oci.reference import ReferenceError, parse_reference

_TEXT = 2048


def docker_reference(payload: bytes) -> str | None:
    """The payload's ``critical.identity.docker-reference``; None when it has none (or is not a string)."""
    try:
        doc = json.loads(payload)
        value = doc["critical"]["identity"]["docker-reference"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    return value if isinstance(value, str) else None


def _parsed(text: str, *, default_tag: bool) -> dict[str, str]:
    ref = parse_reference(text)  # gives a name-only reference the tag latest
    out = {"name": f"{ref.registry}/{ref.repository}"[:_TEXT]}
    name_only = "@" not in text and ":" not in text.rsplit("/", 1)[-1]
    tag = ref.tag if (default_tag or not name_only) else None
    if tag:
        out["tag"] = tag
    if ref.digest:
        out["digest"] = ref.digest
    return out


def signed_identity(payload: bytes, requested: str) -> dict[str, Any]:
    """The ``evidence.signature.signed_identity`` record for a verified simple-signing *payload*.

    *requested* is the image reference the operator asked for (``subject.ref``).
    """
    record: dict[str, Any] = {}
    try:
        record["requested"] = _parsed(requested, default_tag=True)
    except ReferenceError as exc:
        record["error"] = f"the requested reference does not parse: {exc}"[:_TEXT]
    claimed = docker_reference(payload)
    if claimed is None:
        record.setdefault("error", "the signed payload has no critical.identity.docker-reference string")
        return record
    record["docker_reference"] = claimed[:_TEXT]
    try:
        record["signed"] = _parsed(claimed, default_tag=False)
    except ReferenceError as exc:
        record.setdefault("error", f"the signed docker-reference does not parse: {exc}"[:_TEXT])
    return record


def same_repository(record: dict[str, Any]) -> bool:
    """True when the signed and requested references name the same repository (a tie-breaker only)."""
    signed, requested = record.get("signed"), record.get("requested")
    return bool(signed and requested and signed.get("name") == requested.get("name"))
