"""Skill package signatures: by key (gate's DSSE statement) or by Sigstore identity.

- Key: ``gate skill sign PATH --key KEY --as NAME`` writes a DSSE envelope of
  an in-toto statement whose subject is the skill's name with the package
  digest (the directory digest of a folder, the sha256 of an archive) and
  whose predicate (``https://gate.dev/skill-signature/v1``) names the signer
  and the source tuple; it verifies against ``skills.signers.<name>.public_key``.
- Sigstore: a Sigstore bundle over an archive's bytes (``cosign sign-blob``,
  ``sigstore sign``) verifies offline against the production trust root and
  the ``identity`` and ``issuer`` the profile lists for a signer
  (``skills.signers.<name>: {identity, issuer}``).

Verification records which approved signer verified; it never decides
whether that is enough (the policy does).
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


def _sigstore(data: bytes, digest: str, signers: dict[str, Any]) -> dict[str, Any]:
    """A Sigstore bundle over the package bytes, against each signer identity the profile approves."""
    from sigstore.hashes import Hashed
    from sigstore.models import Bundle
    from sigstore.verify import Verifier
    from sigstore.verify.policy import Identity
    from sigstore_models.common.v1 import HashAlgorithm

    from gate.evidence.provenance import certificate_signer

    record: dict[str, Any] = {"present": True, "verified": False, "kind": "sigstore"}
    try:
        bundle = Bundle.from_json(data)
        identity, issuer = certificate_signer(bundle.signing_certificate)
    except Exception as exc:  # sigstore raises many types for a malformed bundle
        return {**record, "error": f"not a usable Sigstore bundle: {str(exc)[:200]}"}
    record.update(claimed_signer=identity[:256], issuer=issuer[:256])
    hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(digest.removeprefix("sha256:")))
    verifier = Verifier.production(offline=True)
    last = "no signer in the profile has a Sigstore identity"
    for name, entry in sorted(signers.items()):
        if not isinstance(entry, dict) or not isinstance(entry.get("identity"), str):
            continue
        try:
            verifier.verify_artifact(
                hashed, bundle, Identity(identity=entry["identity"], issuer=entry.get("issuer"))
            )
        except Exception as exc:  # VerificationError and friends: this signer does not match
            last = str(exc)[:200]
            continue
        return {**record, "verified": True, "signer": name, "signed_digest": digest}
    return {**record, "error": f"the bundle does not verify for any approved signer identity ({last})"}


def verify(
    data: bytes | None, digest: str, signers: dict[str, Any], kind: str = "directory"
) -> dict[str, Any]:
    """The ``signature`` evidence for *data* (a signature file's bytes, or None when absent)."""
    if data is None:
        return {"present": False, "verified": False}
    if len(data) > MAX_ENVELOPE:
        return {"present": True, "verified": False, "error": f"signature larger than {MAX_ENVELOPE} bytes"}
    if b"application/vnd.dev.sigstore.bundle" in data[:4096]:
        if kind != "archive":
            why = "a Sigstore bundle signs bytes: sign the archive, or use gate skill sign for a folder"
            return {"present": True, "verified": False, "kind": "sigstore", "error": why}
        return _sigstore(data, digest, signers)
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
