"""Skill package signatures: a DSSE-signed in-toto statement over the package digest.

``gate skill sign PATH --key KEY --as NAME`` writes the envelope; the
statement's subject is the skill's name with the package digest (the
directory digest of a folder, the sha256 of an archive) and its predicate
(``https://gate.dev/skill-signature/v1``) names the signer and the source
tuple. Verification tries the public keys of the signers the profile
approves (``skills.signers.<name>.public_key``) and records which one
verified; it never decides whether that is enough (the policy does).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from gate.attest import dsse
from gate.attest.keys import SigningKey

PREDICATE_TYPE = "https://gate.dev/skill-signature/v1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
MAX_ENVELOPE = 1024 * 1024


def make(name: str, digest: str, signer: str, source: dict[str, Any] | None = None) -> dict[str, Any]:
    """The unsigned statement for a package."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": digest.removeprefix("sha256:")}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "signer": signer,
            "signed_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": source or {},
        },
    }


def sign(statement: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """The DSSE envelope (JSON form) of *statement* signed with *key*."""
    from gate.attest.sign import statement_bytes

    return dsse.sign(dsse.INTOTO_PAYLOAD_TYPE, statement_bytes(statement), key).to_json()


def _key(pem: str) -> Any:
    from cryptography.hazmat.primitives import serialization

    from gate.attest.keys import VerifyKey, keyid_of

    public = serialization.load_pem_public_key(pem.encode())
    return VerifyKey(public, keyid_of(public), "profile")  # type: ignore[arg-type]


def verify(data: bytes | None, digest: str, signers: dict[str, Any]) -> dict[str, Any]:
    """The ``signature`` evidence for *data* (an envelope file's bytes, or None when absent)."""
    if data is None:
        return {"present": False, "verified": False}
    if len(data) > MAX_ENVELOPE:
        return {"present": True, "verified": False, "error": f"signature larger than {MAX_ENVELOPE} bytes"}
    try:
        envelope = dsse.Envelope.from_json(json.loads(data))
        statement = json.loads(envelope.payload)
        subject = statement["subject"][0]
        predicate = statement["predicate"]
    except (dsse.EnvelopeError, ValueError, KeyError, IndexError, TypeError) as exc:
        return {
            "present": True,
            "verified": False,
            "error": f"not a signed skill statement: {str(exc)[:200]}",
        }
    claimed = str(predicate.get("signer", ""))[:256]
    record: dict[str, Any] = {"present": True, "verified": False, "claimed_signer": claimed}
    if statement.get("predicateType") != PREDICATE_TYPE:
        return {**record, "error": f"predicate type is not {PREDICATE_TYPE}"}
    signed = "sha256:" + str(subject.get("digest", {}).get("sha256", ""))[:64]
    record["signed_digest"] = signed
    if signed != digest:
        return {**record, "error": f"the signature is for {signed}, not this package ({digest})"}
    for name, entry in sorted(signers.items()):
        pem = entry.get("public_key") if isinstance(entry, dict) else None
        if not isinstance(pem, str):
            continue
        try:
            key = _key(pem)
        except (ValueError, TypeError):
            continue
        if dsse.verify(envelope, key) is not None:
            return {**record, "verified": True, "signer": name, "keyid": key.keyid}
    return {**record, "error": "the signature does not verify with any signer key the profile approves"}
