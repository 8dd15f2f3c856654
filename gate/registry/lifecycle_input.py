"""The input document for a lifecycle decision, built from the registry's records.

``build_input(version, request_kind, to, now, ...)`` turns what the store holds
about one model version (its record, attachments, current state) and what the
operator supplied for this request (a verified gate attestation, a named
replacement) into a ``model-version`` input for ``data.gate.main.decision``
(policy ``lifecycle``). It records; Rego decides.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from gate.registry.store import Version


def _latest_prompt_change(record: dict[str, Any]) -> str | None:
    times = [p["changed_at"] for p in record.get("prompts", []) if p.get("changed_at")]
    return max(times) if times else None


def _attached(version: Version, kind: str) -> list[dict[str, Any]]:
    return [a for a in version.attachments if a["kind"] == kind]


def build_input(
    version: Version,
    *,
    request_kind: str,
    to: str | None,
    now: datetime,
    profile: Any,
    gate_decisions: list[dict[str, Any]] | None = None,
    replacement: str | None = None,
    deprecated_at: str | None = None,
    statements: list[tuple[str, dict[str, Any]]] | None = None,
    verified: list[tuple[str, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The input document; *statements* are (kind, envelope) verified here, *verified* are
    (kind, evidence record) already verified (``approvals.StatementVerifier``)."""
    record = version.record
    owners = record.get("owners", {})
    evidence: dict[str, Any] = {
        "version": version.version,
        "risk_rating": record.get("risk", {}).get("rating", "critical"),
        "owner": owners.get("owner", ""),
        "backup_owner": owners.get("backup_owner", ""),
        "submitter": version.registered_by,
        "prompts_changed_at": _latest_prompt_change(record),
        "replacement": replacement,
        "deprecated_at": deprecated_at,
        "sbom": [{"sha256": a["sha256"], "at": a["at"]} for a in _attached(version, "sbom")],
        "provenance": [{"sha256": a["sha256"], "at": a["at"]} for a in _attached(version, "provenance")],
        "scans": [
            {"sha256": a["sha256"], "at": a["at"], "critical": list(a["summary"].get("critical", []))}
            for a in _attached(version, "scan")
        ],
        "evals": [
            {
                "sha256": a["sha256"],
                "at": a["at"],
                "evaluated_at": a["summary"]["evaluated_at"],
                "scores": a["summary"]["scores"],
            }
            for a in _attached(version, "evals")
        ],
        "gate_decisions": gate_decisions or [],
        "approvals": [],
        "exceptions": [],
    }
    from gate.registry.approvals import verify_statement

    records = list(verified or [])
    if statements:
        people = dict(profile.settings.get("lifecycle", {}).get("people", {}))
        records += [(kind, verify_statement(envelope, kind, people)) for kind, envelope in statements]
    for kind, found in records:
        evidence["approvals" if kind == "approval" else "exceptions"].append(found)
    request: dict[str, Any] = {"kind": request_kind, "from": version.state}
    if to is not None:
        request["to"] = to
    return {
        "gate": {
            "version": "1",
            "mode": "runtime",
            "now": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "profile": {"name": profile.name, "sha256": profile.sha256},
            "nonce": secrets.token_hex(16),
        },
        "subject": {
            "kind": "model-version",
            "ref": f"{version.name}@{version.version}",
            "digest": version.checksum,
        },
        "request": request,
        "evidence": {"record": evidence},
    }


def verified_decision(path: str, key_spec: str, checksum: str) -> dict[str, Any]:
    """A gate attestation (gate eval --attest) checked against *key_spec*: the gate_decisions entry."""
    from gate.attest.bundle import AttestationFileError, parse_attestations
    from gate.attest.keys import load_verify_key
    from gate.attest.verify import Options, verify_attestations
    from gate.document import read_bytes

    try:
        signed = parse_attestations(read_bytes(path))
    except AttestationFileError as exc:
        return {"digest": checksum, "verdict": "", "verified": False, "error": f"{path}: {exc}"[:500]}
    result = verify_attestations(
        signed, Options(key=load_verify_key(key_spec), digest=checksum.removeprefix("sha256:"))
    )
    failed = result.failed
    return {
        "digest": checksum,
        "verdict": "promote" if result.valid else "",
        "verified": result.valid,
        **({"error": f"{failed.name}: {failed.detail}"[:500]} if failed else {}),
    }
