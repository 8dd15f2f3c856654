"""Hygiene: evaluate every approved and deprecated version and retire what the policy says must go.

One run reads everything it decides on in a few batched queries
(``Store.lifecycle_snapshot``), verifies each distinct signed statement once,
evaluates every version on one compiled engine, and records the retirements
in batched transactions — each retirement still one transition row and one
hash-chained event, re-checked against the version's current state inside
the write so a version another writer moved meanwhile is never retired from
a stale state.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from gate.registry.store import Change, Store


def run_hygiene(store: Store, profile: Any, engine: str, *, dry_run: bool = False) -> list[dict[str, Any]]:
    """One action per approved/deprecated version: kept, or retired (recorded unless *dry_run*).

    A retirement refused because the version changed state since it was read
    stays ``recorded: false`` and says why in ``refused``.
    """
    from gate import schemas
    from gate.decide import Decider
    from gate.engine.interface import JsonDocument
    from gate.errors import GateError
    from gate.registry.approvals import StatementVerifier
    from gate.registry.lifecycle_input import build_input

    decider = Decider(profile, engine)
    verify = StatementVerifier(dict(profile.settings.get("lifecycle", {}).get("people", {})))
    now = datetime.now(timezone.utc)
    actions: list[dict[str, Any]] = []
    changes: list[tuple[dict[str, Any], Change]] = []
    for snap in store.lifecycle_snapshot(("approved", "deprecated")):
        found = snap.version
        document = build_input(
            found,
            request_kind="hygiene",
            to=None,
            now=now,
            profile=profile,
            verified=[(kind, verify(envelope, kind, sha)) for kind, envelope, sha in snap.statements],
            deprecated_at=snap.deprecated_at,
        )
        # jsonschema-rs, compiled once (gate.schemas caches it): ~0.1 ms a document, so every
        # document is checked rather than trusting the builder's types.
        problems = schemas.problems("input", document)
        if problems:
            raise GateError(
                f"hygiene input for {found.name}@{found.version} does not match the schema: {problems[0]}"
            )
        decision = decider.decide(JsonDocument(document, json.dumps(document)))
        to = decision["transition"]["to"]
        action = {
            "name": found.name,
            "version": found.version,
            "from": found.state,
            "to": to,
            "reasons": [] if to == found.state else decision["reasons"],
            "recorded": False,
        }
        if to != found.state and not dry_run:
            changes.append((action, Change(found.name, found.version, found.state, to, decision)))
        actions.append(action)
    if changes:
        results = store.transitions([change for _, change in changes])
        for (action, _), result in zip(changes, results, strict=True):
            if "refused" in result:
                action["refused"] = result["refused"]
            else:
                action["recorded"] = True
    return actions
