"""Cosign and Sigstore signatures for an image digest, verified offline.

gate looks where cosign and Sigstore put signatures (the bytes come from the
OCI pipeline in ``gate/evidence/container.py``, already digest-verified):

- the ``sha256-<hex>.sig`` tag: an OCI manifest whose layers are cosign
  simple-signing payloads (``application/vnd.dev.cosign.simplesigning.v1+json``)
  with the signature, certificate, chain and Rekor bundle in the layer
  annotations (:func:`verify_cosign_layer`);
- Sigstore bundles (v0.1-v0.3) attached to the digest as OCI referrers
  (:func:`verify_bundle`, sigstore-python's verifier).

How each kind is verified, and what is recorded:

- **bundle** (Sigstore bundle referrer): sigstore-python ``Verifier`` against
  the production trust root embedded in sigstore-python (offline: no network)
  or an operator's ``trusted_root.json``. It checks the certificate chain to
  Fulcio at the log's (or a timestamp authority's) verified time, the SCT, the
  Rekor inclusion proof and checkpoint, the signed entry timestamp, the
  signature and the log entry's consistency with the signature.
- **keyless** (cosign ``.sig`` layer with a Fulcio certificate): the Rekor
  signed entry timestamp (SET) in ``dev.sigstore.cosign/bundle`` is verified
  with the trust root's Rekor keys and the log entry body must carry this
  signature, this certificate and the payload's sha256; the certificate must
  chain to the trust root's Fulcio certificates at the SET's integrated time
  (at its own notBefore when there is no verified entry), carry a valid SCT,
  the code-signing EKU and digital-signature key usage; the signature must
  verify over the payload with the certificate's key.
- **key** (cosign ``--key cosign.pub``): the signature verifies with one of
  the operator's public keys (ECDSA P-256/P-384, Ed25519, RSA); a Rekor SET,
  when present, is verified as above.

Verification is cryptographic first; identity and issuer are compared only
afterwards, so a signature that verifies but was made by someone else is
recorded as verified with its real identity, and the policy reports
``wrong_identity`` / ``wrong_issuer``. Identity and issuer match exactly;
``identity_regexp`` / ``issuer_regexp`` (anchored, full match) are used only
when given, and the section says which comparison was used. Every candidate
that is not the recorded one lands in ``rejected`` with one sentence why.

The transparency-log record (``tlog``): ``reachable`` is true when a log
entry for the recorded signature verified against the trust root's log keys
(from the bundle's inclusion proof / SET: the log's own signed evidence);
``consulted`` is always false here, because gate never queries Rekor online.
``integrated_time`` and ``log_index`` come only from a verified entry.
``signed_timestamp`` is the earliest verified RFC 3161 timestamp-authority
time of a bundle (Rekor v2 bundles carry no integrated time); the policy
accepts either as the anchor of a short-lived certificate.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gate.evidence.interface import Collection

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.x509 import Certificate
    from sigstore.models import TrustedRoot

COLLECTOR = "signature"

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_ENVELOPE = "application/vnd.dsse.envelope.v1+json"
IN_TOTO = "application/vnd.in-toto+json"
BUNDLE_MEDIA_PREFIX = "application/vnd.dev.sigstore.bundle"
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"

ANN_SIGNATURE = "dev.cosignproject.cosign/signature"
ANN_CERTIFICATE = "dev.sigstore.cosign/certificate"
ANN_CHAIN = "dev.sigstore.cosign/chain"
ANN_BUNDLE = "dev.sigstore.cosign/bundle"

MAX_CANDIDATES = 64
"""At most this many candidates per place (sig tag layers, referrers) are examined."""
MAX_PAYLOAD = 16 * 1024 * 1024
MAX_ANNOTATION = 256 * 1024
_TEXT = 2048
_REASON = 512

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_OIDC_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"
_OIDC_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
_OTHERNAME_SAN = "1.3.6.1.4.1.57264.1.7"


class Rejected(Exception):
    """A candidate that does not verify; the message is one sentence."""


@dataclass(frozen=True)
class SignatureOptions:
    """What the operator expects, and what to trust."""

    identity: str = ""
    """Expected certificate identity (SAN), matched exactly."""
    issuer: str = ""
    """Expected OIDC issuer, matched exactly."""
    identity_regexp: str = ""
    """When set, the identity must fully match this regular expression instead."""
    issuer_regexp: str = ""
    """When set, the issuer must fully match this regular expression instead."""
    trusted_root: Path | None = None
    """A Sigstore ``trusted_root.json`` (private or air-gapped Sigstore); None: production."""
    keys: tuple[bytes, ...] = ()
    """PEM public keys for key-based cosign signatures (``--key cosign.pub``) and managed-key bundles."""
    reference: str = ""
    """The image reference that was asked for (recorded beside a payload's docker-reference)."""
    pki_roots: tuple[bytes, ...] = ()
    """PEM root certificates of a private PKI (profile ``container.private_pki.roots``)."""
    pki_intermediates: tuple[bytes, ...] = ()
    """PEM intermediate certificates of that PKI (``container.private_pki.intermediates``)."""


@dataclass
class Verified:
    """One candidate that verified cryptographically, and what it showed."""

    method: str
    """keyless, key, pki or bundle."""
    source: str
    """Where it was found, e.g. ``sig-tag sha256:...`` or ``referrer sha256:...``."""
    identity: str = ""
    identities: tuple[str, ...] = ()
    issuer: str = ""
    cert_not_before: str = ""
    cert_not_after: str = ""
    key_sha256: str = ""
    """For key-based signatures: sha256 of the public key (DER SubjectPublicKeyInfo)."""
    signed_timestamp: str = ""
    """Earliest verified RFC 3161 timestamp-authority time over the signature (bundles)."""
    tlog: dict[str, Any] = field(default_factory=dict)
    payload_type: str = ""
    payload: bytes = b""
    """The signed payload (simple-signing JSON or the DSSE payload)."""
    signature: bytes = b""
    """The signature that verified."""


# ---------------------------------------------------------------- trust root


PRODUCTION = "production"


@functools.lru_cache(maxsize=8)
def _trusted_root(path: str) -> TrustedRoot:
    from sigstore.models import TrustedRoot

    if path:
        return TrustedRoot.from_file(path)
    return TrustedRoot.from_file(str(embedded_trusted_root(PRODUCTION)))


def embedded_trusted_root(instance: str = PRODUCTION) -> Path:
    """The ``trusted_root.json`` shipped inside sigstore-python (production or staging).

    Read straight from the installed package, not from the TUF cache in the
    user's home: nothing is written, nothing is fetched, and a stale or
    edited cache cannot change what gate trusts.
    """
    from importlib import resources

    from sigstore._internal.tuf import DEFAULT_TUF_URL, STAGING_TUF_URL

    url = DEFAULT_TUF_URL if instance == PRODUCTION else STAGING_TUF_URL
    folder = resources.files("sigstore._store").joinpath(url.replace(":", "%3A").replace("/", "%2F"))
    return Path(str(folder.joinpath("trusted_root.json")))


def trusted_root(options: SignatureOptions) -> TrustedRoot:
    """The Sigstore trust root in force (loaded once per process and path)."""
    try:
        return _trusted_root(str(options.trusted_root or ""))
    except Exception as exc:
        where = options.trusted_root or "the production trust root"
        raise Rejected(f"cannot load {where}: {_short(exc)}") from None


@functools.lru_cache(maxsize=8)
def _verifier(path: str) -> Any:
    from sigstore.verify import Verifier

    return Verifier(trusted_root=_trusted_root(path))


# ---------------------------------------------------------------- helpers


def _short(exc: BaseException | str) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:_REASON]


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(text: str, what: str) -> bytes:
    """Standard base64, decoded as Go's ``encoding/base64`` StdEncoding does (what cosign uses).

    Go skips carriage returns and newlines anywhere in the input, so a
    value wrapped at 64 or 76 columns (``base64`` without ``-w0``, MIME
    tools, many BYO-PKI scripts) is what cosign accepts; anything else
    outside the alphabet, or wrong padding, is refused as before.
    """
    try:
        return base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        raise Rejected(f"{what} is not valid base64") from None


def b64(text: str, what: str) -> bytes:
    """Public alias of the Go-compatible base64 decoder (for the sibling evidence modules)."""
    return _b64(text, what)


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cert_identities(cert: Certificate) -> tuple[str, ...]:
    """Every identity in the certificate's SAN (emails, URIs, Sigstore other names)."""
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    values: list[str] = []
    values.extend(san.get_values_for_type(x509.UniformResourceIdentifier))
    values.extend(san.get_values_for_type(x509.RFC822Name))
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id.dotted_string == _OTHERNAME_SAN:
            values.append(_der_utf8(other.value))
    return tuple(v[:_TEXT] for v in values)


def cert_issuer(cert: Certificate) -> str:
    """The OIDC issuer Fulcio recorded (v1 raw extension, else the v2 DER string)."""
    from cryptography import x509

    for oid, der in ((_OIDC_ISSUER_V1, False), (_OIDC_ISSUER_V2, True)):
        try:
            ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid)).value
        except x509.ExtensionNotFound:
            continue
        raw = getattr(ext, "value", b"")
        if not isinstance(raw, bytes):
            continue
        return (_der_utf8(raw) if der else raw.decode("utf-8", "replace"))[:_TEXT]
    return ""


def _der_utf8(raw: bytes) -> str:
    """A DER UTF8String (tag 0x0c) as text; raw bytes decoded if it is not one."""
    if len(raw) >= 2 and raw[0] == 0x0C:
        length = raw[1]
        offset = 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(raw[2 : 2 + count], "big")
            offset = 2 + count
        return raw[offset : offset + length].decode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def identity_problem(found: Verified, options: SignatureOptions) -> str:
    """Empty when *found* carries the expected identity and issuer, else one sentence why not."""
    if found.method == "key":
        return ""
    if options.identity_regexp:
        pattern = _compile(options.identity_regexp, "identity")
        if not any(pattern.fullmatch(i) for i in found.identities):
            return f"signer identity {found.identity!r} does not fully match {options.identity_regexp!r}"
    elif options.identity not in found.identities or not options.identity:
        return f"signer identity {found.identity!r} is not the expected {options.identity!r}"
    if found.method == "pki":
        return ""  # a private-PKI certificate carries no OIDC issuer
    if options.issuer_regexp:
        if not _compile(options.issuer_regexp, "issuer").fullmatch(found.issuer):
            return f"OIDC issuer {found.issuer!r} does not fully match {options.issuer_regexp!r}"
    elif found.issuer != options.issuer or not options.issuer:
        return f"OIDC issuer {found.issuer!r} is not the expected {options.issuer!r}"
    return ""


def check_options(options: SignatureOptions) -> None:
    """Raise :class:`Rejected` when a regular expression in *options* does not compile."""
    if options.identity_regexp:
        _compile(options.identity_regexp, "identity")
    if options.issuer_regexp:
        _compile(options.issuer_regexp, "issuer")


@functools.lru_cache(maxsize=32)
def _compile(pattern: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise Rejected(f"the {what} regular expression {pattern!r} is invalid: {exc}") from None


def _pick_identity(identities: tuple[str, ...], options: SignatureOptions) -> str:
    for value in identities:
        if options.identity_regexp:
            try:
                if _compile(options.identity_regexp, "identity").fullmatch(value):
                    return value
            except Rejected:
                break
        elif value == options.identity:
            return value
    return identities[0] if identities else ""


def _with_cert(found: Verified, cert: Certificate, options: SignatureOptions) -> Verified:
    found.identities = cert_identities(cert)
    found.identity = _pick_identity(found.identities, options)
    found.issuer = cert_issuer(cert)
    found.cert_not_before = _rfc3339(cert.not_valid_before_utc)
    found.cert_not_after = _rfc3339(cert.not_valid_after_utc)
    return found


# ---------------------------------------------------------------- Sigstore bundles


class _AnyCertificate:
    """A sigstore verification policy that accepts any identity.

    Everything else (chain, SCT, log, signature) is still verified; gate
    compares identity and issuer itself afterwards (:func:`identity_problem`)
    so that a valid signature by the wrong signer is recorded as such.
    """

    def verify(self, cert: Certificate) -> None:
        return None


def verify_bundle(
    bundle_json: bytes,
    options: SignatureOptions,
    *,
    artifact: bytes | None = None,
    digest: str = "",
    source: str = "bundle",
) -> Verified:
    """Verify a Sigstore bundle cryptographically (identity is compared by the caller).

    A message-signature bundle is verified over *artifact* bytes or, for an
    image, over the pre-hashed *digest* (``sha256:<hex>``); a DSSE bundle
    returns its verified payload (the caller checks the statement subject).
    Raises :class:`Rejected` with one sentence on any failure.
    """
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle

    if len(bundle_json) > MAX_PAYLOAD:
        raise Rejected(f"the bundle is larger than {MAX_PAYLOAD} bytes")
    from gate.evidence.managed_key import is_managed_key_bundle, verify_managed_key_bundle

    if is_managed_key_bundle(bundle_json):
        return verify_managed_key_bundle(
            bundle_json, options, artifact=artifact, digest=digest, source=source
        )
    try:
        bundle = Bundle.from_json(bundle_json)
    except (SigstoreError, ValueError) as exc:
        raise Rejected(f"the bundle does not load: {_short(exc)}") from None
    except Exception as exc:  # certificate parsing raises its own families (duplicate or missing extensions)
        raise Rejected(f"the bundle does not load: {type(exc).__name__}: {_short(exc)}") from None
    try:
        trusted_root(options)
        verifier = _verifier(str(options.trusted_root or ""))
    except Rejected:
        raise
    except Exception as exc:
        raise Rejected(f"cannot build a verifier for the trust root: {_short(exc)}") from None
    found = Verified(method="bundle", source=source)
    try:
        if bundle._dsse_envelope is not None:
            payload_type, payload = verifier.verify_dsse(bundle, _AnyCertificate())
            found.payload_type, found.payload = payload_type, payload
        else:
            if artifact is not None:
                verifier.verify_artifact(artifact, bundle, _AnyCertificate())
            elif _DIGEST.fullmatch(digest):
                from sigstore.hashes import Hashed
                from sigstore_models.common.v1 import HashAlgorithm

                hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(digest[7:]))
                verifier.verify_artifact(hashed, bundle, _AnyCertificate())
            else:
                raise Rejected("a message-signature bundle needs the signed artifact or digest")
    except Rejected:
        raise
    except Exception as exc:  # sigstore raises several families; all mean "does not verify"
        raise Rejected(f"the bundle does not verify: {_short(exc)}") from None
    _with_cert(found, bundle.signing_certificate, options)
    entry = bundle.log_entry._inner
    found.tlog = {"reachable": True, "consulted": False, "log_index": int(entry.log_index)}
    if entry.integrated_time:
        found.tlog["integrated_time"] = _rfc3339(
            datetime.fromtimestamp(int(entry.integrated_time), tz=timezone.utc)
        )
    found.signed_timestamp = _tsa_time(verifier, bundle)
    return found


def _tsa_time(verifier: Any, bundle: Any) -> str:
    """The earliest verified timestamp-authority time in *bundle*, or "".

    Called only after the bundle verified (sigstore-python then checked these
    times against the certificate's validity); the responses are verified
    again here against the trust root's timestamp authorities.
    """
    data = bundle.verification_material.timestamp_verification_data
    if data is None or not data.rfc3161_timestamps:
        return ""
    try:
        results = verifier._verify_timestamp_authority(bundle)
    except Exception:
        return ""
    times = [r.time for r in results]
    return _rfc3339(min(times)) if times else ""


# ---------------------------------------------------------------- cosign layers


def verify_cosign_layer(
    payload: bytes,
    annotations: Mapping[str, str],
    options: SignatureOptions,
    *,
    media_type: str = SIMPLE_SIGNING,
    source: str = "sig-tag",
) -> Verified:
    """Verify one cosign ``.sig`` (simple-signing) or ``.att`` (DSSE) layer.

    *payload* is the layer blob. Keyless when the layer carries a
    certificate, otherwise key-based against ``options.keys``. Raises
    :class:`Rejected` with one sentence on any failure.
    """
    if len(payload) > MAX_PAYLOAD:
        raise Rejected(f"the layer is larger than {MAX_PAYLOAD} bytes")
    dsse = media_type == DSSE_ENVELOPE
    if dsse:
        payload_type, body, signatures = parse_dsse(payload)
        signed = pae(payload_type, body)
        candidates = signatures
    else:
        payload_type, body = SIMPLE_SIGNING, payload
        signed = payload
        text = annotations.get(ANN_SIGNATURE, "")
        if not text:
            raise Rejected("the layer has no dev.cosignproject.cosign/signature annotation")
        candidates = [_b64(text[:MAX_ANNOTATION], "the signature annotation")]
    cert_pem = annotations.get(ANN_CERTIFICATE, "")
    if cert_pem:
        found = _verify_certificate(signed, candidates, cert_pem, annotations, options, source)
    else:
        found = _verify_with_keys(signed, candidates, options, source)
        found.tlog = _key_tlog(annotations, found, signed, options)
    found.payload_type, found.payload = payload_type, body
    return found


def parse_dsse(envelope: bytes) -> tuple[str, bytes, list[bytes]]:
    """(payloadType, payload, signatures) of a DSSE envelope; :class:`Rejected` if malformed."""
    try:
        doc = json.loads(envelope)
    except (ValueError, RecursionError):
        raise Rejected("the DSSE envelope is not JSON") from None
    if not isinstance(doc, dict):
        raise Rejected("the DSSE envelope is not a JSON object")
    payload_type = doc.get("payloadType")
    payload = doc.get("payload")
    sigs = doc.get("signatures")
    if not isinstance(payload_type, str) or not isinstance(payload, str) or not isinstance(sigs, list):
        raise Rejected("the DSSE envelope lacks payloadType, payload or signatures")
    signatures = [
        _b64(s["sig"], "a DSSE signature")
        for s in sigs[:MAX_CANDIDATES]
        if isinstance(s, dict) and isinstance(s.get("sig"), str) and s["sig"]
    ]
    if not signatures:
        raise Rejected("the DSSE envelope has no signature")
    return payload_type, _b64(payload, "the DSSE payload"), signatures


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: what a DSSE signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def verify_dsse_with_keys(envelope: bytes, options: SignatureOptions, source: str = "dsse") -> Verified:
    """Verify a bare DSSE envelope with the operator's public keys."""
    payload_type, body, signatures = parse_dsse(envelope)
    found = _verify_with_keys(pae(payload_type, body), signatures, options, source)
    found.payload_type, found.payload = payload_type, body
    found.tlog = {
        "reachable": False,
        "consulted": False,
        "error": "the envelope carries no transparency-log entry",
    }
    return found


def _load_keys(options: SignatureOptions) -> list[Any]:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    keys = []
    for pem in options.keys:
        try:
            keys.append(load_pem_public_key(pem))
        except (ValueError, TypeError) as exc:
            raise Rejected(f"a --key public key does not load: {_short(exc)}") from None
    return keys


def key_digests(pems: Sequence[bytes]) -> list[str]:
    """sha256 (DER SubjectPublicKeyInfo) of each PEM public key in *pems* that loads."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    out = []
    for pem in pems:
        try:
            out.append(_key_sha256(load_pem_public_key(pem)))
        except (ValueError, TypeError):
            continue
    return out


def _key_sha256(key: Any) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + _sha256_hex(der)


def _signature_ok(key: Any, signature: bytes, data: bytes) -> bool:
    """True when *signature* over *data* verifies with *key* (cosign's algorithms)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            algorithm: hashes.HashAlgorithm = {
                256: hashes.SHA256(),
                384: hashes.SHA384(),
                521: hashes.SHA512(),
            }.get(key.curve.key_size, hashes.SHA256())
            half = (key.curve.key_size + 7) // 8
            if len(signature) == 2 * half and signature[0] != 0x30:
                # Raw r||s (some DSSE signers) rather than DER.
                r = int.from_bytes(signature[:half], "big")
                s = int.from_bytes(signature[half:], "big")
                signature = encode_dss_signature(r, s)
            key.verify(signature, data, ec.ECDSA(algorithm))
            return True
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
            return True
        if isinstance(key, rsa.RSAPublicKey):
            for pad in (
                padding.PKCS1v15(),
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
            ):
                try:
                    key.verify(signature, data, pad, hashes.SHA256())
                    return True
                except InvalidSignature:
                    continue
            return False
    except (InvalidSignature, ValueError):
        return False
    return False


def _verify_with_keys(
    signed: bytes, signatures: Sequence[bytes], options: SignatureOptions, source: str
) -> Verified:
    keys = _load_keys(options)
    if not keys:
        raise Rejected("the signature has no certificate and no --key public key was given")
    for key in keys:
        for signature in signatures:
            if _signature_ok(key, signature, signed):
                return Verified(method="key", source=source, key_sha256=_key_sha256(key), signature=signature)
    raise Rejected("the signature does not verify with any of the given public keys")


def _verify_certificate(
    signed: bytes,
    signatures: Sequence[bytes],
    cert_pem: str,
    annotations: Mapping[str, str],
    options: SignatureOptions,
    source: str,
) -> Verified:
    """A key-in-certificate signature: Fulcio (keyless) first, else the profile's private PKI."""
    if not options.pki_roots:
        return _verify_keyless(signed, signatures, cert_pem, annotations, options, source)
    from gate.evidence.private_pki import verify_pki_certificate

    try:
        return _verify_keyless(signed, signatures, cert_pem, annotations, options, source)
    except Rejected as fulcio:
        try:
            return verify_pki_certificate(signed, signatures, cert_pem, annotations, options, source)
        except Rejected as pki:
            raise Rejected(f"{pki} (nor is it a Fulcio certificate: {fulcio})") from None


def _verify_keyless(
    signed: bytes,
    signatures: Sequence[bytes],
    cert_pem: str,
    annotations: Mapping[str, str],
    options: SignatureOptions,
    source: str,
) -> Verified:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_pem[:MAX_ANNOTATION].encode())
    except ValueError as exc:
        raise Rejected(f"the certificate annotation does not load: {_short(exc)}") from None
    key = cert.public_key()
    signature = next((s for s in signatures if _signature_ok(key, s, signed)), None)
    if signature is None:
        raise Rejected("the signature does not verify with the certificate's public key")
    root = trusted_root(options)
    found = Verified(method="keyless", source=source, signature=signature)
    _with_cert(found, cert, options)
    bundle_text = annotations.get(ANN_BUNDLE, "")
    integrated: datetime | None = None
    if bundle_text:
        entry = _verify_set(bundle_text, root)
        _check_entry_body(entry["body"], signature, cert_pem_der(cert), None, signed, annotations)
        integrated = datetime.fromtimestamp(entry["integrated_time"], tz=timezone.utc)
        found.tlog = {
            "reachable": True,
            "consulted": False,
            "log_index": entry["log_index"],
            "integrated_time": _rfc3339(integrated),
        }
    else:
        found.tlog = {
            "reachable": False,
            "consulted": False,
            "error": "the signature carries no transparency-log entry (no Rekor bundle annotation)",
        }
    _verify_fulcio_chain(cert, root, integrated or cert.not_valid_before_utc)
    return found


def cert_pem_der(cert: Certificate) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.DER)


def _verify_fulcio_chain(cert: Certificate, root: TrustedRoot, when: datetime) -> None:
    """Chain *cert* to the trust root's Fulcio certificates at *when*, check SCT and usages."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from cryptography.x509.verification import (
        Criticality,
        ExtensionPolicy,
        PolicyBuilder,
        Store,
    )
    from sigstore._internal.sct import verify_sct
    from sigstore._internal.trust import KeyringPurpose

    ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None
    )
    ee_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None
    )
    try:
        verifier = (
            PolicyBuilder()
            .store(Store(root.get_fulcio_certs()))
            .time(when)
            .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
            .build_client_verifier()
        )
        chain = verifier.verify(cert, []).chain[1:]
    except Exception as exc:
        raise Rejected(
            f"the certificate does not chain to the trusted Fulcio roots at {_rfc3339(when)}: {_short(exc)}"
        ) from None
    try:
        verify_sct(cert, list(chain), root.ct_keyring(KeyringPurpose.VERIFY))
    except Exception as exc:
        raise Rejected(f"the certificate's SCT does not verify: {_short(exc)}") from None
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        extended = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise Rejected("the certificate lacks key usage or extended key usage") from None
    if not usage.digital_signature or ExtendedKeyUsageOID.CODE_SIGNING not in extended:
        raise Rejected("the certificate is not a code-signing certificate")


def _verify_set(bundle_text: str, root: TrustedRoot) -> dict[str, Any]:
    """Verify cosign's Rekor bundle annotation (SET); the entry's parts."""
    import rfc8785
    from sigstore._internal.trust import KeyringPurpose
    from sigstore._utils import KeyID

    try:
        doc = json.loads(bundle_text[:MAX_ANNOTATION])
        payload = doc["Payload"]
        body_b64 = payload["body"]
        integrated = payload["integratedTime"]
        log_index = payload["logIndex"]
        log_id = payload["logID"]
        set_b64 = doc["SignedEntryTimestamp"]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise Rejected("the Rekor bundle annotation is not a cosign Rekor bundle") from None
    if not (
        isinstance(body_b64, str)
        and isinstance(integrated, int)
        and isinstance(log_index, int)
        and isinstance(log_id, str)
        and isinstance(set_b64, str)
        and integrated >= 0
        and log_index >= 0
    ):
        raise Rejected("the Rekor bundle annotation has fields of the wrong type")
    canonical = rfc8785.dumps(
        {"body": body_b64, "integratedTime": integrated, "logID": log_id, "logIndex": log_index}
    )
    try:
        key_id = KeyID(bytes.fromhex(log_id))
    except ValueError:
        raise Rejected("the Rekor bundle's logID is not hex") from None
    try:
        root.rekor_keyring(KeyringPurpose.VERIFY).verify(
            key_id=key_id, signature=_b64(set_b64, "the SET"), data=canonical
        )
    except Rejected:
        raise
    except Exception:
        raise Rejected("the Rekor signed entry timestamp does not verify with the trusted log keys") from None
    try:
        body = json.loads(_b64(body_b64, "the Rekor entry body"))
    except (ValueError, RecursionError):
        raise Rejected("the Rekor entry body is not JSON") from None
    return {"body": body, "integrated_time": integrated, "log_index": log_index}


def _check_entry_body(
    body: object,
    signature: bytes,
    cert_der: bytes | None,
    key_der: bytes | None,
    signed: bytes,
    annotations: Mapping[str, str],
) -> None:
    """The log entry must be about this signature, this signer and these bytes."""
    if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
        raise Rejected("the Rekor entry body has no spec")
    kind, version, spec = body.get("kind"), body.get("apiVersion"), body["spec"]
    if kind == "hashedrekord" and version == "0.0.1":
        try:
            logged_sig = _b64(spec["signature"]["content"], "the logged signature")
            logged_key = _b64(spec["signature"]["publicKey"]["content"], "the logged key")
            logged_hash = spec["data"]["hash"]["value"]
        except (KeyError, TypeError):
            raise Rejected("the hashedrekord entry lacks signature, key or hash") from None
        if logged_hash != _sha256_hex(signed):
            raise Rejected("the Rekor entry is about other bytes than the signed payload")
        if logged_sig != signature:
            raise Rejected("the Rekor entry records another signature")
        if not _same_signer(logged_key, cert_der, key_der):
            raise Rejected("the Rekor entry records another signer")
        return
    if kind == "dsse" and version == "0.0.1":
        # For DSSE, *signed* is the PAE; the entry records the payload hash.
        try:
            payload_hash = spec["payloadHash"]["value"]
            logged = [
                (_b64(s["signature"], "a logged signature"), _b64(s["verifier"], "a logged verifier"))
                for s in spec["signatures"][:MAX_CANDIDATES]
            ]
        except (KeyError, TypeError):
            raise Rejected("the dsse entry lacks payload hash or signatures") from None
        payload = _pae_payload(signed)
        if payload_hash != _sha256_hex(payload):
            raise Rejected("the Rekor entry is about another DSSE payload")
        if not any(s == signature and _same_signer(v, cert_der, key_der) for s, v in logged):
            raise Rejected("the Rekor entry records another signature or signer")
        return
    raise Rejected(f"unsupported Rekor entry type {kind}/{version}")


def _pae_payload(signed: bytes) -> bytes:
    """The payload inside a DSSE PAE (``DSSEv1 <n> <type> <m> <payload>``)."""
    parts = signed.split(b" ", 3)
    type_len = int(parts[1])
    rest = signed[len(b"DSSEv1 ") + len(parts[1]) + 1 + type_len + 1 :]
    length, _, payload = rest.partition(b" ")
    if int(length) != len(payload):
        raise Rejected("malformed DSSE pre-authentication encoding")
    return payload


def _same_signer(logged_pem: bytes, cert_der: bytes | None, key_der: bytes | None) -> bool:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_pem_public_key,
    )

    if cert_der is not None:
        try:
            return cert_pem_der(x509.load_pem_x509_certificate(logged_pem)) == cert_der
        except ValueError:
            return False
    if key_der is not None:
        try:
            logged = load_pem_public_key(logged_pem)
        except (ValueError, TypeError):
            return False
        return logged.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) == key_der
    return False


def _key_tlog(
    annotations: Mapping[str, str], found: Verified, signed: bytes, options: SignatureOptions
) -> dict[str, Any]:
    """Rekor evidence for a key-based signature: the SET when cosign uploaded one."""
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_pem_public_key,
    )

    bundle_text = annotations.get(ANN_BUNDLE, "")
    if not bundle_text:
        return {
            "reachable": False,
            "consulted": False,
            "error": "the signature carries no transparency-log entry (no Rekor bundle annotation)",
        }
    root = trusted_root(options)
    entry = _verify_set(bundle_text, root)
    key_der = None
    for pem in options.keys:
        key = load_pem_public_key(pem)
        if _key_sha256(key) == found.key_sha256:
            key_der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    _check_entry_body(entry["body"], found.signature, None, key_der, signed, annotations)
    return {
        "reachable": True,
        "consulted": False,
        "log_index": entry["log_index"],
        "integrated_time": _rfc3339(datetime.fromtimestamp(entry["integrated_time"], tz=timezone.utc)),
    }


# ---------------------------------------------------------------- the section


def simple_signing_digest(payload: bytes) -> str:
    """``critical.image.docker-manifest-digest`` of a simple-signing payload; Rejected if absent."""
    try:
        doc = json.loads(payload)
        value = doc["critical"]["image"]["docker-manifest-digest"]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise Rejected("the payload is not a cosign simple-signing document") from None
    if not isinstance(value, str):
        raise Rejected("the payload's docker-manifest-digest is not a string")
    return value[:_TEXT]


def statement_subject_digests(payload: bytes) -> tuple[str, list[str]]:
    """(predicateType, sha256 subject digests) of an in-toto Statement; Rejected if malformed."""
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        raise Rejected("the DSSE payload is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("subject"), list):
        raise Rejected("the DSSE payload is not an in-toto Statement")
    kind = doc.get("_type")
    if kind not in ("https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1"):
        raise Rejected(f"the DSSE payload's _type {str(kind)[:100]!r} is not an in-toto Statement")
    digests = []
    for subject in doc["subject"][:1024]:
        value = subject.get("digest", {}).get("sha256") if isinstance(subject, dict) else None
        if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value):
            digests.append("sha256:" + value)
    predicate_type = doc.get("predicateType")
    return (predicate_type[:_TEXT] if isinstance(predicate_type, str) else ""), digests


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def manifest_layers(fetched: Mapping[str, bytes], digest: str) -> list[tuple[dict[str, Any], bytes | None]]:
    """(descriptor, blob or None) for each layer of the manifest *digest* in *fetched*."""
    body = fetched.get(digest)
    if body is None:
        raise Rejected(f"manifest {digest} was not fetched")
    doc = _json(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list):
        raise Rejected(f"manifest {digest} is not an OCI image manifest")
    out: list[tuple[dict[str, Any], bytes | None]] = []
    for layer in doc["layers"][:MAX_CANDIDATES]:
        if not isinstance(layer, dict) or not isinstance(layer.get("digest"), str):
            continue
        blob = fetched.get(layer["digest"])
        if blob is not None and "sha256:" + _sha256_hex(blob) != layer["digest"]:
            blob = None
        out.append((layer, blob))
    return out


def artifact_type(descriptor: Mapping[str, Any], manifest: Mapping[str, Any] | None) -> str:
    """A referrer's artifact type: the descriptor's, the manifest's, else its config media type."""
    for source in (descriptor, manifest or {}):
        value = source.get("artifactType")
        if isinstance(value, str) and value:
            return value
    config = (manifest or {}).get("config")
    if isinstance(config, dict) and isinstance(config.get("mediaType"), str):
        return str(config["mediaType"])
    return ""


def _annotations(layer: Mapping[str, Any]) -> dict[str, str]:
    raw = layer.get("annotations")
    if not isinstance(raw, dict):
        return {}
    return {str(k): v for k, v in raw.items() if isinstance(v, str)}


def find_signatures(
    subject_digest: str,
    fetched: Mapping[str, bytes],
    options: SignatureOptions,
    *,
    sig_manifests: Sequence[str] = (),
    referrers: Sequence[Mapping[str, Any]] = (),
) -> tuple[list[Verified], list[dict[str, str]]]:
    """Every candidate signature for *subject_digest*: (verified ones, rejected ones)."""
    verified: list[Verified] = []
    rejected: list[dict[str, str]] = []

    def reject(source: str, reason: str) -> None:
        if len(rejected) < 256:
            rejected.append({"source": source[:_TEXT], "reason": _short(reason)})

    for manifest_digest in list(sig_manifests)[:MAX_CANDIDATES]:
        try:
            layers = manifest_layers(fetched, manifest_digest)
        except Rejected as exc:
            reject(f"sig-tag {manifest_digest}", str(exc))
            continue
        for layer, blob in layers:
            source = f"sig-tag {manifest_digest} layer {layer.get('digest')}"
            if layer.get("mediaType") != SIMPLE_SIGNING:
                reject(
                    source, f"layer media type {str(layer.get('mediaType'))[:100]!r} is not simple-signing"
                )
                continue
            if blob is None:
                reject(source, "the layer blob was not fetched or does not match its digest")
                continue
            try:
                named = simple_signing_digest(blob)
                if named != subject_digest:
                    raise Rejected(f"the payload signs {named}, not {subject_digest}")
                verified.append(verify_cosign_layer(blob, _annotations(layer), options, source=source))
            except Rejected as exc:
                reject(source, str(exc))

    for descriptor in list(referrers)[:MAX_CANDIDATES]:
        digest = str(descriptor.get("digest", ""))
        manifest = _json(fetched.get(digest, b"")) if digest in fetched else None
        kind = artifact_type(descriptor, manifest if isinstance(manifest, dict) else None)
        if not kind.startswith(BUNDLE_MEDIA_PREFIX):
            continue
        source = f"referrer {digest}"
        try:
            layers = manifest_layers(fetched, digest)
            bundles = [
                (lay, blob)
                for lay, blob in layers
                if str(lay.get("mediaType", "")).startswith(BUNDLE_MEDIA_PREFIX)
            ]
            if not bundles or bundles[0][1] is None:
                raise Rejected("the referrer holds no fetched Sigstore bundle layer")
            found = verify_bundle(bundles[0][1] or b"", options, digest=subject_digest, source=source)
            if found.payload_type:
                _check_signature_statement(found, subject_digest)
            verified.append(found)
        except Rejected as exc:
            reject(source, str(exc))
    return verified, rejected


def _check_signature_statement(found: Verified, subject_digest: str) -> None:
    if found.payload_type != IN_TOTO:
        raise Rejected(f"the DSSE payload type {found.payload_type[:100]!r} is not in-toto")
    predicate, digests = statement_subject_digests(found.payload)
    if subject_digest not in digests:
        raise Rejected(f"the statement's subject is not {subject_digest}")
    if predicate != COSIGN_SIGN_PREDICATE:
        raise Rejected(f"an attestation with predicate {predicate[:200]!r}, not an image signature")


def collect_signatures(
    subject_digest: str,
    fetched: Mapping[str, bytes],
    options: SignatureOptions,
    collection: Collection,
    *,
    sig_manifests: Sequence[str] = (),
    referrers: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The ``evidence.signature`` section for *subject_digest*.

    *fetched* maps digests to digest-verified manifest and blob bodies;
    *sig_manifests* are the digests of the manifests behind the cosign
    ``sha256-<hex>.sig`` tag; *referrers* are the OCI descriptors that name
    *subject_digest* as their subject.
    """
    try:
        check_options(options)
        verified, rejected = find_signatures(
            subject_digest, fetched, options, sig_manifests=sig_manifests, referrers=referrers
        )
    except Rejected as exc:  # e.g. an invalid regular expression
        return {
            "verified": False,
            "error": collection.error(COLLECTOR, str(exc)),
            "tlog": {"reachable": False, "consulted": False, "error": "no signature was verified"},
        }
    return signature_section(subject_digest, verified, rejected, options, collection)


def signature_section(
    subject_digest: str,
    verified: Sequence[Verified],
    rejected: Sequence[dict[str, str]],
    options: SignatureOptions,
    collection: Collection,
) -> dict[str, Any]:
    """Choose the recorded signature (expected signer first) and build the section."""
    from gate.evidence.signed_identity import same_repository, signed_identity

    rejected = list(rejected)
    claims = {
        id(found): signed_identity(found.payload, options.reference)
        for found in verified
        if found.payload_type == SIMPLE_SIGNING
    }
    chosen: Verified | None = None
    # The expected signer first and, among those, one signed for the requested repository.
    ranked = sorted(verified, key=lambda f: id(f) in claims and not same_repository(claims[id(f)]))
    for found in ranked:
        if chosen is None and not identity_problem(found, options):
            chosen = found
    if chosen is None and verified:
        chosen = verified[0]
    for found in verified:
        if found is not chosen:
            problem = identity_problem(found, options)
            reason = problem or "another signature verified for the same digest and is the one recorded"
            if len(rejected) < 256:
                rejected.append({"source": found.source[:_TEXT], "reason": _short(reason)})
    section: dict[str, Any] = {"verified": chosen is not None}
    section.update(_match_record(options))
    if chosen is None:
        # Nothing found is an observation (the policy reports unsigned);
        # candidates that failed verification are also a collection error.
        if rejected:
            section["error"] = collection.error(
                COLLECTOR,
                f"no signature verifies for {subject_digest}: {len(rejected)} candidate(s) rejected, "
                f"first: {rejected[0]['reason']}",
            )
        section["tlog"] = {"reachable": False, "consulted": False, "error": "no signature was verified"}
        section["rejected"] = rejected
        return section
    section["digest"] = subject_digest
    section["method"] = chosen.method
    section["source"] = chosen.source[:_TEXT]
    if chosen.method == "key":
        section["key_sha256"] = chosen.key_sha256
    else:
        section["identity"] = chosen.identity
        section["issuer"] = chosen.issuer
        section["cert_not_before"] = chosen.cert_not_before
        section["cert_not_after"] = chosen.cert_not_after
        if chosen.signed_timestamp:
            section["signed_timestamp"] = chosen.signed_timestamp
    if id(chosen) in claims:
        section["signed_identity"] = claims[id(chosen)]
    section["tlog"] = dict(chosen.tlog)
    section["rejected"] = rejected
    return section


def _match_record(options: SignatureOptions) -> dict[str, Any]:
    record: dict[str, Any] = {
        "identity_match": "regexp" if options.identity_regexp else "exact",
        "issuer_match": "regexp" if options.issuer_regexp else "exact",
    }
    if options.identity_regexp:
        record["identity_regexp"] = options.identity_regexp[:_TEXT]
    if options.issuer_regexp:
        record["issuer_regexp"] = options.issuer_regexp[:_TEXT]
    return record
