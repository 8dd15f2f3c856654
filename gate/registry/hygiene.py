"""Hygiene: evaluate every approved and deprecated version and retire what the policy says must go.

One run reads everything it decides on in a few batched queries
(``Store.lifecycle_snapshot``), verifies each distinct signed statement once,
decides the versions in batches (one engine call per batch; a large registry
split across worker processes, one per core), and records the retirements
in batched transactions — each retirement still one transition row and one
hash-chained event, re-checked against the version's current state inside
the write so a version another writer moved meanwhile is never retired from
a stale state.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any

from gate.registry.store import Change, Snapshot, Store

BATCH = 100
"""Documents per engine call (measured best between 20 and 500)."""
PARALLEL_FROM = 2_000
"""Below this many versions one process decides them all (a worker costs a policy compile)."""
MAX_WORKERS = 4

_worker: dict[str, Any] = {}


def _decide(snapshots: list[Snapshot], profile: Any, engine: str, now: datetime) -> list[dict[str, Any]]:
    """Verify, build, check and decide *snapshots* on one compiled engine per process, in batches."""
    from gate import schemas
    from gate.decide import Decider
    from gate.engine.interface import JsonDocument
    from gate.errors import GateError
    from gate.registry.approvals import StatementVerifier
    from gate.registry.lifecycle_input import build_input

    key = f"{profile.sha256}:{engine}"
    if _worker.get("key") != key:
        _worker.update(key=key, decider=Decider(profile, engine))
    decider = _worker["decider"]
    verify = StatementVerifier(dict(profile.settings.get("lifecycle", {}).get("people", {})))
    out: list[dict[str, Any]] = []
    for start in range(0, len(snapshots), BATCH):
        documents = []
        for snap in snapshots[start : start + BATCH]:
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
            documents.append(JsonDocument(document, json.dumps(document)))
        out.extend(decider.decide_many(documents))
    return out


def _decide_all(snapshots: list[Snapshot], profile: Any, engine: str, now: datetime) -> list[dict[str, Any]]:
    """All decisions; a large run is split across worker processes, one per core (up to 4)."""
    workers = min(MAX_WORKERS, os.cpu_count() or 1)
    if len(snapshots) < PARALLEL_FROM or workers < 2 or engine != "regorus":
        return _decide(snapshots, profile, engine, now)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    size = -(-len(snapshots) // workers)
    parts = [snapshots[i : i + size] for i in range(0, len(snapshots), size)]
    context = multiprocessing.get_context("fork")
    n = len(parts)
    with ProcessPoolExecutor(max_workers=n, mp_context=context) as pool:
        results = pool.map(_decide, parts, [profile] * n, [engine] * n, [now] * n)
        return [decision for part in results for decision in part]


def run_hygiene(store: Store, profile: Any, engine: str, *, dry_run: bool = False) -> list[dict[str, Any]]:
    """One action per approved/deprecated version: kept, or retired (recorded unless *dry_run*).

    A retirement refused because the version changed state since it was read
    stays ``recorded: false`` and says why in ``refused``.
    """
    now = datetime.now(timezone.utc)
    snapshots = store.lifecycle_snapshot(("approved", "deprecated"))
    actions: list[dict[str, Any]] = []
    changes: list[tuple[dict[str, Any], Change]] = []
    for snap, decision in zip(snapshots, _decide_all(snapshots, profile, engine, now), strict=True):
        found = snap.version
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
