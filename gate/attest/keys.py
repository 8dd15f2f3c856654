"""Signing and verification keys: PEM files, ``env://VAR``, key ids, ``gate keygen``.

gate signs with ECDSA P-256 / SHA-256. A key id is the lower-case hex
sha256 of the public key's DER SubjectPublicKeyInfo, so anyone holding the
public key can recompute it (``openssl pkey -pubin -outform DER | sha256sum``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, utils

from gate.errors import InputError, UsageError

MAX_KEY_BYTES = 64 * 1024
ENV_PREFIX = "env://"

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey


def keyid_of(public_key: PublicKey) -> str:
    """Hex sha256 of the DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class SigningKey:
    """An ECDSA P-256 private key and its key id."""

    private_key: ec.EllipticCurvePrivateKey
    """The key itself."""
    keyid: str
    """Hex sha256 of the public key's DER SPKI."""

    def sign(self, message: bytes) -> bytes:
        """A DER-encoded ECDSA signature over sha256(message)."""
        return self.private_key.sign(message, ec.ECDSA(hashes.SHA256()))

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The matching public key."""
        return self.private_key.public_key()

    def public_pem(self) -> bytes:
        """The public key as PEM (SubjectPublicKeyInfo)."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclass(frozen=True)
class VerifyKey:
    """A public key (from a PEM key or certificate) and its key id."""

    public_key: PublicKey
    """The key."""
    keyid: str
    """Hex sha256 of its DER SPKI."""
    source: str
    """Where it was read from (for messages)."""

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True when *signature* is valid over *message*.

        ECDSA signatures are accepted DER-encoded (cosign, securesystemslib,
        gate) or as raw fixed-size r||s (some KMS-backed signers).
        """
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric import padding

        key = self.public_key
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                algorithm = _EC_HASHES.get(key.curve.name)
                if algorithm is None:
                    return False
                for candidate in _ecdsa_forms(signature, key.curve.key_size):
                    try:
                        key.verify(candidate, message, ec.ECDSA(algorithm))
                        return True
                    except InvalidSignature:
                        continue
                return False
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, message)
                return True
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            return True
        except (InvalidSignature, ValueError):
            return False


_EC_HASHES: dict[str, hashes.HashAlgorithm] = {
    "secp256r1": hashes.SHA256(),
    "secp384r1": hashes.SHA384(),
    "secp521r1": hashes.SHA512(),
}


def _ecdsa_forms(signature: bytes, key_bits: int) -> list[bytes]:
    """The signature as given, plus its DER form when it looks like raw r||s."""
    size = (key_bits + 7) // 8
    forms = [signature]
    if len(signature) == 2 * size:
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        forms.append(utils.encode_dss_signature(r, s))
    return forms


def read_key_source(spec: str) -> tuple[bytes, str]:
    """The PEM bytes named by *spec* (a path or ``env://VAR``) and a display name."""
    if spec.startswith(ENV_PREFIX):
        var = spec[len(ENV_PREFIX) :]
        if not var:
            raise UsageError(f"{spec}: name an environment variable, e.g. env://GATE_SIGNING_KEY")
        value = os.environ.get(var)
        if not value:
            raise InputError(f"{spec}: environment variable {var} is not set or empty")
        data = value.encode("utf-8")
        if len(data) > MAX_KEY_BYTES:
            raise InputError(f"{spec}: larger than the limit of {MAX_KEY_BYTES} bytes")
        return data, spec
    from gate.fsutil import read_bounded

    return read_bounded(spec, MAX_KEY_BYTES), spec


def _is_encrypted(data: bytes) -> bool:
    return b"ENCRYPTED PRIVATE KEY" in data or b"Proc-Type: 4,ENCRYPTED" in data


def load_signing_key(
    spec: str, passphrase: bytes | None = None, prompt: Callable[[str], bytes] | None = None
) -> SigningKey:
    """Load an ECDSA P-256 private key (PEM, PKCS#8 or SEC1, optionally encrypted).

    For an encrypted key without *passphrase*, *prompt* (if given) is asked
    for one, with the key's display name.
    """
    data, source = read_key_source(spec)
    if _is_encrypted(data) and passphrase is None and prompt is not None:
        passphrase = prompt(source)
    if _is_encrypted(data) and passphrase is None:
        raise UsageError(
            f"{source}: the key is passphrase-encrypted: give --key-passphrase-env VAR "
            "(or run in a terminal to be prompted)"
        )
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if _is_encrypted(data) else None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        reason = "wrong passphrase or corrupt key" if _is_encrypted(data) else _first_line(exc)
        raise InputError(f"{source}: cannot load private key: {reason}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise InputError(f"{source}: gate signs with ECDSA P-256 keys; this is a {_describe(key)} key")
    return SigningKey(key, keyid_of(key.public_key()))


def load_verify_key(spec: str) -> VerifyKey:
    """Load a public key from a PEM public key or X.509 certificate (path or ``env://VAR``)."""
    data, source = read_key_source(spec)
    public: object
    try:
        if b"BEGIN CERTIFICATE" in data:
            public = x509.load_pem_x509_certificate(data).public_key()
        elif b"PRIVATE KEY" in data:
            raise InputError(f"{source}: this is a private key; verify with the public key (PREFIX.pub)")
        else:
            public = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InputError(f"{source}: not a PEM public key or certificate: {_first_line(exc)}") from None
    if not isinstance(public, (ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey, rsa.RSAPublicKey)):
        raise InputError(f"{source}: unsupported public key type {_describe(public)}")
    return VerifyKey(public, keyid_of(public), source)


def generate_key() -> SigningKey:
    """A fresh ECDSA P-256 key."""
    key = ec.generate_private_key(ec.SECP256R1())
    return SigningKey(key, keyid_of(key.public_key()))


def private_pem(key: SigningKey, passphrase: bytes | None) -> bytes:
    """The private key as PKCS#8 PEM, encrypted when a passphrase is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def write_keypair(
    prefix: str, key: SigningKey, passphrase: bytes | None, *, force: bool = False
) -> tuple[Path, Path]:
    """Write PREFIX.key (mode 0600) and PREFIX.pub; refuse to overwrite unless *force*."""
    from gate.fsutil import write_atomic

    private_path, public_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    if not force:
        for path in (private_path, public_path):
            if path.exists():
                raise UsageError(f"{path}: already exists (use --force to overwrite)")
    write_atomic(private_path, private_pem(key, passphrase), mode=0o600)
    write_atomic(public_path, key.public_pem(), mode=0o644)
    return private_path, public_path


def _describe(key: object) -> str:
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return f"EC {key.curve.name}"
    return type(key).__name__.lstrip("_")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
