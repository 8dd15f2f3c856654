"""Reading OPA bundles (bounded, no path tricks) and verifying their signature.

Verification follows OPA's own steps: exactly one JWT in
``.signatures.json``; its signature valid under the given public key; its
``scope`` equal to the expected scope (both empty by default); every file of
the bundle listed with a matching hash, and every listed file present.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from gate.bundle.sign import (
    HASHES,
    SIGNATURES_FILE,
    WEAK_HASHES,
    algorithm_for_key,
    file_hash,
)
from gate.document import read_bytes
from gate.errors import EXIT_BLOCK, GateError, InputError

MAX_BUNDLE_BYTES = 64 * 1024 * 1024
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_ENTRIES = 5_000
MAX_SIGNATURES_BYTES = 1024 * 1024


class BundleVerificationError(GateError):
    """The bundle is readable but its signature does not vouch for it."""

    exit_code = EXIT_BLOCK


@dataclass
class BundleContents:
    """The files of a bundle, by name (no leading ``/``), in archive order."""

    source: str
    """Where it was read from (for messages)."""
    files: dict[str, bytes] = field(default_factory=dict)
    """name -> bytes."""

    @property
    def manifest(self) -> dict[str, Any]:
        """The parsed ``.manifest`` ({} when absent)."""
        raw = self.files.get(".manifest")
        if raw is None:
            return {}
        value = _json(f"{self.source}: .manifest", raw)
        if not isinstance(value, dict):
            raise InputError(f"{self.source}: .manifest is not a JSON object")
        return value

    def modules(self) -> list[tuple[str, str]]:
        """(name, text) of every ``.rego`` file, tests included."""
        out = []
        for name, raw in self.files.items():
            if name.endswith(".rego"):
                try:
                    out.append((name, raw.decode("utf-8")))
                except UnicodeDecodeError:
                    raise InputError(f"{self.source}: {name} is not UTF-8") from None
        return out

    def data(self) -> dict[str, Any]:
        """Every ``data.json`` merged at its folder's path, as OPA loads them."""
        merged: dict[str, Any] = {}
        for name, raw in sorted(self.files.items()):
            path = PurePosixPath(name)
            if path.name != "data.json":
                continue
            value = _json(f"{self.source}: {name}", raw)
            target = merged
            for part in path.parent.parts:
                child = target.setdefault(part, {})
                if not isinstance(child, dict):
                    raise InputError(f"{self.source}: {name} conflicts with data at {path.parent}")
                target = child
            if not isinstance(value, dict):
                raise InputError(f"{self.source}: {name} is not a JSON object")
            for key, item in value.items():
                if key in target:
                    raise InputError(f"{self.source}: {name}: data key {key!r} is defined twice")
                target[key] = item
        return merged


def _json(where: str, raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{where}: not valid JSON: {exc}") from None


def _entry_name(source: str, raw: str) -> str:
    name = raw
    while name.startswith("./"):
        name = name[2:]
    name = name.lstrip("/")
    parts = PurePosixPath(name).parts
    if not name or "\\" in name or any(p in ("..", ".") for p in parts) or "\0" in name:
        raise InputError(f"{source}: unsafe entry name {raw!r}")
    return name


def read_bundle(path: str | Path) -> BundleContents:
    """Read a ``.tar.gz`` bundle with limits on size, entries and names.

    Only regular files and folders are accepted: links, devices and names
    with ``..`` are refused, as is a name given twice.
    """
    source = str(path)
    raw = read_bytes(source, MAX_BUNDLE_BYTES)
    contents = BundleContents(source)
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
            for count, member in enumerate(tar, start=1):
                if count > MAX_ENTRIES:
                    raise InputError(f"{source}: more than {MAX_ENTRIES} entries")
                if member.isdir():
                    continue
                if not member.isfile():
                    raise InputError(f"{source}: entry {member.name!r} is not a regular file")
                name = _entry_name(source, member.name)
                if name in contents.files:
                    raise InputError(f"{source}: entry {name!r} appears twice")
                total += member.size
                if total > MAX_UNPACKED_BYTES:
                    raise InputError(f"{source}: unpacks to more than {MAX_UNPACKED_BYTES} bytes")
                handle = tar.extractfile(member)
                if handle is None:  # pragma: no cover - isfile() guarantees a handle
                    raise InputError(f"{source}: cannot read entry {name!r}")
                contents.files[name] = handle.read()
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{source}: not a gzipped tar bundle: {exc}") from None
    return contents


@dataclass(frozen=True)
class Verified:
    """What a successful verification established."""

    algorithm: str
    """JWT ``alg``."""
    keyid: str
    """JWT ``kid`` header (or the deprecated ``keyid`` claim), possibly empty."""
    scope: str
    """The ``scope`` claim (empty when absent)."""
    files: tuple[str, ...]
    """Every file the signature covers, all of them checked."""


def _token(contents: BundleContents) -> str:
    raw = contents.files.get(SIGNATURES_FILE)
    if raw is None:
        raise BundleVerificationError(f"{contents.source}: not signed (no {SIGNATURES_FILE})")
    if len(raw) > MAX_SIGNATURES_BYTES:
        raise InputError(f"{contents.source}: {SIGNATURES_FILE} is larger than {MAX_SIGNATURES_BYTES} bytes")
    value = _json(f"{contents.source}: {SIGNATURES_FILE}", raw)
    signatures = value.get("signatures") if isinstance(value, dict) else None
    if not isinstance(signatures, list) or not signatures:
        raise BundleVerificationError(
            f"{contents.source}: {SIGNATURES_FILE}: missing JWT (expected exactly one)"
        )
    if len(signatures) > 1:
        raise BundleVerificationError(
            f"{contents.source}: {SIGNATURES_FILE}: multiple JWTs not supported (expected exactly one)"
        )
    if not isinstance(signatures[0], str):
        raise BundleVerificationError(f"{contents.source}: {SIGNATURES_FILE}: the JWT is not a string")
    return signatures[0]


def _compatible(algorithm: str, key: Any) -> bool:
    family = algorithm_for_key(key)
    if family.startswith("RS"):
        return algorithm[:2] in ("RS", "PS")
    return algorithm == family


def verify_bundle(contents: BundleContents, public_key: Any, *, scope: str = "") -> Verified:
    """Check the signature and every file hash; raise BundleVerificationError otherwise."""
    import jwt

    source = contents.source
    token = _token(contents)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise BundleVerificationError(f"{source}: {SIGNATURES_FILE}: not a JWT: {exc}") from None
    algorithm = str(header.get("alg", ""))
    if not _compatible(algorithm, public_key):
        raise BundleVerificationError(
            f"{source}: signed with {algorithm or 'no algorithm'}, which the given "
            f"{algorithm_for_key(public_key)[:2]} key cannot verify"
        )
    try:
        payload = jwt.decode(
            token,
            public_key,
            algorithms=[algorithm],
            # OPA uses iat/iss for information only and has no expiry.
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
        )
    except jwt.InvalidSignatureError:
        raise BundleVerificationError(f"{source}: the signature does not verify with the given key") from None
    except jwt.PyJWTError as exc:
        raise BundleVerificationError(f"{source}: {SIGNATURES_FILE}: invalid JWT: {exc}") from None
    found_scope = payload.get("scope", "")
    if found_scope != scope:
        raise BundleVerificationError(
            f"{source}: scope mismatch (signature has {found_scope!r}, expected {scope!r})"
        )
    listed = _listed_files(source, payload)
    for name, data in contents.files.items():
        if name == SIGNATURES_FILE:
            continue
        entry = listed.pop(name, None)
        if entry is None:
            raise BundleVerificationError(f"{source}: file {name} is not included in the bundle signature")
        algorithm_name = entry["algorithm"]
        if algorithm_name in WEAK_HASHES:
            raise BundleVerificationError(f"{source}: {name}: refusing weak hash {algorithm_name}")
        if algorithm_name not in HASHES:
            raise BundleVerificationError(
                f"{source}: {name}: unsupported hashing algorithm {algorithm_name!r}"
            )
        actual = file_hash(name, data, algorithm_name)
        if actual != str(entry["hash"]).lower():
            raise BundleVerificationError(
                f"{source}: {name}: digest mismatch (signed {entry['hash']}, actual {actual})"
            )
    if listed:
        raise BundleVerificationError(
            f"{source}: signed file(s) missing from the bundle: {', '.join(sorted(listed))}"
        )
    covered = tuple(sorted(n for n in contents.files if n != SIGNATURES_FILE))
    keyid = str(header.get("kid") or payload.get("keyid") or "")
    return Verified(algorithm, keyid, str(found_scope), covered)


def _listed_files(source: str, payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    files = payload.get("files")
    if not isinstance(files, list):
        raise BundleVerificationError(f"{source}: the signature lists no files")
    listed: dict[str, dict[str, Any]] = {}
    for entry in files:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and isinstance(entry.get("hash"), str)
            and isinstance(entry.get("algorithm"), str)
        ):
            raise BundleVerificationError(f"{source}: a signed file entry lacks name, hash or algorithm")
        listed[entry["name"]] = entry
    return listed


def verify_file(path: Path, key_path: str, *, scope: str = "") -> tuple[BundleContents, Verified]:
    """Read the bundle at *path* and verify it with the PEM public key at *key_path*."""
    from gate.bundle.sign import load_public_key

    key = load_public_key(key_path)
    contents = read_bundle(path)
    return contents, verify_bundle(contents, key, scope=scope)


def run_bundle_tests(path: Path, *, engine: str, coverage: bool = False) -> Any:
    """``gate test bundle.tar.gz``: the bundle's test rules against its own data."""
    import tempfile

    from gate.regotest import run_tests

    contents = read_bundle(path)
    modules = contents.modules()
    if not modules:
        raise InputError(f"{path}: the bundle holds no .rego files")
    with tempfile.TemporaryDirectory(prefix="gate-bundle-") as temp:
        root = Path(temp) / "bundle"
        for name, text in modules:
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return run_tests(root, engine=engine, coverage=coverage, data=contents.data())
