"""The events gate records, with the same field names whoever records them.

Every event's ``data`` carries, where they apply: ``verdict``, ``reasons``,
``policy_digest``, ``input_digest``, ``attestation_digest`` (all
``sha256:<hex>``) and ``actor``. ``gate eval --audit-log`` records
``decision`` events; the watcher, registry and skills commands record
``promotion``, ``rejection``, ``approval``, ``lifecycle`` and their own
events through :func:`record_event`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gate.attest.statement import DecisionRecord, subject_of
from gate.audit.entry import Entry
from gate.audit.log import AuditLog

DECISION = "decision"


def record_event(
    log: AuditLog,
    event: str,
    subject_digest: str | None,
    *,
    verdict: str | None = None,
    reasons: Iterable[str] = (),
    policy_digest: str | None = None,
    input_digest: str | None = None,
    attestation_digest: str | None = None,
    actor: str | None = None,
    **extra: Any,
) -> Entry:
    """Append one event with gate's common fields plus *extra* (JSON values)."""
    data: dict[str, Any] = {
        "verdict": verdict,
        "reasons": list(reasons),
        "policy_digest": policy_digest,
        "input_digest": input_digest,
        "attestation_digest": attestation_digest,
        "actor": actor,
    }
    data.update(extra)
    return log.append(event, subject_digest, data)


def record_decision_event(
    log: AuditLog,
    record: DecisionRecord,
    attestation_digest: str | None = None,
    attestation_path: Path | None = None,
) -> Entry:
    """Keep the input document beside the log and append a ``decision`` event for it."""
    digest = log.store_input(record.document.text.encode("utf-8"))
    document = record.document.value
    subject = subject_of(document, digest)
    declared = document.get("subject", {}) if isinstance(document, dict) else {}
    decision = record.decision
    return record_event(
        log,
        DECISION,
        "sha256:" + subject["digest"]["sha256"],
        verdict=decision["verdict"],
        reasons=decision["reasons"],
        policy_digest="sha256:" + record.policy.sha256,
        input_digest="sha256:" + digest,
        attestation_digest=attestation_digest,
        actor=record.actor,
        evidence_level=decision["evidence_level"],
        subject={"kind": declared.get("kind"), "ref": declared.get("ref"), "name": subject["name"]},
        profile={"name": record.policy.profile_name, "sha256": record.policy.profile_sha256},
        engine=record.engine,
        attestation=str(attestation_path) if attestation_path is not None else None,
    )
