"""Sigstore bundles signed with a managed key (public key, no certificate).

``cosign sign --key ... --new-bundle-format`` and other Sigstore clients with
a KMS or file key write a bundle whose ``verificationMaterial`` holds a
``publicKey`` hint instead of a certificate (the sigstore-conformance
``managed-key-*`` cases). sigstore-python only verifies certificate bundles,
so gate verifies these itself, against the public keys the operator gave
(``--cosign-key``; the hint only names a key, it is never trusted):

- a message signature must be over the expected bytes: its
  ``messageDigest`` must be the sha256 of the artifact (or the image digest),
  and the signature must verify over it with one of the keys (ECDSA over the
  pre-hashed digest, or over the artifact bytes when they are given);
- a DSSE envelope's signature must verify over its pre-authentication
  encoding (the caller checks the statement's subject);
- a Rekor v1 entry with an inclusion promise (signed entry timestamp) must
  verify with the trust root's log keys, and its body must record this
  signature, this key and this digest (payload hash for DSSE). The entry is
  then the transparency-log evidence, as for cosign's Rekor bundle
  annotation; an entry gate cannot verify offline (Rekor v2, no promise) is
  recorded as no log evidence, so a person decides.

The result is recorded like a key-based cosign signature: method ``key``
with the key's sha256, no identity and no issuer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from gate.evidence.signatures import (
    Rejected,
    SignatureOptions,
    Verified,
    _check_entry_body,
    _key_sha256,
    _load_keys,
    _rfc3339,
    _same_signer,
    _signature_ok,
    _verify_set,
    b64,
    pae,
    trusted_root,
)

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_NO_LOG = {"reachable": False, "consulted": False}


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def is_managed_key_bundle(bundle_json: bytes) -> bool:
    """True for a bundle whose verification material is a public key, not a certificate."""
    doc = _json(bundle_json)
    material = doc.get("verificationMaterial") if isinstance(doc, dict) else None
    return (
        isinstance(material, dict)
        and isinstance(material.get("publicKey"), dict)
        and not material.get("certificate")
        and not material.get("x509CertificateChain")
    )


def _prehashed_ok(key: Any, signature: bytes, digest: bytes) -> bool:
    """A signature over a sha256 *digest* (what a message-signature bundle over an image carries)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
            return True
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


def verify_managed_key_bundle(
    bundle_json: bytes,
    options: SignatureOptions,
    *,
    artifact: bytes | None = None,
    digest: str = "",
    source: str = "bundle",
) -> Verified:
    """Verify a managed-key bundle; :class:`Rejected` with one sentence on any failure."""
    doc = _json(bundle_json)
    if not isinstance(doc, dict) or not str(doc.get("mediaType", "")).startswith(
        "application/vnd.dev.sigstore.bundle"
    ):
        raise Rejected("the bundle does not load: not a Sigstore bundle")
    keys = _load_keys(options)
    if not keys:
        raise Rejected("the bundle is signed with a managed key and no --cosign-key public key was given")
    found: Verified | None = None
    message = doc.get("messageSignature")
    envelope = doc.get("dsseEnvelope")
    expected_hex = ""
    if isinstance(message, dict):
        expected_hex = _expected_digest(artifact, digest)
        signature = b64(str(message.get("signature", "")), "the bundle signature")
        stated = message.get("messageDigest")
        if isinstance(stated, dict):
            if stated.get("algorithm") != "SHA2_256":
                raise Rejected(
                    f"unsupported bundle message digest algorithm {str(stated.get('algorithm'))[:40]!r}"
                )
            if b64(str(stated.get("digest", "")), "the message digest").hex() != expected_hex:
                raise Rejected("the bundle does not verify: its message digest is not the expected digest")
        for key in keys:
            ok = (
                _signature_ok(key, signature, artifact)
                if artifact is not None
                else _prehashed_ok(key, signature, bytes.fromhex(expected_hex))
            )
            if ok:
                found = Verified(
                    method="key", source=source, key_sha256=_key_sha256(key), signature=signature
                )
                break
        signed = artifact
    elif isinstance(envelope, dict):
        payload_type = str(envelope.get("payloadType", ""))
        body = b64(str(envelope.get("payload", "")), "the DSSE payload")
        sigs = [
            b64(s["sig"], "a DSSE signature")
            for s in envelope.get("signatures", [])[:8]
            if isinstance(s, dict) and isinstance(s.get("sig"), str)
        ]
        signed = pae(payload_type, body)
        for key in keys:
            signature = next((s for s in sigs if _signature_ok(key, s, signed)), b"")
            if signature:
                found = Verified(
                    method="key", source=source, key_sha256=_key_sha256(key), signature=signature
                )
                found.payload_type, found.payload = payload_type, body
                break
    else:
        raise Rejected("the bundle holds neither a message signature nor a DSSE envelope")
    if found is None:
        raise Rejected("the bundle's signature does not verify with any of the given public keys")
    found.tlog = _tlog(doc, found, keys, signed, expected_hex, options)
    return found


def _expected_digest(artifact: bytes | None, digest: str) -> str:
    if artifact is not None:
        return hashlib.sha256(artifact).hexdigest()
    if _DIGEST.fullmatch(digest):
        return digest[7:]
    raise Rejected("a message-signature bundle needs the signed artifact or digest")


def _tlog(
    doc: dict[str, Any],
    found: Verified,
    keys: list[Any],
    signed: bytes | None,
    expected_hex: str,
    options: SignatureOptions,
) -> dict[str, Any]:
    """The bundle's Rekor v1 entry, verified through its inclusion promise, or why there is none."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    entries = doc.get("verificationMaterial", {}).get("tlogEntries")
    entry = entries[0] if isinstance(entries, list) and entries and isinstance(entries[0], dict) else None
    if entry is None:
        return {**_NO_LOG, "error": "the bundle carries no transparency-log entry"}
    promise = entry.get("inclusionPromise")
    if not isinstance(promise, dict) or not isinstance(promise.get("signedEntryTimestamp"), str):
        return {**_NO_LOG, "error": "the bundle's log entry has no inclusion promise gate can verify offline"}
    try:
        log_id = b64(str(entry["logId"]["keyId"]), "the log id").hex()
        annotation = {
            "SignedEntryTimestamp": promise["signedEntryTimestamp"],
            "Payload": {
                "body": entry["canonicalizedBody"],
                "integratedTime": int(entry["integratedTime"]),
                "logIndex": int(entry["logIndex"]),
                "logID": log_id,
            },
        }
    except (KeyError, TypeError, ValueError):
        raise Rejected("the bundle's log entry lacks its body, time, index or log id") from None
    logged = _verify_set(json.dumps(annotation), trusted_root(options))
    key = next(k for k in keys if _key_sha256(k) == found.key_sha256)
    key_der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    body = logged["body"]
    if isinstance(body, dict) and body.get("kind") == "hashedrekord":
        _check_hashedrekord(body, found.signature, key_der, expected_hex)
    else:
        _check_entry_body(body, found.signature, None, key_der, signed or b"", {})
    moment = logged["integrated_time"]
    from datetime import datetime, timezone

    return {
        "reachable": True,
        "consulted": False,
        "log_index": logged["log_index"],
        "integrated_time": _rfc3339(datetime.fromtimestamp(moment, tz=timezone.utc)),
    }


def _check_hashedrekord(body: dict[str, Any], signature: bytes, key_der: bytes, expected_hex: str) -> None:
    try:
        spec = body["spec"]
        logged_sig = b64(spec["signature"]["content"], "the logged signature")
        logged_key = base64.b64decode(spec["signature"]["publicKey"]["content"])
        logged_hash = spec["data"]["hash"]["value"]
    except (KeyError, TypeError, ValueError):
        raise Rejected("the hashedrekord entry lacks signature, key or hash") from None
    if body.get("apiVersion") != "0.0.1":
        raise Rejected(f"unsupported Rekor entry type hashedrekord/{str(body.get('apiVersion'))[:20]}")
    if logged_hash != expected_hex:
        raise Rejected("the Rekor entry is about other bytes than the signed digest")
    if logged_sig != signature:
        raise Rejected("the Rekor entry records another signature")
    if not _same_signer(logged_key, None, key_der):
        raise Rejected("the Rekor entry records another signer")
