"""Emergency revocation of a skill digest: a signed statement, decided in Rego, recorded at once.

A revocation is a DSSE envelope over an in-toto statement
(``https://gate.dev/revocation/v1``, ``schemas/revocation-statement.schema.json``)
naming the revoker, the revocation role and the reason, bound to the package
digest, signed like an approval (:mod:`gate.registry.approvals`). gate
verifies the signature against the key the profile lists for the revoker
(``skills.people``) and hands the verified record to the skills policy, which
decides whether it counts (a revocation role the profile lists, held by the
revoker, this digest, signed since this submission was taken in and not in
the future). Only then is the revocation recorded and the profile's
notification command run.
"""

from __future__ import annotations

import json
from typing import Any

from gate.profile import Profile
from gate.skills.pipeline import _now, _with, decide, record_evidence
from gate.skills.store import SkillStore, Submission


def make(submission: Submission, revoker: str, role: str, reason: str) -> dict[str, Any]:
    """The unsigned revocation statement for *submission*'s digest."""
    from gate.registry.approvals import make_statement

    return make_statement(
        "revocation",
        name=submission.name,
        version=submission.digest,
        digest=submission.digest,
        approver=revoker,
        role=role,
        why=reason,
    )


def verified(envelope: Any, profile: Profile) -> dict[str, Any]:
    """The revocation statement as the skills policy reads it (signature checked against the profile)."""
    from gate.registry.approvals import verify_statement

    people = dict(profile.settings.get("skills", {}).get("people", {}))
    return verify_statement(envelope, "revocation", people)


def revoke(
    skills: SkillStore, ref: str, envelope: dict[str, Any], profile: Profile, engine: str
) -> dict[str, Any]:
    """Revoke the latest submission of *ref*'s digest if the policy counts the signed statement."""
    submission = skills.get(ref)
    statement = verified(envelope, profile)
    scanned = skills.artifacts(submission.id).get("scan", {}).get("content")
    base = scanned or _bare_document(submission, profile)
    request = {"kind": "transition", "from": submission.state, "to": "revoked"}
    document = _with(base, request=request, revocation=statement, **record_evidence(skills, submission))
    decision = decide(document, profile, engine)
    allowed = decision.get("transition", {}).get("allowed") is True and decision["verdict"] == "promote"
    if not allowed:
        return {"decision": decision, "recorded": False}
    record = {
        "reason": statement["reason"],
        "revoker": statement["revoker"],
        "role": statement["role"],
        "signed_at": statement["signed_at"],
        "keyid": statement.get("keyid"),
        "statement": envelope,
        "previous_state": submission.state,
        "at": _now(),
    }
    result = skills.revoke(submission, statement["reason"], decision, record)
    notified = _notify(profile, {**result, "revoker": statement["revoker"], "role": statement["role"]})
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
    argv = list(profile.settings.get("skills", {}).get("revocation_notify", []))
    if not argv:
        return {"ran": False}
    from gate import procs

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
