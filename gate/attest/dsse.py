"""DSSE envelopes (Dead Simple Signing Envelope, v1.0) and their PAE.

A signature covers ``PAE(payloadType, payload)``::

    "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body

where LEN is the byte length in ASCII decimal. The payload type is signed,
so an attacker cannot make a verifier read the payload as something else.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from gate.attest.keys import SigningKey, VerifyKey

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
MAX_SIGNATURES = 64


class EnvelopeError(ValueError):
    """The JSON is not a well-formed DSSE envelope (the message says why)."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """The DSSE v1 pre-authentication encoding of (*payload_type*, *payload*)."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


@dataclass(frozen=True)
class Signature:
    """One signature in an envelope."""

    keyid: str
    """Key id hint (may be empty); never trusted, only used to pick a key."""
    sig: bytes
    """The raw signature bytes."""


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope, decoded."""

    payload_type: str
    """The signed payload type, e.g. application/vnd.in-toto+json."""
    payload: bytes
    """The payload bytes exactly as signed."""
    signatures: tuple[Signature, ...]
    """At least one signature."""

    def to_json(self) -> dict[str, Any]:
        """The envelope in its JSON form (standard base64)."""
        return {
            "payloadType": self.payload_type,
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "signatures": [
                {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode("ascii")} for s in self.signatures
            ],
        }

    @classmethod
    def from_json(cls, value: Any) -> Envelope:
        """Decode and check the shape; raises EnvelopeError naming the problem."""
        if not isinstance(value, dict):
            raise EnvelopeError("a DSSE envelope must be a JSON object")
        payload_type = value.get("payloadType")
        if not isinstance(payload_type, str) or not payload_type:
            raise EnvelopeError("payloadType is missing or not a string")
        payload = _b64(value.get("payload"), "payload", MAX_PAYLOAD_BYTES)
        signatures = value.get("signatures")
        if not isinstance(signatures, list) or not signatures:
            raise EnvelopeError("signatures is missing or empty")
        if len(signatures) > MAX_SIGNATURES:
            raise EnvelopeError(f"more than {MAX_SIGNATURES} signatures")
        decoded = []
        for index, entry in enumerate(signatures):
            if not isinstance(entry, dict):
                raise EnvelopeError(f"signatures[{index}] is not an object")
            keyid = entry.get("keyid", "")
            if not isinstance(keyid, str):
                raise EnvelopeError(f"signatures[{index}].keyid is not a string")
            decoded.append(Signature(keyid, _b64(entry.get("sig"), f"signatures[{index}].sig", 16 * 1024)))
        return cls(payload_type, payload, tuple(decoded))


def _b64(value: Any, name: str, limit: int) -> bytes:
    """Standard or URL-safe base64, padded or not (the DSSE spec allows both)."""
    if not isinstance(value, str):
        raise EnvelopeError(f"{name} is missing or not a string")
    if len(value) > (limit * 4) // 3 + 8:
        raise EnvelopeError(f"{name} is larger than the limit of {limit} bytes")
    text = value.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError(f"{name} is not valid base64") from None


def sign(payload_type: str, payload: bytes, key: SigningKey) -> Envelope:
    """An envelope over *payload* with one signature by *key*."""
    return Envelope(payload_type, payload, (Signature(key.keyid, key.sign(pae(payload_type, payload))),))


def verify(envelope: Envelope, key: VerifyKey) -> Signature | None:
    """The first signature that *key* verifies over the envelope's PAE, or None.

    Every signature is tried whatever its keyid says: key ids are hints,
    and third-party envelopes use their own schemes (``keystore://...``).
    """
    message = pae(envelope.payload_type, envelope.payload)
    for signature in envelope.signatures:
        if key.verify(signature.sig, message):
            return signature
    return None
