"""Hygiene: evaluate every approved and deprecated version and retire what the policy says must go."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from gate.registry.store import Store


def run_hygiene(store: Store, profile: Any, engine: str, *, dry_run: bool = False) -> list[dict[str, Any]]:
    """One action per approved/deprecated version: kept, or retired (recorded unless *dry_run*)."""
    from gate import schemas
    from gate.decide import Decider
    from gate.engine.interface import JsonDocument
    from gate.errors import GateError
    from gate.registry.lifecycle_input import build_input

    decider = Decider(profile, engine)
    now = datetime.now(timezone.utc)
    actions: list[dict[str, Any]] = []
    for row in store.versions():
        if row["state"] not in ("approved", "deprecated"):
            continue
        found = store.show(row["name"], row["version"])
        document = build_input(
            found,
            request_kind="hygiene",
            to=None,
            now=now,
            profile=profile,
            statements=store.statements(row["name"], row["version"]),
            deprecated_at=store.entered_at(row["name"], row["version"], "deprecated"),
        )
        problems = schemas.problems("input", document)
        if problems:
            raise GateError(
                f"hygiene input for {row['name']}@{row['version']} does not match the schema: {problems[0]}"
            )
        decision = decider.decide(JsonDocument(document, json.dumps(document)))
        to = decision["transition"]["to"]
        action = {
            "name": row["name"],
            "version": row["version"],
            "from": found.state,
            "to": to,
            "reasons": [] if to == found.state else decision["reasons"],
            "recorded": False,
        }
        if to != found.state and not dry_run:
            store.transition(row["name"], row["version"], found.state, to, decision)
            action["recorded"] = True
        actions.append(action)
    return actions
