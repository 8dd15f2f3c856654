"""The input document for one skill package (``subject.kind: skill``).

``gate skill scan``, ``gate skill intake`` and ``gate eval --skill`` all call
:func:`collect_document`. The package is read once (:mod:`.package`), every
file is analysed (:mod:`.analyse`), dependency manifests are analysed
together, the frontmatter, license, source tuple, signature and SBOM are
recorded, and the external skill scanner runs as a second opinion when the
profile names it. Nothing here decides; ``rego/gate/skills`` does.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from gate.errors import InputError
from gate.evidence.interface import Collection
from gate.profile import Profile

TIERS = ("untrusted", "semi-trusted", "trusted")
_SOURCE = re.compile(r"^(?P<repo>https://[^\s@]{1,2000})@(?P<commit>[0-9a-f]{40}|[0-9a-f]{64})$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_HOST = re.compile(
    r"^(?:\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)
MAX_TEXT = 4096


@dataclass(frozen=True)
class SkillRequest:
    """What the submitter declares about a skill (intake), or nothing (a bare scan)."""

    path: str
    source: str | None = None
    artifact_digest: str | None = None
    maintainers: tuple[str, ...] = ()
    deps: tuple[str, ...] = ()
    network: str | None = None
    tier: str | None = None
    submitter: str | None = None
    owner: str | None = None
    rollback: str | None = None
    update_cadence: str | None = None
    signature: str | None = None
    sbom: str | None = None
    intake_digest: str | None = None
    """The digest recorded at intake: the package scanned later must still have it."""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clip(value: Any, depth: int = 0) -> Any:
    if depth > 8:
        return None
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, list):
        return [_clip(v, depth + 1) for v in value[:200]]
    if isinstance(value, dict):
        return {str(k)[:128]: _clip(v, depth + 1) for k, v in list(value.items())[:200]}
    return value


def parse_network(text: str | None) -> dict[str, Any]:
    """``none``, a comma-separated host list, or unspecified."""
    if text is None:
        return {"mode": "unspecified", "hosts": []}
    if text.strip().lower() == "none":
        return {"mode": "none", "hosts": []}
    hosts = sorted({h.strip().lower() for h in text.split(",") if h.strip()})
    bad = [h for h in hosts if not _HOST.match(h)]
    if bad or not hosts:
        raise InputError(f"--network: {bad[0] if bad else text!r} is not a host name (or 'none')")
    return {"mode": "hosts", "hosts": hosts}


def parse_source(request: SkillRequest, digest: str) -> dict[str, Any]:
    """The source tuple as declared, checked for shape (and the artifact digest against the package)."""
    if request.source:
        match = _SOURCE.match(request.source.strip())
        if not match:
            return {
                "kind": "source",
                "valid": False,
                "problem": "the source must be https://REPO@COMMIT_SHA (40 or 64 hex digits)",
                "declared": request.source[:2048],
            }
        return {"kind": "source", "valid": True, "repo": match["repo"], "commit": match["commit"]}
    if request.artifact_digest:
        declared = request.artifact_digest.strip()
        if not _DIGEST.match(declared):
            return {
                "kind": "artifact",
                "valid": False,
                "problem": "not sha256:<64 hex>",
                "declared": declared[:128],
            }
        return {"kind": "artifact", "valid": True, "artifact_digest": declared, "matches": declared == digest}
    return {
        "kind": "none",
        "valid": False,
        "problem": "no source repository and commit, and no artifact digest",
    }


def _manifest(text: str | None) -> dict[str, Any]:
    from gate.formats.skillmd import FrontmatterError, parse_frontmatter, split_frontmatter

    if text is None:
        return {"present": False, "error": "the package has no SKILL.md at its root"}
    try:
        front, _body, _line = split_frontmatter(text)
        if front is None:
            return {"present": True, "error": "SKILL.md has no YAML frontmatter"}
        meta = parse_frontmatter(front)
    except FrontmatterError as exc:
        return {"present": True, "error": f"SKILL.md frontmatter: {exc}"}
    from gate.formats.skilltools import parse_allowed_tools

    tools = parse_allowed_tools(meta.get("allowed-tools", meta.get("allowed_tools")))
    out: dict[str, Any] = {
        "present": True,
        "name": meta.get("name") if isinstance(meta.get("name"), str) else None,
        "description": meta.get("description") if isinstance(meta.get("description"), str) else None,
        "license": meta.get("license") if isinstance(meta.get("license"), str) else None,
        "allowed_tools": [t.raw[:256] for t in tools] if tools is not None else None,
        "tools": [t.to_json() for t in tools] if tools is not None else None,
        "metadata": _clip(meta.get("metadata")) if isinstance(meta.get("metadata"), dict) else {},
    }
    return _clip(out)  # type: ignore[no-any-return]


def _license(field: Any, package: Any) -> dict[str, Any]:
    from gate.evidence.skill.license import MAX_LICENSE_TEXT, license_facts

    texts = {
        item.path: item.data.decode("utf-8", "replace")
        for item in package.files
        if item.data is not None
        and len(item.data) <= MAX_LICENSE_TEXT
        and re.search(r"licen[cs]e|copying", item.path.rsplit("/", 1)[-1], re.I)
    }
    return _clip(license_facts(field, texts))  # type: ignore[no-any-return]


def _sbom(path: str | None) -> dict[str, Any]:
    if not path:
        return {"present": False}
    import hashlib
    import json

    from gate.document import read_bytes
    from gate.registry.attachments import summarise

    data = read_bytes(path, 16 * 1024 * 1024)
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not JSON: {exc}") from None
    return {
        "present": True,
        "sha256": "sha256:" + hashlib.sha256(data).hexdigest(),
        **summarise("sbom", value, path),
    }


def _network(request: SkillRequest, manifest: dict[str, Any]) -> dict[str, Any]:
    if request.network is not None:
        return parse_network(request.network)
    declared = (
        manifest.get("metadata", {}).get("network") if isinstance(manifest.get("metadata"), dict) else None
    )
    if isinstance(declared, list):
        return parse_network(",".join(str(h) for h in declared))
    if isinstance(declared, str):
        return parse_network(declared)
    return parse_network(None)


def _deps_policy(settings: dict[str, Any], declared: tuple[str, ...]) -> Any:
    from gate.formats.skilldeps import DepsPolicy

    deps = settings.get("dependencies", {})
    kwargs: dict[str, Any] = {
        "allow": frozenset(deps.get("allow", [])),
        "deny": frozenset(deps.get("deny", [])),
        "declared": frozenset(declared),
    }
    if deps.get("trusted_indexes"):
        kwargs["trusted_indexes"] = frozenset(deps["trusted_indexes"])
    return DepsPolicy(**kwargs)


def _dependencies(analysis: Any, settings: dict[str, Any], request: SkillRequest) -> dict[str, Any]:
    from gate.formats.skilldeps import analyse_manifests

    if not analysis.manifests and not request.deps:
        return {"items": [], "indexes": [], "install_hooks": [], "lockfiles": [], "all_pinned": True}
    report = analyse_manifests(analysis.manifests, _deps_policy(settings, request.deps))
    for finding in report.findings:
        analysis.add(finding, finding.member or "(dependencies)")
    items = [
        {
            "ecosystem": d.ecosystem,
            "name": d.name[:256],
            "spec": d.spec[:256],
            "pinned": d.pinned,
            "source": d.source[:512],
            "manifest": d.manifest[:512],
            "hashes": len(d.hashes),
        }
        for d in report.dependencies[:2000]
    ]
    return {
        "items": items,
        "indexes": [i[:512] for i in report.indexes[:100]],
        "install_hooks": [h[:512] for h in report.install_hooks[:100]],
        "lockfiles": report.lockfiles[:100],
        "all_pinned": all(d.pinned for d in report.dependencies),
    }


def _signature(request: SkillRequest, digest: str, kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    from gate.document import read_bytes
    from gate.evidence.skill.signature import MAX_ENVELOPE, verify

    data = read_bytes(request.signature, MAX_ENVELOPE + 1) if request.signature else None
    return verify(data, digest, dict(settings.get("signers", {})), kind)


def collect_skill(request: SkillRequest, profile: Profile, collection: Collection) -> dict[str, Any]:
    """The ``evidence.skill`` section."""
    from gate.evidence.skill.analyse import analyse, secret_env
    from gate.evidence.skill.package import as_json, load

    settings: dict[str, Any] = profile.settings.get("skills", {})
    if request.tier is not None and request.tier not in TIERS:
        raise InputError(f"--tier: {request.tier!r} is not one of {', '.join(TIERS)}")
    package = load(request.path)
    analysis = analyse(package)
    for finding in package.findings:
        analysis.add(finding, finding.member or "(package)")
    manifest = _manifest(analysis.skill_md)
    dependencies = _dependencies(analysis, settings, request)
    declared = {
        "source": parse_source(request, package.digest),
        "maintainers": [m[:256] for m in request.maintainers[:50]],
        "deps": [d[:256] for d in request.deps[:500]],
        "network": _network(request, manifest),
        "tier": request.tier,
        "submitter": (request.submitter or "")[:256] or None,
        "owner": (request.owner or "")[:256] or None,
        "rollback": (request.rollback or "")[:256] or None,
        "update_cadence": (request.update_cadence or "")[:64] or None,
    }
    if request.intake_digest:
        declared["intake_digest"] = request.intake_digest[:71]
    env_reads = sorted(analysis.env_reads)[:500]
    secret = secret_env(analysis.env_reads)
    return {
        "package": as_json(package),
        "manifest": manifest,
        "declared": declared,
        "license": _license(manifest.get("license"), package),
        "files": analysis.files[:2000],
        "findings": analysis.findings,
        "capabilities": {k: v for k, v in sorted(analysis.capabilities.items())},
        "hosts": sorted(analysis.hosts)[:500],
        "env_reads": env_reads,
        "secret_env": secret[:500],
        "documented": sorted(n for n in analysis.documented if n in set(secret))[:500],
        "runs": analysis.runs,
        "dependencies": dependencies,
        "signature": _signature(request, package.digest, package.kind, settings),
        "sbom": _sbom(request.sbom),
    }


def _scanners(
    request: SkillRequest, settings: dict[str, Any], collection: Collection
) -> list[dict[str, Any]]:
    """Second opinions over the package; an archive is laid out in a private folder for them first."""
    import tempfile
    from pathlib import Path

    from gate.evidence.scanners import find, run_scanners
    from gate.evidence.skill.package import load

    names = list(settings.get("scanners", {}).get("run", []))
    timeout = float(settings.get("scanners", {}).get("timeout_seconds", 300))
    if not names:
        return []
    package = load(request.path)
    if package.kind == "directory":
        return run_scanners(names, request.path, timeout, collection)
    with tempfile.TemporaryDirectory(prefix="gate-skill-") as folder:
        for item in package.files:
            parts = item.path.split("/")
            if item.data is None or item.path.startswith("/") or any(p in ("", ".", "..") for p in parts):
                why = f"{item.path} cannot be laid out for the scanner (too large or an unsafe name)"
                return [
                    {"name": n, "installed": find(n) is not None, "error": collection.error(n, why)}
                    for n in names
                ]
            target = Path(folder, *parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(item.data)
        return run_scanners(names, folder, timeout, collection)


def collect_document(request: SkillRequest, profile: Profile) -> dict[str, Any]:
    """The whole input document for the skill at ``request.path``."""
    collection = Collection()
    skill = collect_skill(request, profile, collection)
    settings: dict[str, Any] = profile.settings.get("skills", {})
    scanners = _scanners(request, settings, collection)
    name = skill["manifest"].get("name") or request.path
    return {
        "gate": {
            "version": "1",
            "mode": "static",
            "now": _now(),
            "profile": {"name": profile.name, "sha256": profile.sha256},
            "nonce": secrets.token_hex(16),
        },
        "subject": {"kind": "skill", "ref": str(name)[:2048], "digest": skill["package"]["digest"]},
        "operator": {},
        "evidence": {"skill": skill, "scanners": scanners},
        "collection": collection.to_json(),
    }
