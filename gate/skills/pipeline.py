"""The quarantine's steps, each decided in Rego and recorded only when allowed.

intake (pending_scan) -> scan (rejected_scan | pending_policy) -> evaluate
(approved_limited | approved_trusted | rejected_policy) -> approve / publish;
revoke (:mod:`gate.skills.revocation`) at any time. Every step re-reads the
package and checks its digest against the intake, builds the input document
(:mod:`gate.evidence.skill`), adds the verified approvals, the submission's
intake time and the digest's standing revocations, and the transition asked,
and lets ``data.gate.main.decision`` decide.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from gate.errors import GateError, UsageError
from gate.evidence.skill.collect import SkillRequest
from gate.profile import Profile
from gate.skills.store import SkillStore, Submission


class SkillRefused(GateError):
    """A step the policy refused (the decision says why)."""

    exit_code = 1


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_from_intake(intake: dict[str, Any], path: str | None = None) -> SkillRequest:
    """The collector request an intake record declares."""
    return SkillRequest(
        path=path or intake["path"],
        source=intake.get("source"),
        artifact_digest=intake.get("artifact_digest"),
        maintainers=tuple(intake.get("maintainers", [])),
        deps=tuple(intake.get("deps", [])),
        network=intake.get("network"),
        tier=intake.get("tier"),
        submitter=intake.get("submitter"),
        owner=intake.get("owner"),
        rollback=intake.get("rollback"),
        update_cadence=intake.get("update_cadence"),
        signature=intake.get("signature_file"),
        sbom=intake.get("sbom_file"),
        intake_digest=intake["digest"],
    )


def verified_approvals(envelopes: list[dict[str, Any]], profile: Profile) -> list[dict[str, Any]]:
    """Each recorded approval as the approval package reads it (signature verified against the profile)."""
    from gate.registry.approvals import verify_statement

    people = dict(profile.settings.get("skills", {}).get("people", {}))
    return [verify_statement(e, "approval", people) for e in envelopes]


_DECIDERS: dict[tuple[str, str, str], Any] = {}


def decide(document: dict[str, Any], profile: Profile, engine: str) -> dict[str, Any]:
    """``data.gate.main.decision`` for a schema-checked skill input document.

    One Decider (policies loaded and compiled once) per profile and engine in
    a process: a scan of many skills, or a command that decides twice, pays
    for the policy once.
    """
    from gate.cli.eval import _validated
    from gate.decide import Decider

    key = (profile.path, profile.sha256, engine)
    if key not in _DECIDERS:
        _DECIDERS[key] = Decider(profile, engine)
    decision: dict[str, Any] = _DECIDERS[key].decide(_validated(document))
    return decision


_EVIDENCE = ("approvals", "submission", "revocations", "revocation")


def _with(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(document))
    out["gate"]["now"] = _now()
    for key, value in changes.items():
        if key in _EVIDENCE:
            out.setdefault("evidence", {})[key] = value
        else:
            out[key] = value
    return out


def record_evidence(skills: SkillStore, submission: Submission) -> dict[str, Any]:
    """What the registry records about this submission's digest, for the policy: when this
    submission was taken in, and the digest's revocations that still stand."""
    return {
        "submission": {"id": submission.id, "submitted_at": submission.at},
        "revocations": skills.standing_revocations(submission.digest),
    }


def _transition(
    skills: SkillStore,
    submission: Submission,
    document: dict[str, Any],
    to: str,
    profile: Profile,
    engine: str,
    actor: str | None = None,
) -> dict[str, Any]:
    request: dict[str, Any] = {"kind": "transition", "from": submission.state, "to": to}
    if actor:
        request["actor"] = actor
    decision = decide(_with(document, request=request), profile, engine)
    allowed = decision.get("transition", {}).get("allowed") is True and decision["verdict"] == "promote"
    recorded = skills.transition(submission, submission.state, to, decision) if allowed else None
    return {"decision": decision, "from": submission.state, "to": to, "recorded": recorded is not None}


def scan(
    skills: SkillStore, ref: str, profile: Profile, engine: str, path: str | None = None
) -> dict[str, Any]:
    """pending_scan -> rejected_scan | pending_policy, with the scan artifact stored."""
    from gate.evidence.skill.collect import collect_document

    submission = skills.get(ref)
    if submission.state != "pending_scan":
        raise UsageError(
            f"{submission.name} ({submission.digest}) is {submission.state}; only pending_scan is scanned"
        )
    document = collect_document(request_from_intake(submission.intake, path), profile)
    first = decide(document, profile, engine)
    to = "rejected_scan" if first["skill"]["outcome"] == "rejected_scan" else "pending_policy"
    skills.add_artifact(submission, "scan", document)
    result = _transition(
        skills, submission, _with(document, **record_evidence(skills, submission)), to, profile, engine
    )
    skills.add_artifact(submission, "policy", result["decision"])
    return result


def evaluate(skills: SkillStore, ref: str, profile: Profile, engine: str) -> dict[str, Any]:
    """pending_policy (or an approved state) -> what the policy and approvals now decide."""
    submission = skills.get(ref)
    if submission.state not in ("pending_policy", "approved_limited", "approved_trusted"):
        raise UsageError(
            f"{submission.name} ({submission.digest}) is {submission.state}; nothing to evaluate"
        )
    scanned = skills.artifacts(submission.id).get("scan")
    if scanned is None:
        raise UsageError(f"{submission.name}: no scan artifact is recorded; run gate skill scan first")
    document = _with(
        scanned["content"],
        approvals=verified_approvals(skills.statements(submission.id), profile),
        **record_evidence(skills, submission),
    )
    first = decide(document, profile, engine)
    to = first["skill"]["outcome"]
    if to == "revoked":
        raise SkillRefused(
            f"{submission.name} ({submission.digest}): the digest is revoked; "
            "it returns only through a new gate skill intake"
        )
    if to == submission.state:
        return {"decision": first, "from": submission.state, "to": to, "recorded": False, "unchanged": True}
    result = _transition(skills, submission, document, to, profile, engine)
    if result["recorded"]:
        skills.add_artifact(submission, "policy", result["decision"])
    return result


def publish(skills: SkillStore, ref: str, profile: Profile, engine: str) -> dict[str, Any]:
    """Publish an approved_trusted submission, re-decided now, with its evidence by digest."""
    submission = skills.get(ref)
    if submission.state != "approved_trusted":
        raise SkillRefused(
            f"{submission.name} ({submission.digest}) is {submission.state}; "
            "only approved_trusted is published"
        )
    artifacts = skills.artifacts(submission.id)
    missing = [k for k in ("scan", "policy") if k not in artifacts]
    if missing:
        raise SkillRefused(f"{submission.name}: no {' or '.join(missing)} artifact is recorded")
    statements = skills.statements(submission.id)
    approvals = verified_approvals(statements, profile)
    document = _with(artifacts["scan"]["content"], approvals=approvals, **record_evidence(skills, submission))
    decision = decide(document, profile, engine)
    if decision["skill"]["outcome"] != "approved_trusted":
        raise SkillRefused(
            f"{submission.name}: the policy now decides {decision['skill']['outcome']} "
            f"({', '.join(decision['reasons'])}); re-run gate skill evaluate"
        )
    skill = document["evidence"]["skill"]
    if skill.get("sbom", {}).get("present") is not True:
        raise SkillRefused(f"{submission.name}: no SBOM was submitted")
    record = {
        "name": submission.name,
        "digest": submission.digest,
        "source": skill["declared"]["source"],
        "signer": skill["signature"].get("signer"),
        "signature_keyid": skill["signature"].get("keyid"),
        # only the approvals the policy counted (not a self-approval, not one person's second role)
        "approvalRecord": decision["skill"]["approvals_counted"],
        "evidence": {
            "scan": artifacts["scan"]["sha256"],
            "policy": artifacts["policy"]["sha256"],
            "sbom": skill["sbom"]["sha256"],
            "decision": "sha256:" + _digest_json(decision),
        },
        "dependencies": [
            {k: d[k] for k in ("ecosystem", "name", "spec", "pinned", "source")}
            for d in skill["dependencies"]["items"]
        ],
    }
    skills.publish(submission, record)
    return {"published": True, "record": record}


def _digest_json(value: Any) -> str:
    from gate.skills.store import sha256_of

    return sha256_of(value).removeprefix("sha256:")
