"""OPA bundle signatures: file hashes computed as OPA computes them, and the JWT.

OPA signs a bundle with one JWT in ``.signatures.json``
(``{"signatures": ["<jwt>"]}``). Its payload lists every file of the bundle
(``files: [{name, hash, algorithm}]``, names without a leading ``/``) and
optionally ``keyid`` and ``scope``; the header carries ``alg`` and ``kid``.

File hashes follow OPA's ``bundle/hash.go``: files named ``data.json``,
``data.yaml``, ``.manifest`` and ``.signatures.json`` are *structured*: they
are parsed and hashed in a canonical form (objects ``{"k":v,...}`` with keys
sorted, arrays ``[v,...]``, no whitespace, numbers exactly as written, strings
encoded the way Go's ``encoding/json`` does without HTML escaping); every
other file is hashed as raw bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from gate.document import no_duplicate_keys, parse_yaml_one
from gate.errors import InputError

STRUCTURED_NAMES = ("data.json", "data.yaml", ".manifest", ".signatures.json")
SIGNATURES_FILE = ".signatures.json"

# OPA also accepts MD5 and SHA-1; gate refuses them when verifying.
HASHES: dict[str, Callable[[], Any]] = {
    "SHA-224": hashlib.sha224,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
    "SHA-512-224": lambda: hashlib.new("sha512_224"),
    "SHA-512-256": lambda: hashlib.new("sha512_256"),
}
WEAK_HASHES = ("MD5", "SHA-1")
SIGNING_ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")


@dataclass(frozen=True)
class _Number:
    """A JSON number kept as written (Go's json.Number re-encodes it verbatim)."""

    text: str


def _go_string(value: str) -> str:
    """A string as Go's json encoder writes it with SetEscapeHTML(false)."""
    out = json.dumps(value, ensure_ascii=False)
    # Go also escapes the two JavaScript line terminators.
    return out.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _encode(value: Any, parts: list[str]) -> None:
    if isinstance(value, dict):
        parts.append("{")
        for i, key in enumerate(sorted(value, key=lambda k: k.encode("utf-8"))):
            if i:
                parts.append(",")
            parts.append(_go_string(key))
            parts.append(":")
            _encode(value[key], parts)
        parts.append("}")
    elif isinstance(value, list):
        parts.append("[")
        for i, item in enumerate(value):
            if i:
                parts.append(",")
            _encode(item, parts)
        parts.append("]")
    elif isinstance(value, _Number):
        parts.append(value.text)
    elif isinstance(value, str):
        parts.append(_go_string(value))
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif value is None:
        parts.append("null")
    elif isinstance(value, (int, float)):  # from YAML
        parts.append(json.dumps(value))
    else:  # pragma: no cover - YAML dates and the like
        parts.append(_go_string(str(value)))


def canonical_json(value: Any) -> bytes:
    """The byte stream OPA hashes for a parsed structured file."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts).encode("utf-8")


def is_structured(name: str) -> bool:
    """True for the files OPA parses before hashing."""
    return PurePosixPath(name).name in STRUCTURED_NAMES


def parse_structured(name: str, data: bytes) -> Any:
    """Parse a structured bundle file, keeping JSON numbers as written."""
    if name.endswith(".yaml"):
        return parse_yaml_one(name, data)  # strict: a key given twice is refused, aliases bounded
    try:
        return json.loads(
            data.decode("utf-8"),
            parse_int=_Number,
            parse_float=_Number,
            object_pairs_hook=no_duplicate_keys,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{name}: not valid JSON: {first}") from None


def file_hash(name: str, data: bytes, algorithm: str = "SHA-256") -> str:
    """Hex digest of one bundle file, exactly as OPA computes it."""
    factory = HASHES.get(algorithm)
    if factory is None:
        raise InputError(f"{name}: unsupported hashing algorithm {algorithm!r}")
    digest = factory()
    digest.update(canonical_json(parse_structured(name, data)) if is_structured(name) else data)
    return str(digest.hexdigest())


def algorithm_for_key(key: Any) -> str:
    """The default JWT algorithm for a private or public key object."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}.get(key.curve.name, "")
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "RS256"
    return ""


def load_private_key(path: str) -> Any:
    """A PEM private key (EC P-256/384/521 or RSA), unencrypted."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = _read_key(path)
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: not an unencrypted PEM private key: {exc}") from None
    if not algorithm_for_key(key):
        raise InputError(f"{path}: unsupported key type {type(key).__name__} (use EC P-256 or RSA)")
    return key


def load_public_key(path: str) -> Any:
    """A PEM public key (or certificate) for verification."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    data = _read_key(path)
    try:
        key: Any = (
            x509.load_pem_x509_certificate(data).public_key()
            if b"BEGIN CERTIFICATE" in data
            else load_pem_public_key(data)
        )
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: not a PEM public key: {exc}") from None
    if not algorithm_for_key(key):
        raise InputError(f"{path}: unsupported key type {type(key).__name__} (use EC P-256 or RSA)")
    return key


def _read_key(path: str) -> bytes:
    from gate.document import read_bytes

    return read_bytes(path, 64 * 1024)


_KEYID = re.compile(r"^[\w.:@/-]{1,200}$")


def sign_files(
    files: list[tuple[str, bytes]],
    key: Any,
    *,
    algorithm: str = "",
    keyid: str = "default",
    scope: str = "",
) -> bytes:
    """The ``.signatures.json`` bytes for *files* ((name, bytes), names without ``/``)."""

    algorithm = algorithm or algorithm_for_key(key)
    if algorithm not in SIGNING_ALGORITHMS:
        raise InputError(f"unsupported signing algorithm {algorithm!r} ({', '.join(SIGNING_ALGORITHMS)})")
    if not _KEYID.match(keyid):
        raise InputError(f"key id {keyid!r}: use 1-200 letters, digits or ._:@/-")
    payload: dict[str, Any] = {
        "files": [
            {"name": name, "hash": file_hash(name, data), "algorithm": "SHA-256"} for name, data in files
        ],
        # OPA writes the deprecated keyid claim too, for older verifiers.
        "keyid": keyid,
    }
    if scope:
        payload["scope"] = scope
    token = _jws(payload, key, algorithm, keyid)
    return (json.dumps({"signatures": [token]}, indent=2) + "\n").encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jws(payload: dict[str, Any], key: Any, algorithm: str, keyid: str) -> str:
    """A compact JWS. ECDSA signatures use RFC 6979 deterministic nonces, so a
    signed bundle, like an unsigned one, is the same bytes for the same inputs."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    header = {"alg": algorithm, "kid": keyid, "typ": "JWT"}
    signing_input = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(payload, separators=(",", ":")).encode())
    ).encode("ascii")
    digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[algorithm[2:]]
    if algorithm.startswith("ES"):
        if not isinstance(key, ec.EllipticCurvePrivateKey) or algorithm != algorithm_for_key(key):
            raise InputError(f"{algorithm} needs an EC private key on the matching curve")
        der = key.sign(signing_input, ec.ECDSA(digest, deterministic_signing=True))
        r, s = decode_dss_signature(der)
        size = (key.curve.key_size + 7) // 8
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    else:
        if not isinstance(key, rsa.RSAPrivateKey):
            raise InputError(f"{algorithm} needs an RSA private key")
        if key.key_size < 2048:
            raise InputError(f"RSA key of {key.key_size} bits is too short (2048 or more)")
        pad: Any = (
            padding.PKCS1v15()
            if algorithm.startswith("RS")
            else padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        )
        signature = key.sign(signing_input, pad, digest)
    return signing_input.decode("ascii") + "." + _b64(signature)
