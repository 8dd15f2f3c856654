"""Intake: validate a submission and compute the package digest (nothing is scanned yet).

The intake record (``schemas/skill-intake.schema.json``) carries what the
seed requires of every submission: an immutable source (https repository
and full commit SHA, or a release artifact digest), the maintainers, the
runtime dependencies and network needs, the intended trust tier, and the
submitter; gate adds the package digest (the directory digest of a folder,
the sha256 of an archive), the package's location, and the signature and
SBOM files offered with it.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gate.errors import InputError


def build_intake(
    path: str, options: dict[str, Any], signature: str | None
) -> tuple[dict[str, Any], str, str]:
    """(intake record, skill name, package digest) for a submission, or InputError naming the problem."""
    from gate import schemas
    from gate.evidence.skill.analyse import _decode
    from gate.evidence.skill.collect import parse_network
    from gate.evidence.skill.package import load
    from gate.formats.skillmd import FrontmatterError, parse_frontmatter, split_frontmatter

    package = load(path)
    deps = [d for d in options.get("deps") or () if d.strip().lower() != "none"]
    if not options.get("deps"):
        raise InputError("--deps: declare the runtime dependencies (repeat --deps, or --deps none)")
    if options.get("network") is None:
        raise InputError("--network: declare the network needs (none, or the hosts the skill contacts)")
    parse_network(options["network"])
    name = Path(os.path.abspath(path)).name
    skill_md = next((f for f in package.files if f.path == "SKILL.md" and f.data is not None), None)
    if skill_md is not None:
        text = _decode(skill_md.data or b"")
        try:
            front, _, _ = split_frontmatter(text or "")
            meta = parse_frontmatter(front) if front is not None else {}
        except FrontmatterError:
            meta = {}
        if isinstance(meta.get("name"), str) and meta["name"].strip():
            name = meta["name"].strip()[:128]
    record: dict[str, Any] = {
        "name": name,
        "digest": package.digest,
        "path": os.path.abspath(path),
        "package_kind": package.kind,
        "maintainers": list(options.get("maintainer") or ()),
        "deps": deps,
        "network": options["network"],
        "tier": options.get("tier"),
        "submitter": options.get("submitter"),
        "submitted_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    for key in ("source", "artifact_digest", "owner", "rollback", "update_cadence"):
        if options.get(key):
            record[key] = options[key]
    if signature:
        record["signature_file"] = os.path.abspath(signature)
    if options.get("sbom"):
        record["sbom_file"] = os.path.abspath(options["sbom"])
    problems = schemas.problems("skill-intake", record)
    if problems:
        raise InputError(f"{path}: the submission is incomplete: {problems[0]}")
    return record, name, package.digest
