"""Cosign key-in-certificate signatures from a private (BYO) PKI.

``cosign sign --certificate leaf.pem --certificate-chain chain.pem`` puts a
certificate issued by an organisation's own CA in the layer's
``dev.sigstore.cosign/certificate`` annotation (and the chain in
``dev.sigstore.cosign/chain``); ``cosign verify --certificate-chain`` then
checks it against that CA instead of Fulcio. gate does the same against the
roots and intermediates the profile lists (``container.private_pki``):

- the signature verifies over the payload with the certificate's key;
- the certificate chains to one of the profile's roots, through the profile's
  intermediates or the certificates in the chain annotation (those are
  untrusted path material: only a profile root anchors trust), at the
  Rekor entry's integrated time when a signed entry timestamp verifies, else
  at the certificate's own notBefore (the policy then judges expiry, as for
  Fulcio certificates);
- the certificate may sign code: digital-signature key usage when it has a
  key-usage extension, code signing when it has an extended-key-usage one.

No SCT and no Fulcio OIDC extension is required: a private CA logs to no
certificate-transparency log and knows no OIDC issuer. The recorded method
is ``pki``; the identity is the certificate's SAN, compared like a keyless
one, and there is no issuer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from gate.evidence.signatures import (
    ANN_BUNDLE,
    ANN_CHAIN,
    MAX_ANNOTATION,
    Rejected,
    SignatureOptions,
    Verified,
    _check_entry_body,
    _rfc3339,
    _short,
    _signature_ok,
    _verify_set,
    _with_cert,
    cert_pem_der,
    trusted_root,
)

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.x509 import Certificate

MAX_CHAIN = 8
"""Certificates taken from a chain annotation."""


def _certificates(pems: Sequence[bytes], what: str) -> list[Certificate]:
    from cryptography import x509

    out: list[Certificate] = []
    for pem in pems:
        try:
            out.extend(x509.load_pem_x509_certificates(pem))
        except ValueError as exc:
            raise Rejected(f"a {what} certificate does not load: {_short(exc)}") from None
    return out


def _chain_annotation(annotations: Mapping[str, str]) -> list[Certificate]:
    from cryptography import x509

    text = annotations.get(ANN_CHAIN, "")
    if not text.strip():
        return []
    try:
        return x509.load_pem_x509_certificates(text[:MAX_ANNOTATION].encode())[:MAX_CHAIN]
    except ValueError as exc:
        raise Rejected(f"the certificate chain annotation does not load: {_short(exc)}") from None


def verify_pki_certificate(
    signed: bytes,
    signatures: Sequence[bytes],
    cert_pem: str,
    annotations: Mapping[str, str],
    options: SignatureOptions,
    source: str,
) -> Verified:
    """Verify a cosign layer whose certificate comes from the profile's private PKI."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_pem[:MAX_ANNOTATION].encode())
    except ValueError as exc:
        raise Rejected(f"the certificate annotation does not load: {_short(exc)}") from None
    signature = next((s for s in signatures if _signature_ok(cert.public_key(), s, signed)), None)
    if signature is None:
        raise Rejected("the signature does not verify with the certificate's public key")
    found = Verified(method="pki", source=source, signature=signature)
    _with_cert(found, cert, options)
    integrated: datetime | None = None
    if annotations.get(ANN_BUNDLE, ""):
        entry = _verify_set(annotations[ANN_BUNDLE], trusted_root(options))
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
    chain_to_private_roots(
        cert, options, _chain_annotation(annotations), integrated or cert.not_valid_before_utc
    )
    return found


def chain_to_private_roots(
    cert: Certificate, options: SignatureOptions, untrusted: Sequence[Certificate], when: datetime
) -> None:
    """Raise :class:`Rejected` unless *cert* chains to a profile root at *when* and may sign code."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store

    roots = _certificates(options.pki_roots, "private PKI root")
    if not roots:
        raise Rejected("the profile lists no private PKI root")
    intermediates = _certificates(options.pki_intermediates, "private PKI intermediate") + list(untrusted)
    ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None
    )
    try:
        verifier: Any = (
            PolicyBuilder()
            .store(Store(roots))
            .time(when)
            .extension_policies(ca_policy=ca_policy, ee_policy=ExtensionPolicy.permit_all())
            .build_client_verifier()
        )
        verifier.verify(cert, intermediates)
    except Exception as exc:
        raise Rejected(
            f"the certificate does not chain to the profile's private PKI roots at {_rfc3339(when)}: "
            f"{_short(exc)}"
        ) from None
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.digital_signature:
            raise Rejected("the private PKI certificate's key usage does not allow digital signatures")
    except x509.ExtensionNotFound:
        pass
    try:
        extended = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CODE_SIGNING not in extended:
            raise Rejected("the private PKI certificate is not a code-signing certificate")
    except x509.ExtensionNotFound:
        pass
