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


def _said(statements: list[dict[str, Any]]) -> tuple[str, str, str | None]:
    """(verdict, policy digest, problem) the verified envelopes state, all of them alike."""
    from gate.attest.statement import DECISION_TYPE, VSA_TYPE

    verdicts, policies = set(), set()
    for statement in statements:
        found = statement.get("predicate")
        predicate: dict[str, Any] = found if isinstance(found, dict) else {}
        if statement.get("predicateType") == DECISION_TYPE:
            decision = predicate.get("decision")
            verdicts.add(str(decision.get("verdict", "")) if isinstance(decision, dict) else "")
        elif statement.get("predicateType") == VSA_TYPE:
            verdicts.add("promote" if predicate.get("verificationResult") == "PASSED" else "block")
        policy = predicate.get("policy")
        digest = policy.get("digest") if isinstance(policy, dict) else None
        policies.add(str(digest.get("sha256", "")) if isinstance(digest, dict) else "")
    if len(verdicts) != 1 or len(policies) != 1:
        return "", "", "the envelopes in the file do not state one verdict under one policy digest"
    return verdicts.pop()[:32], policies.pop()[:64], None


def verified_decision(
    path: str, key_spec: str | None, checksum: str, signers: dict[str, Any]
) -> dict[str, Any]:
    """A gate attestation (gate eval --attest): the ``gate_decisions`` entry the policy reads.

    The attestation is checked (``gate attest verify``'s checks, any verdict)
    with each key the profile lists under ``lifecycle.gate_signers`` and,
    when given, with *key_spec*; the entry names the profile signer whose key
    verified it (``signer``, empty when only *key_spec*'s did), that key's id,
    and the verdict and policy digest the signed statements state. Whether
    that signer and policy count is Rego's (``gate.lifecycle``).
    """
    from gate.attest.bundle import AttestationFileError, parse_attestations, payload_json
    from gate.attest.keys import load_verify_key
    from gate.attest.verify import Options, verify_attestations
    from gate.document import read_bytes
    from gate.registry.approvals import profile_key

    entry: dict[str, Any] = {"digest": checksum, "verdict": "", "verified": False}
    try:
        signed = parse_attestations(read_bytes(path))
    except AttestationFileError as exc:
        return {**entry, "error": f"{path}: {exc}"[:500]}
    keys = [(name, profile_key(signers, name, "lifecycle.gate_signers")) for name in sorted(signers)]
    if key_spec:
        keys.append(("", load_verify_key(key_spec)))
    failures: list[str] = []
    for name, key in keys:
        if key is None:
            failures.append(f"profile lifecycle.gate_signers.{name}: not a PEM public key")
            continue
        result = verify_attestations(
            signed, Options(key=key, digest=checksum.removeprefix("sha256:"), expect_verdict="any")
        )
        failed = result.failed
        if failed is not None:
            # a key that verified the signature but failed a later check says the most
            failures.insert(
                0 if failed.name != "signature" else len(failures), f"{failed.name}: {failed.detail}"
            )
            continue
        verdict, policy, problem = _said([payload_json(s.envelope) for s in signed])
        found = {**entry, "signer": name, "keyid": key.keyid, "policy_digest": policy}
        if problem:
            return {**found, "error": problem}
        return {**found, "verdict": verdict, "verified": True}
    why = (
        "; ".join(failures)
        or "the profile lists no gate signer (lifecycle.gate_signers) and no --key was given"
    )
    return {**entry, "error": f"{path}: {why}"[:500]}
