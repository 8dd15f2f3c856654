"""``gate bundle build``: gate's policies and a profile as an OPA bundle.

The bundle is a gzipped tarball laid out as ``opa build`` lays one out:
``/.manifest`` (revision, roots ``["gate"]``, gate metadata), ``/data.json``
(``gate.catalog`` from the METADATA blocks and ``gate.config`` from the
profile) and every ``.rego`` file under the policy root, tests included, so
``opa run --server --bundle`` serves ``data.gate.main.decision`` and
``opa test`` runs the policy's unit tests against the bundle's own data.

Output is deterministic: entries sorted by name, mtime 0, uid/gid 0, fixed
modes, a gzip header without timestamp or name. Same inputs, same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate import __version__
from gate.bundle.sign import SIGNATURES_FILE, sign_files
from gate.errors import InputError, PolicyError
from gate.policy import load_policies
from gate.profile import Profile, check_against_policies

ROOTS = ("gate",)


@dataclass(frozen=True)
class BundleSpec:
    """What goes into a bundle."""

    policy_root: Path
    """Folder of ``.rego`` files (the bundled ``rego/`` by default)."""
    profile: Profile | None
    """Profile whose settings become ``data.gate.config``; None leaves it out."""
    revision: str = ""
    """``.manifest`` revision; empty means one derived from the content."""
    signing_key: Any = None
    """A private key object; None builds an unsigned bundle."""
    signing_algorithm: str = ""
    """JWT ``alg``; empty picks ES256 for P-256 keys and RS256 for RSA."""
    keyid: str = "default"
    """JWT ``kid`` (OPA's ``--verification-key-id`` default is ``default``)."""
    scope: str = ""
    """Optional JWT ``scope`` claim."""


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _rego_files(root: Path) -> list[tuple[str, bytes]]:
    policies = load_policies(root)
    for rego_file in policies.files:
        if rego_file.package != "gate" and not rego_file.package.startswith("gate."):
            raise PolicyError(
                f"{rego_file.path}: package {rego_file.package} is outside the bundle root 'gate'"
            )
    found = sorted(p for p in root.rglob("*.rego") if p.is_file())
    return [(p.relative_to(root).as_posix(), p.read_bytes()) for p in found]


def bundle_files(spec: BundleSpec) -> list[tuple[str, bytes]]:
    """Every file of the bundle (names without a leading ``/``), sorted by name."""
    root = spec.policy_root
    if not root.is_dir():
        raise InputError(f"{root}: not a policy folder")
    policies = load_policies(root)
    gate_data: dict[str, Any] = {"catalog": policies.catalog_data()}
    metadata: dict[str, Any] = {"version": __version__}
    if spec.profile is not None:
        check_against_policies(spec.profile, policies)
        gate_data["config"] = spec.profile.config()
        metadata["profile"] = {"name": spec.profile.name, "sha256": spec.profile.sha256}
    files = [("data.json", _json_bytes({"gate": gate_data})), *_rego_files(root)]
    revision = spec.revision or _content_revision(files)
    manifest = {"revision": revision, "roots": list(ROOTS), "metadata": {"gate": metadata}}
    files.append((".manifest", _json_bytes(manifest)))
    files.sort()
    if spec.signing_key is not None:
        signatures = sign_files(
            files, spec.signing_key, algorithm=spec.signing_algorithm, keyid=spec.keyid, scope=spec.scope
        )
        files.append((SIGNATURES_FILE, signatures))
        files.sort()
    return files


def _content_revision(files: list[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for name, data in sorted(files):
        digest.update(f"{name}\0{hashlib.sha256(data).hexdigest()}\n".encode())
    return f"gate-{__version__}-{digest.hexdigest()[:16]}"


def archive(files: list[tuple[str, bytes]]) -> bytes:
    """A deterministic gzipped tarball of *files*, entries named ``/name``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo("/" + name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return compressed.getvalue()


def build_bundle(spec: BundleSpec) -> bytes:
    """The bundle's bytes (a ``.tar.gz``)."""
    return archive(bundle_files(spec))


def write_bundle(path: Path, data: bytes) -> None:
    """Write atomically: a temporary file beside *path*, then rename."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
