"""The Statements gate emits: subject, SLSA VSA, gate's predicate, schemas, policy digest."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from gate import schemas
from gate.attest.statement import (
    DECISION_TYPE,
    VSA_TYPE,
    DecisionRecord,
    build_statements,
    input_digest,
    policy_digest,
    subject_of,
)
from gate.decide import Decider
from gate.document import load_input
from gate.engine.interface import JsonDocument
from gate.policy import load_policies
from gate.profile import load_profile
from gate.resources import rego_dir
from tests.conftest import CONTAINER_FIXTURES, container_examples
from tests.helpers import DIGEST, REGO, good_input

NOW = datetime(2026, 11, 22, 13, 0, tzinfo=timezone.utc)


def _record(document: JsonDocument, engine: str = "regorus") -> DecisionRecord:
    profile = load_profile("nim-promotion")
    decider = Decider(profile, engine)
    decision = decider.decide(document)
    try:
        delta = decider.engine.evaluate("data.gate.container.cve_delta", document)
    except Exception:
        delta = None
    return DecisionRecord(
        document, decision, policy_digest(decider.policies, profile), engine, delta, "tester"
    )


@pytest.mark.parametrize("name", container_examples())
def test_every_example_emits_schema_valid_statements(name: str) -> None:
    document = load_input(str(CONTAINER_FIXTURES / f"{name}.input.json"))
    expected = json.loads((CONTAINER_FIXTURES / f"{name}.expected.json").read_text())

    vsa, decision = build_statements(_record(document), now=NOW)

    assert schemas.problems("attestation-vsa", vsa) == []
    assert schemas.problems("attestation-decision", decision) == []
    assert vsa["predicateType"] == VSA_TYPE
    assert decision["predicateType"] == DECISION_TYPE
    assert vsa["subject"] == decision["subject"]
    passed = expected["verdict"] == "promote"
    assert vsa["predicate"]["verificationResult"] == ("PASSED" if passed else "FAILED")
    assert decision["predicate"]["decision"]["verdict"] == expected["verdict"]
    assert set(decision["predicate"]["decision"]["reasons"]) == set(expected["reasons"])
    assert vsa["predicate"]["inputAttestations"][0]["digest"]["sha256"] == input_digest(document)


def test_clean_promotion_claims() -> None:
    document = load_input(str(CONTAINER_FIXTURES / "clean-runtime-promote.input.json"))
    vsa, statement = build_statements(_record(document), now=NOW)
    predicate = statement["predicate"]

    assert statement["subject"] == [
        {
            "name": "nvcr.io/nim/meta/llama-3.3-70b:1.5.0",
            "digest": {"sha256": "7f3b9a4c2e1d0f8a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"},
        }
    ]
    assert vsa["predicate"]["resourceUri"] == (
        "oci://nvcr.io/nim/meta/llama-3.3-70b@sha256:7f3b9a4c2e1d0f8a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
    )
    assert vsa["predicate"]["timeVerified"] == "2026-11-22T13:00:00Z"
    assert predicate["subject"]["registry"] == "nvcr.io"
    claims = predicate["claims"]
    assert claims["signature"] == {
        "verified": True,
        "identity": "https://github.com/nvidia/nim-builder/.github/workflows/release.yml@refs/tags/v1.5.0",
        "issuer": "https://token.actions.githubusercontent.com",
        "cert_not_after": "2026-11-22T08:24:03Z",
        "rekor_log_index": 148920311,
    }
    assert claims["sbom"]["present"] is True and claims["sbom"]["format"] == "spdx"
    assert claims["model_card"]["present"] is True and claims["model_card"]["source"] == "oci-referrer"
    # The real trivy pair: the candidate fixes CVE-2019-14697 (critical) and adds nothing.
    assert claims["cve_delta"] == {
        "vs_digest": "sha256:0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d",
        "new_critical": 0,
        "new_high": 0,
        "fixed_critical": 1,
        "regressed": False,
    }
    provenance = predicate["provenance"]
    assert provenance["runtime_mode"] == "runtime"
    assert provenance["nonce"] == "b7e4c1a9f03d4e2a8c6b5d7f9e1a3c2b"
    assert provenance["operator"] == "release-operator@example.com"
    assert provenance["egress_hosts_contacted"] == [
        "nvcr.io",
        "rekor.sigstore.dev",
        "tuf-repo-cdn.sigstore.dev",
    ]
    assert provenance["executed_commands"][0] == ["crane", "digest", "nvcr.io/nim/meta/llama-3.3-70b:1.5.0"]


def test_cve_regression_claims_come_from_the_policy() -> None:
    document = load_input(str(CONTAINER_FIXTURES / "cve-regression.input.json"))
    _, statement = build_statements(_record(document), now=NOW)
    delta = statement["predicate"]["claims"]["cve_delta"]

    assert delta["regressed"] is True
    assert delta["new_critical"] + delta["new_high"] > 0


def test_without_an_artifact_digest_the_subject_is_the_input_document() -> None:
    value = good_input()
    del value["evidence"]["registry"]
    document = JsonDocument.of(value)

    subject = subject_of(value, input_digest(document))
    vsa, statement = build_statements(_record(document), now=NOW)

    assert subject["name"] == "gate-input:nvcr.io/nim/meta/llama-3.3-70b:1.5.0"
    assert subject["digest"] == {"sha256": input_digest(document)}
    assert statement["predicate"]["subject"]["digest_of"] == "input-document"
    assert vsa["predicate"]["resourceUri"] == f"urn:gate:input:sha256:{input_digest(document)}"
    assert schemas.problems("attestation-decision", statement) == []


def test_subject_digest_is_the_resolved_one_for_images() -> None:
    value = good_input()
    value["subject"]["digest"] = "sha256:" + "9" * 64

    assert subject_of(value, "0" * 64)["digest"] == {"sha256": DIGEST.removeprefix("sha256:")}


def test_static_mode_without_nonce_gets_a_generated_one() -> None:
    value = good_input()
    value["gate"]["mode"] = "static"
    del value["gate"]["nonce"]
    _, statement = build_statements(_record(JsonDocument.of(value)), now=NOW)

    provenance = statement["predicate"]["provenance"]
    assert provenance["runtime_mode"] == "static"
    assert provenance["nonce_source"] == "generated"
    assert len(provenance["nonce"]) >= 16


def test_policy_digest_does_not_depend_on_the_working_directory(tmp_path: Path) -> None:
    profile = load_profile("nim-promotion")
    here = policy_digest(load_policies(rego_dir()), profile)
    cwd = Path.cwd()
    try:
        os.chdir(tmp_path)
        there = policy_digest(load_policies(rego_dir()), profile)
    finally:
        os.chdir(cwd)

    assert here == there
    assert len(here.sha256) == 64


def test_policy_digest_changes_with_a_module_or_the_profile(tmp_path: Path) -> None:
    import shutil

    profile = load_profile("nim-promotion")
    before = policy_digest(load_policies(REGO), profile).sha256
    copy = tmp_path / "rego"
    shutil.copytree(REGO, copy)
    container = next(copy.rglob("container.rego"))
    container.write_text(container.read_text() + "\n# reviewed\n")
    stricter = tmp_path / "strict.yaml"
    stricter.write_text(
        Path(profile.path).read_text().replace("attestation_ttl_hours: 24", "attestation_ttl_hours: 1")
    )

    assert policy_digest(load_policies(copy), profile).sha256 != before
    assert policy_digest(load_policies(REGO), load_profile(str(stricter))).sha256 != before


def test_opa_and_regorus_record_the_same_policy() -> None:
    document = load_input(str(CONTAINER_FIXTURES / "unsigned.input.json"))
    records: list[Any] = [_record(document, engine) for engine in ("regorus", "opa")]

    assert records[0].policy == records[1].policy
    assert records[0].cve_delta == records[1].cve_delta
