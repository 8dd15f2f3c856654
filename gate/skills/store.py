"""The quarantine registry and the trusted registry, in the registry of record's database.

Submissions, transitions, artifacts (scan input, policy decision, SBOM,
signature), signed approvals, publications and revocations are rows in
append-only tables (:mod:`gate.skills.models`, migration 0003); every change
appends a hash-chained event to the database's event table and, when an
audit log is configured, to the audit log, through the registry
:class:`~gate.registry.store.Store` the skill store wraps. Transitions are
recorded only from the state they were decided for, inside the write, so two
racing writers end with exactly one transition.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from gate.registry.store import RegistryError, Store, _canonical, _iso

INITIAL = "pending_scan"
STATES = (
    "pending_scan",
    "pending_policy",
    "rejected_scan",
    "approved_limited",
    "approved_trusted",
    "rejected_policy",
    "revoked",
)


def sha256_of(value: Any) -> str:
    """The sha256 of a JSON value's canonical bytes, ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(_canonical(value)).hexdigest()


@dataclass
class Submission:
    """One intake of one package digest, with its current state."""

    id: int
    name: str
    digest: str
    intake: dict[str, Any]
    state: str
    at: str | None
    actor: str

    def to_json(self) -> dict[str, Any]:
        """As ``gate skill show -o json`` prints it."""
        return {
            "id": self.id,
            "name": self.name,
            "digest": self.digest,
            "state": self.state,
            "submitted_at": self.at,
            "submitted_by": self.actor,
            "intake": self.intake,
        }


class SkillStore:
    """Skills in the registry database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- reading ---

    def _state(self, session: Any, submission_id: int) -> tuple[str, int]:
        from sqlalchemy import select

        from gate.skills.models import SkillTransition

        row = session.execute(
            select(SkillTransition.to_state, SkillTransition.seq)
            .where(SkillTransition.submission_id == submission_id)
            .order_by(SkillTransition.seq.desc())
            .limit(1)
        ).first()
        return (row[0], row[1]) if row else (INITIAL, 0)

    def _find(self, session: Any, ref: str) -> Any:
        """The latest submission for a digest, a name, or ``#ID``."""
        from sqlalchemy import select

        from gate.skills.models import SkillSubmission

        query = select(SkillSubmission)
        if ref.startswith("#") and ref[1:].isdigit():
            query = query.where(SkillSubmission.id == int(ref[1:]))
        elif ref.startswith("sha256:"):
            query = query.where(SkillSubmission.digest == ref)
        else:
            query = query.where(SkillSubmission.name == ref)
        found = session.execute(query.order_by(SkillSubmission.id.desc()).limit(1)).scalar_one_or_none()
        if found is None:
            raise RegistryError(f"{ref}: no such skill submission")
        return found

    def get(self, ref: str) -> Submission:
        """The latest submission matching *ref* (digest, name or #ID)."""
        with self.store._tx() as session:
            found = self._find(session, ref)
            state, _ = self._state(session, found.id)
            return Submission(
                found.id, found.name, found.digest, found.intake, state, _iso(found.at), found.actor
            )

    def submissions(self, state: str | None = None) -> list[dict[str, Any]]:
        """The latest submission of every digest (optionally only those in *state*)."""
        from sqlalchemy import func, select

        from gate.skills.models import SkillSubmission

        out = []
        with self.store._tx() as session:
            latest = select(func.max(SkillSubmission.id)).group_by(SkillSubmission.digest)
            rows = session.execute(
                select(SkillSubmission).where(SkillSubmission.id.in_(latest)).order_by(SkillSubmission.name)
            ).scalars()
            for row in rows:
                current, _ = self._state(session, row.id)
                if state is None or current == state:
                    out.append({"id": row.id, "name": row.name, "digest": row.digest, "state": current})
        return out

    def history(self, ref: str) -> list[dict[str, Any]]:
        """Every transition of the submission, oldest first."""
        from sqlalchemy import select

        from gate.skills.models import SkillTransition

        with self.store._tx() as session:
            found = self._find(session, ref)
            rows = session.execute(
                select(SkillTransition)
                .where(SkillTransition.submission_id == found.id)
                .order_by(SkillTransition.seq)
            ).scalars()
            return [
                {
                    "from": r.from_state,
                    "to": r.to_state,
                    "reasons": r.reasons,
                    "at": _iso(r.at),
                    "actor": r.actor,
                }
                for r in rows
            ]

    def artifacts(self, submission_id: int) -> dict[str, dict[str, Any]]:
        """The latest artifact of each kind: {kind: {sha256, content, at}}."""
        from sqlalchemy import select

        from gate.skills.models import SkillArtifact

        out: dict[str, dict[str, Any]] = {}
        with self.store._tx() as session:
            rows = session.execute(
                select(SkillArtifact)
                .where(SkillArtifact.submission_id == submission_id)
                .order_by(SkillArtifact.id)
            ).scalars()
            for r in rows:
                out[r.kind] = {"sha256": r.sha256, "content": r.content, "at": _iso(r.at)}
        return out

    def statements(self, submission_id: int) -> list[dict[str, Any]]:
        """Every approval envelope recorded for the submission, oldest first."""
        from sqlalchemy import select

        from gate.skills.models import SkillStatement

        with self.store._tx() as session:
            return list(
                session.execute(
                    select(SkillStatement.envelope)
                    .where(SkillStatement.submission_id == submission_id)
                    .order_by(SkillStatement.id)
                ).scalars()
            )

    def publication(self, digest: str) -> dict[str, Any] | None:
        """The latest publication record of *digest*, or None."""
        from sqlalchemy import select

        from gate.skills.models import SkillPublication

        with self.store._tx() as session:
            row = session.execute(
                select(SkillPublication)
                .where(SkillPublication.digest == digest)
                .order_by(SkillPublication.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            if row is None:
                return None
            return {
                "submission_id": row.submission_id,
                "record": row.record,
                "at": _iso(row.at),
                "by": row.actor,
            }

    def _standing(self, session: Any, digest: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Revocations still standing, by digest, oldest first.

        A revocation stands until the digest is restored: a submission taken
        in after the revocation reached approved_trusted after it (a full
        re-intake, scan, evaluation and two-party approval, each decided in
        Rego). A re-intake alone restores nothing.
        """
        from sqlalchemy import select

        from gate.skills.models import SkillRevocation, SkillSubmission, SkillTransition

        revocations = select(SkillRevocation).order_by(SkillRevocation.id)
        trusted = (
            select(SkillSubmission.digest, SkillSubmission.at, SkillTransition.at)
            .join(SkillTransition, SkillTransition.submission_id == SkillSubmission.id)
            .where(SkillTransition.to_state == "approved_trusted")
        )
        if digest is not None:
            revocations = revocations.where(SkillRevocation.digest == digest)
            trusted = trusted.where(SkillSubmission.digest == digest)
        restorations: dict[str, list[tuple[str, str]]] = {}
        for row_digest, submitted, moved in session.execute(trusted).all():
            restorations.setdefault(row_digest, []).append((_iso(submitted) or "", _iso(moved) or ""))
        out: dict[str, list[dict[str, Any]]] = {}
        for r in session.execute(revocations).scalars():
            at = _iso(r.at) or ""
            if any(s > at and t > at for s, t in restorations.get(r.digest, [])):
                continue
            out.setdefault(r.digest, []).append(
                {"at": at, "reason": r.reason[:2048], "by": str(r.record.get("revoker") or r.actor)[:256]}
            )
        return out

    def standing_revocations(self, digest: str) -> list[dict[str, Any]]:
        """The revocations of *digest* that still stand (the skills policy reads them)."""
        with self.store._tx() as session:
            return self._standing(session, digest).get(digest, [])

    def revoked(self) -> dict[str, dict[str, Any]]:
        """Digests whose revocation still stands: {digest: {reason, at, by}} (the latest revocation)."""
        with self.store._tx() as session:
            return {digest: found[-1] for digest, found in self._standing(session).items()}

    # --- writing ---

    def _record(self, kind: str, subject: str, data: dict[str, Any], change: Any, digest: str | None) -> Any:
        def run(session: Any) -> Any:
            result = change(session)
            event = self.store._event(session, f"skill.{kind}", subject, data)
            return result, event

        result, event = self.store._write(run)
        self.store._audit(event, digest)
        return result, event

    def intake(self, name: str, digest: str, record: dict[str, Any]) -> dict[str, Any]:
        """Record a validated intake as a new submission in ``pending_scan``."""
        from gate.skills.models import SkillSubmission

        def change(session: Any) -> int:
            row = SkillSubmission(
                name=name,
                digest=digest,
                intake=record,
                intake_sha256=sha256_of(record).removeprefix("sha256:"),
                at=datetime.now(timezone.utc),
                actor=self.store.actor,
            )
            session.add(row)
            session.flush()
            return int(row.id)

        submission_id, event = self._record(
            "intake", f"{name}@{digest}", {"digest": digest, "state": INITIAL}, change, digest
        )
        return {"id": submission_id, "name": name, "digest": digest, "state": INITIAL, "event": event["hash"]}

    def add_artifact(self, submission: Submission, kind: str, content: Any) -> str:
        """Store an artifact (its digest is the sha256 of its canonical JSON)."""
        from gate.skills.models import SkillArtifact

        digest = sha256_of(content)

        def change(session: Any) -> None:
            session.add(
                SkillArtifact(
                    submission_id=submission.id,
                    kind=kind,
                    sha256=digest,
                    content=content,
                    at=datetime.now(timezone.utc),
                    actor=self.store.actor,
                )
            )
            session.flush()

        self._record(
            "artifact",
            f"{submission.name}@{submission.digest}",
            {"kind": kind, "sha256": digest},
            change,
            submission.digest,
        )
        return digest

    def transition(
        self, submission: Submission, expected_from: str, to: str, decision: dict[str, Any]
    ) -> dict[str, Any]:
        """Record a transition Rego allowed, only if the submission is still in *expected_from*."""
        from gate.skills.models import SkillTransition

        def change(session: Any) -> None:
            state, seq = self._state(session, submission.id)
            if state != expected_from:
                raise RegistryError(
                    f"{submission.name} ({submission.digest}): is {state} now, not {expected_from}: "
                    "the transition was not recorded"
                )
            session.add(
                SkillTransition(
                    submission_id=submission.id,
                    seq=seq + 1,
                    from_state=state,
                    to_state=to,
                    reasons=list(decision.get("reasons", [])),
                    decision=decision,
                    at=datetime.now(timezone.utc),
                    actor=self.store.actor,
                )
            )
            session.flush()

        _, event = self._record(
            "transition",
            f"{submission.name}@{submission.digest}",
            {"from": expected_from, "to": to, "reasons": list(decision.get("reasons", []))},
            change,
            submission.digest,
        )
        return {
            "name": submission.name,
            "digest": submission.digest,
            "from": expected_from,
            "to": to,
            "event": event["hash"],
        }

    def record_statement(self, submission: Submission, envelope: dict[str, Any]) -> dict[str, Any]:
        """Record a signed approval (verified against the profile by each decision)."""
        from gate.skills.models import SkillStatement

        digest = hashlib.sha256(_canonical(envelope)).hexdigest()

        def change(session: Any) -> None:
            session.add(
                SkillStatement(
                    submission_id=submission.id,
                    envelope=envelope,
                    sha256=digest,
                    at=datetime.now(timezone.utc),
                    actor=self.store.actor,
                )
            )
            session.flush()

        try:
            _, event = self._record(
                "approval",
                f"{submission.name}@{submission.digest}",
                {"statement_sha256": digest},
                change,
                submission.digest,
            )
        except RegistryError as exc:
            if "UNIQUE" in str(exc).upper() or "skill_statements" in str(exc):
                raise RegistryError(
                    f"{submission.name}: this approval statement is already recorded"
                ) from None
            raise
        return {
            "name": submission.name,
            "digest": submission.digest,
            "statement_sha256": digest,
            "event": event["hash"],
        }

    def publish(self, submission: Submission, record: dict[str, Any]) -> dict[str, Any]:
        """Record the publication of an approved_trusted submission (checked by the caller and here)."""
        from gate.skills.models import SkillPublication

        def change(session: Any) -> None:
            state, _ = self._state(session, submission.id)
            if state != "approved_trusted":
                raise RegistryError(
                    f"{submission.name} ({submission.digest}) is {state}, not approved_trusted"
                )
            session.add(
                SkillPublication(
                    submission_id=submission.id,
                    digest=submission.digest,
                    record=record,
                    at=datetime.now(timezone.utc),
                    actor=self.store.actor,
                )
            )
            session.flush()

        _, event = self._record(
            "publish",
            f"{submission.name}@{submission.digest}",
            {"digest": submission.digest, "record_sha256": sha256_of(record)},
            change,
            submission.digest,
        )
        return {"name": submission.name, "digest": submission.digest, "event": event["hash"]}

    def revoke(
        self, submission: Submission, reason: str, decision: dict[str, Any], record: dict[str, Any]
    ) -> dict[str, Any]:
        """Revoke a digest at once: the revocation row and the submission's transition to revoked.

        *record* carries the signed revocation statement the policy counted."""
        from gate.skills.models import SkillRevocation, SkillTransition

        def change(session: Any) -> str:
            state, seq = self._state(session, submission.id)
            session.add(
                SkillRevocation(
                    digest=submission.digest,
                    reason=reason,
                    record=record,
                    at=datetime.now(timezone.utc),
                    actor=self.store.actor,
                )
            )
            if state != "revoked":
                session.add(
                    SkillTransition(
                        submission_id=submission.id,
                        seq=seq + 1,
                        from_state=state,
                        to_state="revoked",
                        reasons=list(decision.get("reasons", [])),
                        decision=decision,
                        at=datetime.now(timezone.utc),
                        actor=self.store.actor,
                    )
                )
            session.flush()
            return state

        previous, event = self._record(
            "revoke",
            f"{submission.name}@{submission.digest}",
            {"digest": submission.digest, "reason": reason[:2048]},
            change,
            submission.digest,
        )
        return {
            "name": submission.name,
            "digest": submission.digest,
            "from": previous,
            "to": "revoked",
            "reason": reason,
            "event": event["hash"],
        }

    # --- the trusted allowlist ---

    def allowlist(self) -> dict[str, Any]:
        """Published, still approved_trusted digests, and the revoked ones, for runners.

        A revoked digest stays in revokedDigests (and out of byDigest) until it
        is restored through a full re-intake that reached approved_trusted, and
        then returns only once that submission is published.
        """
        from sqlalchemy import func, select

        from gate.skills.models import SkillPublication, SkillRevocation

        revoked = self.revoked()
        by_digest: dict[str, Any] = {}
        with self.store._tx() as session:
            last_revoked = dict(
                session.execute(
                    select(SkillRevocation.digest, func.max(SkillRevocation.at)).group_by(
                        SkillRevocation.digest
                    )
                ).all()
            )
            rows = session.execute(select(SkillPublication).order_by(SkillPublication.id)).scalars()
            for row in rows:
                state, _ = self._state(session, row.submission_id)
                # a publication from before the digest's latest revocation never returns
                stale = row.digest in last_revoked and _iso(row.at) <= _iso(last_revoked[row.digest])  # type: ignore[operator]
                if state != "approved_trusted" or row.digest in revoked or stale:
                    by_digest.pop(row.digest, None)
                    continue
                by_digest[row.digest] = {**row.record, "status": state, "published_at": _iso(row.at)}
        return {
            "version": 1,
            "enforcementMode": "fail_closed",
            "byDigest": dict(sorted(by_digest.items())),
            "revokedDigests": sorted(revoked),
            "revocations": revoked,
        }
