"""Provenance (stage 4): verify a signature over the model, offline; record the signer.

Two kinds of signature are understood:

- an OpenSSF model-signing signature (a Sigstore bundle whose DSSE payload
  is an in-toto statement with predicate ``https://model_signing/signature/v1.0``)
  over a file or a directory, signed with Sigstore (keyless), a key
  (``--public-key``) or a certificate (``--certificate``);
- a plain Sigstore bundle over a single file (``message_signature``).

Sigstore bundles verify against the production trust root embedded in
sigstore-python (offline, no network), or ``--trusted-root FILE``. The
collector first reads the signer (certificate identity and OIDC issuer, or
the public key's sha256) and then checks the signature cryptographically
*for that signer*; whether the signer is acceptable is the policy's call.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from gate.errors import InputError
from gate.evidence.artifact import text
from gate.evidence.interface import Collection

MAX_SIGNATURE_BYTES = 16 * 1024 * 1024
MODEL_SIGNING_PREDICATE = "https://model_signing/signature/v1.0"
_OIDC_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
_OIDC_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SIGNATURE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what}: {exc.strerror}") from None
    if len(data) > MAX_SIGNATURE_BYTES:
        raise InputError(f"{path}: the {what} is larger than {MAX_SIGNATURE_BYTES} bytes")
    return data


def certificate_signer(cert: Any) -> tuple[str, str]:
    """(identity, OIDC issuer) of a Fulcio certificate (cryptography x509 object)."""
    from cryptography import x509

    identity = ""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [
            *san.get_values_for_type(x509.RFC822Name),
            *san.get_values_for_type(x509.UniformResourceIdentifier),
        ]
        identity = names[0] if names else ""
    except x509.ExtensionNotFound:
        identity = ""
    issuer = ""
    for ext in cert.extensions:
        oid = ext.oid.dotted_string
        if oid == _OIDC_ISSUER_V2:
            raw = ext.value.value
            # DER UTF8String: tag 0x0c, a length, then the text.
            if raw[:1] == b"\x0c" and len(raw) > 2:
                skip = 2 if raw[1] < 0x80 else 2 + (raw[1] & 0x7F)
                issuer = raw[skip:].decode("utf-8", "replace")
        elif oid == _OIDC_ISSUER_V1 and not issuer:
            issuer = ext.value.value.decode("utf-8", "replace")
    return identity, issuer


def _sigstore_verifier(trusted_root: str | None) -> Any:
    from sigstore.verify import Verifier

    if trusted_root:
        from sigstore.models import TrustedRoot

        try:
            root = TrustedRoot.from_file(trusted_root)
        except Exception as exc:
            raise InputError(f"{trusted_root}: not a Sigstore trusted root: {exc}") from None
        return Verifier(trusted_root=root)
    return Verifier.production(offline=True)


def _hashing_config(serialization: dict[str, Any], model: Path, signature: Path) -> Any:
    from model_signing import hashing

    ignore = list(serialization.get("ignore_paths", []))
    method = serialization.get("method")
    if method == "files":
        config = hashing.Config().use_file_serialization(  # type: ignore[no-untyped-call]
            hashing_algorithm=serialization["hash_type"],
            allow_symlinks=bool(serialization.get("allow_symlinks", False)),
        )
    elif method == "shards":
        config = hashing.Config().use_shard_serialization(  # type: ignore[no-untyped-call]
            hashing_algorithm=serialization["hash_type"],
            shard_size=int(serialization["shard_size"]),
            allow_symlinks=bool(serialization.get("allow_symlinks", False)),
        )
    else:
        raise ValueError(f"unknown model-signing serialization {method!r}")
    if model.is_dir():
        config.add_ignored_paths(model_path=model, paths=ignore)
        with contextlib.suppress(ValueError):  # ValueError: the signature lives outside the model
            config.add_ignored_paths(
                model_path=model, paths=[signature.resolve().relative_to(model.resolve())]
            )
    return config


def _check_manifest(payload: bytes, model: Path, signature: Path) -> None:
    """The signed manifest must equal the model's own (every file, no extra)."""
    from model_signing._signing.signing import dsse_payload_to_manifest

    statement = json.loads(payload)
    if statement.get("predicateType") != MODEL_SIGNING_PREDICATE:
        raise ValueError(f"predicate type {statement.get('predicateType')!r} is not model signing")
    expected = dsse_payload_to_manifest(statement)
    actual = _hashing_config(expected.serialization_type, model, signature).hash(model)
    if actual != expected:
        want = {rd.identifier: rd.digest for rd in expected.resource_descriptors()}
        have = {rd.identifier: rd.digest for rd in actual.resource_descriptors()}
        changed = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
        raise ValueError(f"the model does not match the signed manifest: {', '.join(changed[:10])}")


def _verify_sigstore(request: Any, artifact: dict[str, Any], data: bytes, section: dict[str, Any]) -> None:
    from sigstore.models import Bundle
    from sigstore.verify.policy import Identity

    bundle = Bundle.from_json(data)
    identity, issuer = certificate_signer(bundle.signing_certificate)
    section.update(mode="sigstore", identity=text(identity, 2048), issuer=text(issuer, 2048))
    verifier = _sigstore_verifier(request.trusted_root)
    policy = Identity(identity=identity, issuer=issuer)
    model = Path(request.path)
    if bundle._dsse_envelope is not None:  # model signing: DSSE over an in-toto manifest
        section["method"] = "model-signing"
        payload_type, payload = verifier.verify_dsse(bundle, policy)
        if payload_type != "application/vnd.in-toto+json":
            raise ValueError(f"DSSE payload type {payload_type!r} is not in-toto")
        _check_manifest(payload, model, Path(request.signature))
        return
    section["method"] = "sigstore-bundle"
    if artifact.get("kind") != "file" or not str(artifact.get("digest", "")).startswith("sha256:"):
        raise ValueError("a plain Sigstore bundle signs one file; this artifact is a directory")
    from sigstore.hashes import Hashed
    from sigstore_models.common.v1 import HashAlgorithm

    digest = bytes.fromhex(artifact["digest"].removeprefix("sha256:"))
    verifier.verify_artifact(Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest), bundle, policy)


def _verify_key(request: Any, section: dict[str, Any]) -> None:
    import model_signing

    pem = _read(request.public_key, "public key")
    section.update(mode="key", key_sha256=hashlib.sha256(pem).hexdigest())
    config = model_signing.verifying.Config().use_elliptic_key_verifier(public_key=request.public_key)  # type: ignore[no-untyped-call]
    config.verify(request.path, request.signature)


def _verify_certificate(request: Any, section: dict[str, Any]) -> None:
    import model_signing
    from cryptography import x509

    chain = _read(request.certificate, "certificate chain")
    try:
        first = x509.load_pem_x509_certificates(chain)[0]
        section["issuer"] = text(first.subject.rfc4514_string(), 2048)
    except ValueError as exc:
        raise InputError(f"{request.certificate}: not a PEM certificate chain: {exc}") from None
    section["mode"] = "certificate"
    signature = json.loads(_read(request.signature, "signature"))
    leaf_der = (
        signature.get("verificationMaterial", {}).get("x509CertificateChain", {}).get("certificates", [{}])
    )
    if leaf_der and leaf_der[0].get("rawBytes"):
        import base64

        leaf = x509.load_der_x509_certificate(base64.b64decode(leaf_der[0]["rawBytes"]))
        identity, _ = certificate_signer(leaf)
        section["identity"] = text(identity or leaf.subject.rfc4514_string(), 2048)
    config = model_signing.verifying.Config().use_certificate_verifier(  # type: ignore[no-untyped-call]
        certificate_chain=[request.certificate]
    )
    config.verify(request.path, request.signature)


def verify(request: Any, artifact: dict[str, Any], collection: Collection) -> dict[str, Any]:
    """The ``evidence.provenance`` section for ``request.signature``."""
    data = _read(request.signature, "signature")
    section: dict[str, Any] = {"method": "model-signing", "signature_file": text(request.signature, 4096)}
    try:
        if request.public_key:
            _verify_key(request, section)
        elif request.certificate:
            _verify_certificate(request, section)
        else:
            _verify_sigstore(request, artifact, data, section)
    except InputError:
        raise
    except Exception as exc:  # any failure to verify is evidence, never a pass
        section["verified"] = False
        section["error"] = collection.error("provenance", text(f"{type(exc).__name__}: {exc}", 2048))
        return section
    section["verified"] = True
    return section
