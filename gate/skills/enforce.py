"""Startup enforcement: the four gates a trusted run passes before any skill loads.

``gate enforce --manifest skills.json`` reads the workflow's skill manifest::

    {"workflow": "release-bot",
     "allowRuntimeFetch": false,
     "skills": [{"name": "pdf-text", "digest": "sha256:...",
                 "registry": "https://skills.example/trusted",
                 "path": "fetched/pdf-text.zip",
                 "signature": "fetched/pdf-text.sig.json",
                 "source": "https://github.com/acme/skills@3f1c..."}]}

and observes, gate by gate, what the policy needs (rego/gate/startup):

1. pre-resolution (before anything is fetched): a digest pin, a registry the
   profile trusts, membership of the trusted allowlist, not revoked, no
   runtime fetch;
2. artifact verification (after fetch, before unpack): the fetched package's
   digest equals the pin, its signature verifies with an approved signer (the
   one recorded at publication), its source tuple equals the registry's;
3. dependency graph (before the sandbox boots): the publication's SBOM, every
   dependency pinned and from a trusted registry, and the package's
   manifests resolving to exactly the published dependencies;
4. runtime activation (just before execution): the final digest is still on
   the allowlist and the policy still decides approved_trusted now
   (approvals present, unexpired, not revoked or downgraded).

A gate is observed only when every skill passed the gates before it (a
failing pre-resolution means nothing is fetched or read); the policy
decides, and the first failure is the one policy error startup stops with.
On success the caller signs a startup attestation listing every loaded
skill's digest, signer, source and dependency evidence.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from gate.errors import InputError
from gate.profile import Profile
from gate.skills.store import SkillStore

GATES = ("pre_resolution", "artifact_verification", "dependency_graph", "runtime_activation")
MAX_MANIFEST = 1024 * 1024
MAX_SKILLS = 500
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
STARTUP_PREDICATE = "https://gate.dev/skills/startup/v1"


def load_manifest(path: str) -> tuple[dict[str, Any], str]:
    """The manifest and its sha256, or InputError naming the file and the problem."""
    from gate.document import read_bytes

    data = read_bytes(path, MAX_MANIFEST)
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not JSON: {exc}") from None
    if not isinstance(value, dict) or not isinstance(value.get("skills"), list):
        raise InputError(f"{path}: a skill manifest is an object with a skills list")
    if len(value["skills"]) > MAX_SKILLS:
        raise InputError(f"{path}: more than {MAX_SKILLS} skills")
    for i, entry in enumerate(value["skills"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise InputError(f"{path}: skills[{i}] is not an object with a name")
    return value, "sha256:" + hashlib.sha256(data).hexdigest()


def _text(value: Any, limit: int = 2048) -> str:
    return str(value)[:limit] if value is not None else ""


def _pre_resolution(
    entry: dict[str, Any], manifest: dict[str, Any], allow: dict[str, Any], trusted: list[str]
) -> dict[str, Any]:
    digest = _text(entry.get("digest"), 128)
    registry = _text(entry.get("registry"), 2048)
    return {
        "pinned": bool(_DIGEST.match(digest)),
        "registry": registry,
        "trusted_registry": registry in trusted,
        "allowlisted": digest in allow["byDigest"],
        "revoked": digest in allow["revokedDigests"],
        "runtime_fetch": manifest.get("allowRuntimeFetch") is not False or entry.get("fetch") == "runtime",
    }


def _artifact(
    entry: dict[str, Any], published: dict[str, Any], profile: Profile, base: Path
) -> dict[str, Any]:
    from gate.document import read_bytes
    from gate.evidence.skill.package import load
    from gate.evidence.skill.signature import MAX_ENVELOPE, verify

    out: dict[str, Any] = {
        "expected_signer": published.get("signer"),
        "expected_source": published.get("source"),
    }
    path = entry.get("path")
    if not isinstance(path, str):
        return {**out, "package_present": False, "error": "the manifest gives no path to the fetched package"}
    target = base / path
    try:
        package = load(str(target))
    except InputError as exc:
        return {**out, "package_present": False, "error": str(exc)[:500]}
    out.update(package_present=True, package_digest=package.digest)
    signature = entry.get("signature")
    data = read_bytes(str(base / signature), MAX_ENVELOPE + 1) if isinstance(signature, str) else None
    signers = dict(profile.settings.get("skills", {}).get("signers", {}))
    out["signature"] = verify(data, package.digest, signers, package.kind)
    declared = entry.get("source")
    out["source_declared"] = _text(declared, 2100) if declared is not None else None
    expected = published.get("source") or {}
    expected_text = (
        f"{expected.get('repo')}@{expected.get('commit')}"
        if expected.get("kind") == "source"
        else expected.get("artifact_digest")
    )
    out["source_expected"] = expected_text
    out["source_matches"] = declared is not None and declared == expected_text
    return out


def _dependencies(
    entry: dict[str, Any], published: dict[str, Any], profile: Profile, base: Path
) -> dict[str, Any]:
    from gate.evidence.skill.analyse import analyse
    from gate.evidence.skill.package import load
    from gate.formats.skilldeps import analyse_manifests

    want = sorted(json.dumps(d, sort_keys=True) for d in published.get("dependencies", []))
    package = load(str(base / str(entry.get("path"))))
    analysis = analyse(package)
    from gate.evidence.skill.collect import _deps_policy

    settings = profile.settings.get("skills", {})
    report = analyse_manifests(analysis.manifests, _deps_policy(settings, ())) if analysis.manifests else None
    have_items = [
        {"ecosystem": d.ecosystem, "name": d.name, "spec": d.spec, "pinned": d.pinned, "source": d.source}
        for d in (report.dependencies if report else [])
    ]
    have = sorted(json.dumps(d, sort_keys=True) for d in have_items)
    return {
        "sbom_present": bool(published.get("evidence", {}).get("sbom")),
        "sbom": published.get("evidence", {}).get("sbom"),
        "dependencies": have_items[:2000],
        "unpinned": [f"{d['ecosystem']}:{d['name']}" for d in have_items if not d["pinned"]][:200],
        "untrusted": [
            f"{d['ecosystem']}:{d['name']} ({d['source']})" for d in have_items if d["source"] != "registry"
        ][:200],
        "drift": sorted(set(want) ^ set(have))[:50],
    }


def _activation(skills: SkillStore, digest: str, profile: Profile, engine: str) -> dict[str, Any]:
    from gate.skills.pipeline import _with, decide, record_evidence, verified_approvals

    allow = skills.allowlist()
    out: dict[str, Any] = {
        "allowlisted": digest in allow["byDigest"],
        "revoked": digest in allow["revokedDigests"],
    }
    from gate.registry.store import RegistryError

    try:
        submission = skills.get(digest)
    except RegistryError:
        return {**out, "state": None, "outcome_now": None}
    out["state"] = submission.state
    scan = skills.artifacts(submission.id).get("scan")
    if scan is None:
        return {**out, "outcome_now": None}
    document = _with(
        scan["content"],
        approvals=verified_approvals(skills.statements(submission.id), profile),
        **record_evidence(skills, submission),
    )
    decision = decide(document, profile, engine)
    out["outcome_now"] = decision["skill"]["outcome"]
    out["reasons_now"] = [code for code in decision["reasons"] if code != "skill_approved"][:50]
    return out


def observe(
    manifest: dict[str, Any], manifest_sha: str, base: Path, skills: SkillStore, profile: Profile, engine: str
) -> dict[str, Any]:
    """The startup input document: what each gate observed, gate after gate."""
    from datetime import datetime, timezone

    allow = skills.allowlist()
    trusted = list(profile.settings.get("skills", {}).get("trusted_registries", []))
    entries = manifest["skills"]
    observed: list[dict[str, Any]] = [
        {"name": _text(e["name"], 128), "digest": _text(e.get("digest"), 128), "gates": {}} for e in entries
    ]
    reached: list[str] = []
    for gate in GATES:
        reached.append(gate)
        for entry, seen in zip(entries, observed, strict=True):
            published = (allow["byDigest"].get(seen["digest"]) or {}) if _DIGEST.match(seen["digest"]) else {}
            if gate == "pre_resolution":
                seen["gates"][gate] = _pre_resolution(entry, manifest, allow, trusted)
            elif gate == "artifact_verification":
                seen["gates"][gate] = _artifact(entry, published, profile, base)
            elif gate == "dependency_graph":
                seen["gates"][gate] = _dependencies(entry, published, profile, base)
            else:
                seen["gates"][gate] = _activation(skills, seen["digest"], profile, engine)
        if not _passes(gate, observed):
            break
    return {
        "gate": {
            "version": "1",
            "mode": "static",
            "now": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "profile": {"name": profile.name, "sha256": profile.sha256},
        },
        "subject": {
            "kind": "skill-startup",
            "ref": _text(manifest.get("workflow", "workflow"), 256),
            "digest": manifest_sha,
        },
        "evidence": {
            "startup": {
                "gates_reached": reached,
                "allow_runtime_fetch": manifest.get("allowRuntimeFetch") is not False,
                "skills": observed,
            }
        },
    }


def _passes(gate: str, observed: list[dict[str, Any]]) -> bool:
    """Whether every skill looks clean at *gate* (only to decide whether to observe the next one;
    the policy decides)."""
    for seen in observed:
        g = seen["gates"].get(gate, {})
        if gate == "pre_resolution" and not (
            g["pinned"]
            and g["trusted_registry"]
            and g["allowlisted"]
            and not g["revoked"]
            and not g["runtime_fetch"]
        ):
            return False
        if gate == "artifact_verification" and not (
            g.get("package_present")
            and g.get("package_digest") == seen["digest"]
            and g.get("signature", {}).get("verified")
            and g.get("source_matches")
        ):
            return False
        if gate == "dependency_graph" and (
            not g["sbom_present"] or g["unpinned"] or g["untrusted"] or g["drift"]
        ):
            return False
    return True


def attestation(document: dict[str, Any], decision: dict[str, Any], skills: SkillStore) -> dict[str, Any]:
    """The startup attestation: every loaded skill's digest, signer, source and dependency evidence."""
    allow = skills.allowlist()
    loaded = []
    for seen in document["evidence"]["startup"]["skills"]:
        published = allow["byDigest"].get(seen["digest"], {})
        artifact = seen["gates"].get("artifact_verification", {})
        deps = seen["gates"].get("dependency_graph", {})
        loaded.append(
            {
                "name": seen["name"],
                "digest": seen["digest"],
                "signer": artifact.get("signature", {}).get("signer"),
                "signer_keyid": artifact.get("signature", {}).get("keyid"),
                "source": published.get("source"),
                "registry": seen["gates"]["pre_resolution"]["registry"],
                "dependencies": deps.get("dependencies", []),
                "evidence": {
                    **published.get("evidence", {}),
                    "approvals": published.get("approvalRecord", []),
                },
            }
        )
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [
            {"name": s["name"], "digest": {"sha256": s["digest"].removeprefix("sha256:")}} for s in loaded
        ],
        "predicateType": STARTUP_PREDICATE,
        "predicate": {
            "workflow": document["subject"]["ref"],
            "manifest": document["subject"]["digest"],
            "decided_at": document["gate"]["now"],
            "profile": document["gate"]["profile"],
            "verdict": decision["verdict"],
            "gates": list(GATES),
            "skills": loaded,
        },
    }
