"""The quarantine's steps, each decided in Rego and recorded only when allowed.

intake (pending_scan) -> scan (rejected_scan | pending_policy) -> evaluate
(approved_limited | approved_trusted | rejected_policy) -> approve / publish;
revoke at any time from an approved state. Every step re-reads the package
and checks its digest against the intake, builds the input document
(:mod:`gate.evidence.skill`), adds the verified approvals and the transition
asked, and lets ``data.gate.main.decision`` decide.
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


def _with(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(document))
    out["gate"]["now"] = _now()
    for key, value in changes.items():
        if key == "approvals":
            out["evidence"]["approvals"] = value
        else:
            out[key] = value
    return out


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
    result = _transition(skills, submission, document, to, profile, engine)
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
        scanned["content"], approvals=verified_approvals(skills.statements(submission.id), profile)
    )
    first = decide(document, profile, engine)
    to = first["skill"]["outcome"]
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
    document = _with(artifacts["scan"]["content"], approvals=approvals)
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
        "approvalRecord": [
            {
                "role": a["role"],
                "approver": a["approver"],
                "signed_at": a["signed_at"],
                "keyid": a.get("keyid"),
            }
            for a in approvals
            if a.get("verified") is True
        ],
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


def revoke(
    skills: SkillStore, digest: str, reason: str, actor: str, profile: Profile, engine: str
) -> dict[str, Any]:
    """Emergency revocation by a holder of a revocation role: decided in Rego, recorded at once."""
    submission = skills.get(digest)
    artifacts = skills.artifacts(submission.id)
    base = artifacts.get("scan", {}).get("content") or _bare_document(submission, profile)
    request = {"kind": "transition", "from": submission.state, "to": "revoked", "actor": actor}
    decision = decide(_with(base, request=request), profile, engine)
    unauthorised = "skill_revocation_unauthorised" in decision["reasons"]
    if unauthorised:
        return {"decision": decision, "recorded": False}
    record = {"reason": reason, "actor": actor, "previous_state": submission.state, "at": _now()}
    result = skills.revoke(submission, reason, decision, record)
    notified = _notify(profile, {**result, "actor": actor})
    return {"decision": decision, "recorded": True, "revocation": result, "notified": notified}


def _bare_document(submission: Submission, profile: Profile) -> dict[str, Any]:
    """A minimal skill document for a submission never scanned (revocation needs only the request)."""
    return {
        "gate": {
            "version": "1",
            "mode": "static",
            "now": _now(),
            "profile": {"name": profile.name, "sha256": profile.sha256},
        },
        "subject": {"kind": "skill", "ref": submission.name, "digest": submission.digest},
        "evidence": {},
    }


def _notify(profile: Profile, event: dict[str, Any]) -> dict[str, Any]:
    """Run the profile's revocation command with the event on stdin (no shell, bounded)."""
    from gate import procs

    argv = list(profile.settings.get("skills", {}).get("revocation_notify", []))
    if not argv:
        return {"ran": False}
    try:
        done = procs.run(argv, timeout=60, input=json.dumps(event).encode(), stdout_cap=0, stderr_cap=500)
    except OSError as exc:
        return {"ran": True, "argv": argv, "error": str(exc)[:500]}
    if done.timed_out:
        return {"ran": True, "argv": argv, "error": f"timed out after 60 s and was killed: {argv[0]}"}
    return {
        "ran": True,
        "argv": argv,
        "exit_code": done.code,
        "stderr": done.stderr.decode("utf-8", "replace")[-500:],
    }
