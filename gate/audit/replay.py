"""Replay: what would a candidate policy or profile have decided about every recorded decision?

Each ``decision`` event names its input document by digest, and the
document is kept beside the log (``inputs/<sha256>.json``). Replaying
evaluates that exact document under the candidate and compares verdict and
reasons with what was recorded. Time is part of the document (``gate.now``),
so a replay answers "what would it have decided then", not "now".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gate import schemas
from gate.attest.verify import parse_time
from gate.audit.entry import Entry
from gate.audit.events import DECISION
from gate.audit.log import AuditLog
from gate.decide import Decider
from gate.document import parse_json
from gate.errors import GateError


@dataclass(frozen=True)
class Change:
    """One recorded decision that the candidate decides differently."""

    seq: int
    """The audit entry."""
    time: str
    """When it was recorded."""
    subject: str
    """Subject name (ref) as recorded."""
    subject_digest: str | None
    """Subject digest as recorded."""
    input_digest: str
    """The input document replayed."""
    old_verdict: str
    """Recorded verdict."""
    new_verdict: str
    """Verdict under the candidate."""
    added: tuple[str, ...]
    """Reasons the candidate adds (in its order)."""
    removed: tuple[str, ...]
    """Reasons the candidate no longer gives (in the recorded order)."""

    def as_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "seq": self.seq,
            "time": self.time,
            "subject": self.subject,
            "subject_digest": self.subject_digest,
            "input_digest": self.input_digest,
            "old": self.old_verdict,
            "new": self.new_verdict,
            "reasons_added": list(self.added),
            "reasons_removed": list(self.removed),
        }


@dataclass
class ReplayResult:
    """Totals and every change."""

    replayed: int = 0
    """Decisions evaluated again."""
    changes: list[Change] = field(default_factory=list)
    """Those that came out differently (verdict or reasons)."""
    errors: list[dict[str, Any]] = field(default_factory=list)
    """{seq, detail} for decisions that could not be replayed."""

    @property
    def unchanged(self) -> int:
        """Replayed with the same verdict and reasons."""
        return self.replayed - len(self.changes)

    def transitions(self) -> dict[str, int]:
        """``old → new`` verdict counts among the changes."""
        counts = Counter(f"{c.old_verdict} → {c.new_verdict}" for c in self.changes)
        return dict(sorted(counts.items()))


def _reasons(value: Any) -> list[str]:
    return [r for r in value if isinstance(r, str)] if isinstance(value, list) else []


def replay_entry(log: AuditLog, decider: Decider, entry: Entry) -> Change | None:
    """Re-decide one recorded decision; None when nothing changes. Raises GateError when it cannot."""
    recorded = entry.data.get("input_digest")
    if not isinstance(recorded, str) or not recorded.startswith("sha256:"):
        raise GateError("the event names no input document")
    digest = recorded.removeprefix("sha256:")
    source = f"inputs/{digest}.json"
    document = parse_json(source, log.load_input(digest))
    problems = schemas.problems("input", document.value)
    if problems:
        raise GateError(f"{source}: no longer matches the input schema: {problems[0]}")
    decision = decider.decide(document)
    old_reasons = _reasons(entry.data.get("reasons"))
    old_verdict = str(entry.data.get("verdict"))
    new_reasons = list(decision["reasons"])
    if decision["verdict"] == old_verdict and set(new_reasons) == set(old_reasons):
        return None
    subject = entry.data.get("subject")
    name = subject.get("name") or subject.get("ref") if isinstance(subject, dict) else None
    return Change(
        entry.seq,
        entry.time,
        str(name or "-"),
        entry.subject_digest,
        recorded,
        old_verdict,
        decision["verdict"],
        tuple(r for r in new_reasons if r not in old_reasons),
        tuple(r for r in old_reasons if r not in new_reasons),
    )


def replay(log: AuditLog, decider: Decider, *, since: datetime | None = None) -> ReplayResult:
    """Replay every ``decision`` event (recorded at or after *since*) under *decider*."""
    result = ReplayResult()
    for entry in log.entries():
        if entry.event != DECISION:
            continue
        if since is not None:
            moment = parse_time(entry.time)
            if moment is None or moment < since:
                continue
        try:
            change = replay_entry(log, decider, entry)
        except GateError as exc:
            result.errors.append({"seq": entry.seq, "detail": str(exc)})
            continue
        result.replayed += 1
        if change is not None:
            result.changes.append(change)
    return result
