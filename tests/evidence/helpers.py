"""Shared by the evidence tests: fixture paths, OCI/cosign builders, policy runs."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate import schemas
from gate.decide import Decider
from gate.engine.interface import JsonDocument
from gate.evidence.signatures import DSSE_ENVELOPE, IN_TOTO, SIMPLE_SIGNING, pae
from tests.helpers import good_input

ROOT = Path(__file__).resolve().parents[2]
THIRDPARTY = ROOT / "fixtures" / "thirdparty"

ENGINES = ("regorus", "opa")


def digest_of(data: bytes) -> str:
    """``sha256:<hex>`` of *data*."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(value: Any) -> bytes:
    """Compact JSON bytes, the way registries store manifests."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


class Store:
    """Digest -> bytes, as the OCI pipeline hands them to the evidence modules."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        digest = digest_of(data)
        self.blobs[digest] = data
        return digest

    def manifest(
        self,
        layers: list[tuple[str, bytes, dict[str, str]]],
        *,
        artifact_type: str = "",
        subject: str = "",
        config_media_type: str = "application/vnd.oci.image.config.v1+json",
    ) -> str:
        """Store an OCI image manifest over *layers* (media type, blob, annotations)."""
        config = b"{}"
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": config_media_type, "digest": self.put(config), "size": len(config)},
            "layers": [
                {"mediaType": mt, "digest": self.put(blob), "size": len(blob), "annotations": ann}
                for mt, blob, ann in layers
            ],
        }
        if artifact_type:
            doc["artifactType"] = artifact_type
        if subject:
            doc["subject"] = {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": subject,
                "size": 1,
            }
        return self.put(canonical(doc))

    def descriptor(self, digest: str, artifact_type: str = "") -> dict[str, Any]:
        """A referrers-index entry for the stored manifest *digest*."""
        out: dict[str, Any] = {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
            "size": len(self.blobs[digest]),
        }
        if artifact_type:
            out["artifactType"] = artifact_type
        return out


def new_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 key, as ``cosign generate-key-pair`` makes."""
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def simple_signing(digest: str, reference: str = "registry.local/nim/model") -> bytes:
    """The payload ``cosign sign`` signs for *digest*."""
    return canonical(
        {
            "critical": {
                "identity": {"docker-reference": reference},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    )


def cosign_sig_layer(
    key: ec.EllipticCurvePrivateKey, payload: bytes, *, signature: bytes | None = None
) -> tuple[str, bytes, dict[str, str]]:
    """A ``.sig`` manifest layer as ``cosign sign --key`` writes it (no tlog upload)."""
    sig = signature if signature is not None else key.sign(payload, ec.ECDSA(hashes.SHA256()))
    return (SIMPLE_SIGNING, payload, {"dev.cosignproject.cosign/signature": base64.b64encode(sig).decode()})


def statement(subject_digest: str, predicate_type: str, predicate: Any, version: str = "v1") -> bytes:
    """An in-toto Statement about *subject_digest*."""
    return canonical(
        {
            "_type": f"https://in-toto.io/Statement/{version}",
            "subject": [{"name": "registry.local/nim/model", "digest": {"sha256": subject_digest[7:]}}],
            "predicateType": predicate_type,
            "predicate": predicate,
        }
    )


def dsse_envelope(key: ec.EllipticCurvePrivateKey, payload: bytes, payload_type: str = IN_TOTO) -> bytes:
    """A DSSE envelope signed with *key*, as ``cosign attest --key`` writes it."""
    sig = key.sign(pae(payload_type, payload), ec.ECDSA(hashes.SHA256()))
    return canonical(
        {
            "payloadType": payload_type,
            "payload": base64.b64encode(payload).decode(),
            "signatures": [{"keyid": "", "sig": base64.b64encode(sig).decode()}],
        }
    )


def att_layer(envelope: bytes, predicate_type: str) -> tuple[str, bytes, dict[str, str]]:
    return (
        DSSE_ENVELOPE,
        envelope,
        {"dev.cosignproject.cosign/signature": "", "predicateType": predicate_type},
    )


def decide_with(
    deciders: dict[str, Decider], digest: str, operator: dict[str, Any] | None = None, **sections: Any
) -> set[str]:
    """Reasons for a passing runtime input whose evidence sections are replaced by *sections*.

    The document must be schema-valid and both engines must agree.
    """
    document = good_input()
    document["evidence"]["registry"]["resolved_digest"] = digest
    document["operator"]["image_ref_pin"] = digest
    document["operator"].update(operator or {})
    for key in ("signature", "sbom", "vulnerabilities"):
        document["evidence"][key] = _redigest(document["evidence"][key], digest)
    for name, value in sections.items():
        document["evidence"][name] = copy.deepcopy(value)
    problems = schemas.problems("input", document)
    assert problems == [], problems
    wrapped = JsonDocument.of(document)
    results = {name: decider.decide(wrapped) for name, decider in deciders.items()}
    assert results["regorus"] == results["opa"]
    return set(results["regorus"]["reasons"])


def _redigest(section: Any, digest: str) -> Any:
    from tests.helpers import DIGEST

    text = json.dumps(section).replace(DIGEST, digest)
    return json.loads(text)
