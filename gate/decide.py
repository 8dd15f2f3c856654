"""Input document + profile + policies -> decision, on a chosen engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gate import schemas
from gate.engine import create_engine
from gate.engine.interface import Engine, JsonDocument
from gate.errors import EngineError
from gate.policy import PolicySet, load_policies
from gate.profile import Profile, check_against_policies
from gate.resources import rego_dir

DECISION_REF = "data.gate.main.decision"


class Decider:
    """Policies compiled once, then any number of decisions."""

    def __init__(
        self,
        profile: Profile,
        engine: str,
        policy_root: Path | None = None,
        *,
        backend: Engine | None = None,
    ) -> None:
        """Compile the policies on *engine*, or use *backend* (e.g. an OPA sidecar)."""
        self.profile = profile
        self.policies: PolicySet = load_policies(policy_root or rego_dir())
        check_against_policies(profile, self.policies)
        modules = [(f.path, f.text) for f in self.policies.modules(include_tests=False)]
        data = {"gate": {"catalog": self.policies.catalog_data(), "config": profile.config()}}
        self.engine: Engine = backend if backend is not None else create_engine(engine, modules, data)

    def decide(self, document: JsonDocument, *, check: bool = True) -> dict[str, Any]:
        """Evaluate the decision for one validated input document.

        With *check*, the decision is validated against its schema: a policy
        that returns something malformed is an engine error, never a verdict.
        """
        decision = self.engine.evaluate(DECISION_REF, document)
        if check:
            found = schemas.problems("decision", decision)
            if found:
                raise EngineError(f"{DECISION_REF} does not match the decision schema: {found[0]}")
        if not isinstance(decision, dict):  # pragma: no cover - guarded by the schema
            raise EngineError(f"{DECISION_REF} is not an object")
        if check and decision["profile"]["sha256"] != self.profile.sha256:
            # A sidecar decides under the profile it was loaded with: never
            # report its verdict as if it came from the profile asked for.
            found = decision["profile"]
            raise EngineError(
                f"{DECISION_REF} was decided under profile {found['name'] or '(none)'!r} "
                f"(sha256 {found['sha256'][:12] or '-'}), not {self.profile.name!r} "
                f"(sha256 {self.profile.sha256[:12]})"
            )
        return decision

    def decide_many(self, documents: list[JsonDocument], *, check: bool = True) -> list[dict[str, Any]]:
        """Decisions for many documents in one engine call, in order.

        Embedded engines evaluate ``data.gate.main.decision with input as``
        each document inside one query, which saves the per-call overhead a
        hygiene run over thousands of versions would otherwise pay (about
        half of a lifecycle decision's cost). A sidecar decides one at a time.
        """
        import json

        from gate.engine.sidecar import SidecarEngine

        if not documents:
            return []
        if isinstance(self.engine, SidecarEngine):
            return [self.decide(d, check=check) for d in documents]
        batch = {"documents": [d.value for d in documents]}
        rows = self.engine.query(
            f"out := [d | some doc in input.documents; d := {DECISION_REF} with input as doc]",
            JsonDocument(batch, json.dumps(batch)),
        )
        decisions = rows[0].get("out") if rows and isinstance(rows[0], dict) else None
        if not isinstance(decisions, list) or len(decisions) != len(documents):
            raise EngineError(f"{DECISION_REF} is not defined for every document of the batch")
        for decision in decisions:
            if check:
                found = schemas.problems("decision", decision)
                if found:
                    raise EngineError(f"{DECISION_REF} does not match the decision schema: {found[0]}")
            if not isinstance(decision, dict) or (
                check and decision["profile"]["sha256"] != self.profile.sha256
            ):
                raise EngineError(f"{DECISION_REF} was not decided under the profile asked for")
        return decisions
