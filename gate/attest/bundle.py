"""Attestation files: DSSE JSON, Sigstore bundles (v0.3), one per line or alone.

gate writes one envelope per line (the ``.intoto.jsonl`` convention of
SLSA generators): the SLSA VSA first, gate's decision predicate second.
Reading accepts a single JSON document (DSSE or bundle, pretty-printed or
not) or JSON Lines of either.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from gate.attest.dsse import Envelope, EnvelopeError

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
BUNDLE_MEDIA_TYPES = (
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    BUNDLE_MEDIA_TYPE,
)
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_ENVELOPES = 64


class AttestationFileError(ValueError):
    """The file is not a DSSE envelope or Sigstore bundle (the message says why)."""


@dataclass(frozen=True)
class Signed:
    """One envelope read from an attestation file."""

    envelope: Envelope
    """The DSSE envelope."""
    container: str
    """``dsse`` or ``sigstore-bundle``."""
    bundle: dict[str, Any] | None
    """The whole bundle when the envelope came from one."""


def to_bundle(envelope: Envelope, keyid: str) -> dict[str, Any]:
    """A Sigstore bundle v0.3 carrying *envelope*, verified by a public key named by *keyid*.

    Key-signed bundles have no certificate and no transparency-log entry;
    the verifier must be given the public key out of band (``--key``).
    """
    return {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": keyid}, "tlogEntries": []},
        "dsseEnvelope": envelope.to_json(),
    }


def dumps_lines(documents: list[dict[str, Any]]) -> bytes:
    """JSON Lines: one compact document per line."""
    return b"".join(json.dumps(d, separators=(",", ":")).encode("utf-8") + b"\n" for d in documents)


def _one(value: Any, where: str) -> Signed:
    if not isinstance(value, dict):
        raise AttestationFileError(f"{where}: not a JSON object")
    try:
        if "payloadType" in value:
            return Signed(Envelope.from_json(value), "dsse", None)
        media = value.get("mediaType")
        if isinstance(media, str) and media in BUNDLE_MEDIA_TYPES:
            if "dsseEnvelope" not in value:
                raise AttestationFileError(
                    f"{where}: Sigstore bundle signs a message, not a DSSE envelope (no dsseEnvelope)"
                )
            return Signed(Envelope.from_json(value["dsseEnvelope"]), "sigstore-bundle", value)
    except EnvelopeError as exc:
        raise AttestationFileError(f"{where}: {exc}") from None
    raise AttestationFileError(f"{where}: neither a DSSE envelope nor a Sigstore bundle")


def parse_attestations(data: bytes) -> list[Signed]:
    """Every envelope in an attestation file, in file order."""
    if len(data) > MAX_FILE_BYTES:
        raise AttestationFileError(f"larger than the limit of {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AttestationFileError(f"not UTF-8 (byte {exc.start})") from None
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    except RecursionError:
        raise AttestationFileError("nested too deeply") from None
    if whole is not None:
        return [_one(whole, "document")]
    found: list[Signed] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if len(found) >= MAX_ENVELOPES:
            raise AttestationFileError(f"more than {MAX_ENVELOPES} envelopes")
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AttestationFileError(f"line {number}: not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise AttestationFileError(f"line {number}: nested too deeply") from None
        found.append(_one(value, f"line {number}"))
    if not found:
        raise AttestationFileError("empty: no envelope found")
    return found


def payload_json(envelope: Envelope) -> Any:
    """The payload parsed as JSON (raises ValueError when it is not)."""
    return json.loads(envelope.payload.decode("utf-8"))


def b64(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode("ascii")
