"""The skill tables on both engines: append-only by the database, one winner in a transition race."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gate.registry.store import RegistryError, Store
from gate.skills.store import SkillStore
from tests.registry_of_record.conftest import db_url, postgres_url  # noqa: F401  (fixtures, both engines)

DIGEST = "sha256:" + "ab" * 32
INTAKE = {"name": "pdf-text", "digest": DIGEST, "tier": "trusted", "submitter": "alice"}

_RACER = """
import sys
from gate.registry.store import RegistryError, Store
from gate.skills.store import SkillStore
skills = SkillStore(Store(sys.argv[1], actor=sys.argv[2]))
found = skills.get("pdf-text")
try:
    skills.transition(found, "pending_scan", "pending_policy", {"reasons": ["skill_transition_allowed"]})
    print("recorded")
except RegistryError as exc:
    print("refused", exc)
"""


def test_intake_transitions_artifacts_and_allowlist(db_url: str) -> None:  # noqa: F811
    skills = SkillStore(Store(db_url, actor="ci"))
    assert skills.intake("pdf-text", DIGEST, INTAKE)["state"] == "pending_scan"
    found = skills.get("pdf-text")
    assert skills.get(DIGEST).id == skills.get(f"#{found.id}").id == found.id
    scan_digest = skills.add_artifact(found, "scan", {"evidence": {}})
    assert skills.artifacts(found.id)["scan"]["sha256"] == scan_digest
    skills.transition(found, "pending_scan", "pending_policy", {"reasons": []})
    with pytest.raises(RegistryError, match="is pending_policy now, not pending_scan"):
        skills.transition(found, "pending_scan", "rejected_scan", {"reasons": []})
    found = skills.get("pdf-text")
    with pytest.raises(RegistryError, match="not approved_trusted"):
        skills.publish(found, {"name": "pdf-text"})
    skills.transition(found, "pending_policy", "approved_trusted", {"reasons": []})
    skills.publish(skills.get("pdf-text"), {"name": "pdf-text", "digest": DIGEST})
    assert list(skills.allowlist()["byDigest"]) == [DIGEST]
    skills.revoke(skills.get("pdf-text"), "compromised", {"reasons": []}, {"reason": "compromised"})
    allow = skills.allowlist()
    assert allow["byDigest"] == {} and allow["revokedDigests"] == [DIGEST]
    assert skills.get(DIGEST).state == "revoked"
    # a re-intake is a new submission, and the revocation still stands
    again = skills.intake("pdf-text", DIGEST, INTAKE)
    assert again["id"] != found.id and skills.get(DIGEST).state == "pending_scan"
    assert skills.allowlist()["revokedDigests"] == [DIGEST]
    assert [r["reason"] for r in skills.standing_revocations(DIGEST)] == ["compromised"]
    renewed = skills.get(DIGEST)
    skills.transition(renewed, "pending_scan", "pending_policy", {"reasons": []})
    assert skills.allowlist()["revokedDigests"] == [DIGEST]
    # restored only when the new submission reaches approved_trusted; the old publication never returns
    skills.transition(skills.get(DIGEST), "pending_policy", "approved_trusted", {"reasons": []})
    allow = skills.allowlist()
    assert allow["revokedDigests"] == [] and allow["byDigest"] == {}
    assert skills.standing_revocations(DIGEST) == []
    skills.publish(skills.get(DIGEST), {"name": "pdf-text", "digest": DIGEST})
    assert list(skills.allowlist()["byDigest"]) == [DIGEST]
    assert skills.store.verify_events()["valid"]


@pytest.mark.parametrize("statement", ["UPDATE {t} SET {c} = 'x'", "DELETE FROM {t}"])
def test_the_database_refuses_to_rewrite_skill_history(db_url: str, statement: str) -> None:  # noqa: F811
    from sqlalchemy import text

    skills = SkillStore(Store(db_url, actor="ci"))
    skills.intake("pdf-text", DIGEST, INTAKE)
    found = skills.get("pdf-text")
    skills.transition(found, "pending_scan", "pending_policy", {"reasons": []})
    skills.add_artifact(found, "scan", {})
    tables = {"skill_submissions": "name", "skill_transitions": "to_state", "skill_artifacts": "kind"}
    for table, column in tables.items():
        with pytest.raises(Exception, match="append-only"), skills.store.engine.begin() as conn:
            conn.execute(text(statement.format(t=table, c=column)))


def test_two_processes_racing_a_skill_transition_record_exactly_one(db_url: str) -> None:  # noqa: F811
    skills = SkillStore(Store(db_url, actor="ci"))
    skills.intake("pdf-text", DIGEST, INTAKE)
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, db_url, f"racer-{i}"], stdout=subprocess.PIPE, text=True
        )
        for i in range(6)
    ]
    outcomes = [p.communicate(timeout=120)[0].strip() for p in racers]
    assert sum(o == "recorded" for o in outcomes) == 1, outcomes
    assert all(o == "recorded" or o.startswith("refused") for o in outcomes)
    assert [h["to"] for h in skills.history("pdf-text")] == ["pending_policy"]
    assert skills.store.verify_events()["valid"]
