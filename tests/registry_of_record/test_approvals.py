"""Signed approvals and exceptions through gate registry, end to end: a version reaches
approved only with verified approvals from distinct holders of the required roles."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.attest.keys import generate_key, write_keypair
from tests.helpers import BIN, ROOT
from tests.registry_of_record.test_store import record

CLEAN = ROOT / "fixtures" / "container" / "clean-runtime-promote.input.json"
DIGEST = "sha256:7f3b9a4c2e1d0f8a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
REF = "llama-guard@1.2.0"


def _gate(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GATE_ACTOR": "ci-bot"}
    return subprocess.run([str(BIN / "gate"), *args], capture_output=True, text=True, timeout=180, env=env)


def _ok(*args: str) -> subprocess.CompletedProcess[str]:
    done = _gate(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_approval_workflow_with_forgery_self_approval_and_a_waiver(tmp_path: Path, db_url: str) -> None:
    keys = {}
    for who in ("pat", "pia", "sam", "mallory", "ci-bot"):
        keys[who] = write_keypair(str(tmp_path / who), generate_key(), None)
    profile = yaml.safe_load((ROOT / "policy-profiles" / "registry-governance.yaml").read_text())
    profile["lifecycle"]["people"] = {
        who: {"roles": [role], "public_key": keys[who][1].read_text()}
        for who, role in (
            ("pat", "platform"),
            ("pia", "product"),
            ("sam", "security"),
            ("ci-bot", "security"),
        )
    }
    db = ["--db", db_url]

    rec = tmp_path / "record.json"
    rec.write_text(json.dumps(record(checksum=DIGEST)))
    _ok("registry", "register", str(rec), *db)
    signer = write_keypair(str(tmp_path / "gate"), generate_key(), None)
    attestation = tmp_path / "decision.intoto.jsonl"
    _ok(
        "eval",
        "--input",
        str(CLEAN),
        "--profile",
        "nim-promotion",
        "--attest",
        str(attestation),
        "--key",
        str(signer[0]),
    )
    from gate.attest.bundle import parse_attestations, payload_json

    stated = payload_json(parse_attestations(attestation.read_bytes())[0].envelope)
    profile["lifecycle"]["gate_signers"] = {"ci-gate": {"public_key": signer[1].read_text()}}
    profile["lifecycle"]["gate_policy_digests"] = [stated["predicate"]["policy"]["digest"]["sha256"]]
    profile_path = tmp_path / "governance.yaml"
    profile_path.write_text(yaml.safe_dump(profile))
    request = ["registry", "request", REF, "--profile", str(profile_path), *db, "-o", "json"]
    _ok(
        *request[:3],
        "--to",
        "candidate",
        *request[3:],
        "--attestation",
        str(attestation),
        "--key",
        str(signer[1]),
    )

    # evidence: SBOM, provenance, a scan with one critical CVE, an evaluation package
    spdx = next((ROOT / "fixtures" / "thirdparty" / "sbom").glob("*.spdx.json"))
    provenance = tmp_path / "provenance.json"
    provenance.write_text(attestation.read_text().splitlines()[0])
    scan = tmp_path / "grype.json"
    scan.write_text(
        json.dumps(
            {
                "matches": [
                    {
                        "vulnerability": {"id": "CVE-2026-0001", "severity": "Critical"},
                        "artifact": {"name": "openssl", "version": "3.0.1"},
                    }
                ],
                "descriptor": {"name": "grype", "version": "0.80.0", "db": {"built": "2026-11-20T00:00:00Z"}},
            }
        )
    )
    evals = tmp_path / "evals.json"
    evals.write_text(
        json.dumps({"evaluated_at": "2026-11-21T00:00:00Z", "scores": {"quality": 0.9, "safety": 0.95}})
    )
    for flag, path in (("--sbom", spdx), ("--provenance", provenance), ("--scan", scan), ("--evals", evals)):
        _ok("registry", "attach", REF, flag, str(path), *db)

    def ask() -> dict:  # type: ignore[type-arg]
        done = _gate(*request[:3], "--to", "approved", *request[3:])
        return dict(json.loads(done.stdout))

    def approve(role: str, who: str, key: str) -> None:
        _ok("registry", "approve", REF, "--role", role, "--as", who, "--key", str(keys[key][0]), *db)

    approve("platform", "pat", "pat")
    approve("product", "pia", "pia")
    answer = ask()
    assert answer["recorded"] is False
    assert answer["decision"]["reasons"] == ["critical_cve_unresolved", "approval_missing_role"]

    # mallory signs in sam's name: the signature does not verify with sam's key
    approve("security", "sam", "mallory")
    # the submitter approves their own version as security
    approve("security", "ci-bot", "ci-bot")
    reasons = ask()["decision"]["reasons"]
    assert reasons == [
        "critical_cve_unresolved",
        "approval_missing_role",
        "approval_unverified",
        "self_approval",
    ]

    approve("security", "sam", "sam")
    # every role covered: the forged and self approvals are ignored, not blocking
    assert ask()["decision"]["reasons"] == ["critical_cve_unresolved"]

    # an exception by a non-security person does not waive; sam's does, and it is reported
    waiver = [
        "registry",
        "except",
        REF,
        "--code",
        "critical_cve_unresolved",
        "--until",
        "2099-01-01T00:00:00Z",
    ]
    waiver += ["--why", "the vulnerable parser is never loaded", "--role", "security", *db]
    _ok(*waiver, "--as", "pia", "--key", str(keys["pia"][0]))
    assert "critical_cve_unresolved" in ask()["decision"]["reasons"]
    _ok(*waiver, "--as", "sam", "--key", str(keys["sam"][0]))
    answer = ask()
    assert answer["recorded"] is True and answer["decision"]["verdict"] == "promote"
    assert [w["code"] for w in answer["decision"]["waived"]] == ["critical_cve_unresolved"]
    shown = json.loads(_ok("registry", "show", REF, *db, "-o", "json").stdout)
    assert shown["state"] == "approved"
    _ok("registry", "serve-window", REF, "--deployment", "chat-prod", "--from", "2026-11-23T00:00:00Z", *db)
    assert (
        json.loads(
            _ok(
                "registry",
                "served",
                "--deployment",
                "chat-prod",
                "--at",
                "2026-11-24T00:00:00Z",
                *db,
                "-o",
                "json",
            ).stdout
        )["version"]
        == "1.2.0"
    )
    assert _ok("registry", "verify", *db).stdout.startswith("valid")


def _people_and_keys() -> tuple[dict[str, Any], dict[str, Any]]:
    from gate.attest.keys import generate_key

    key = generate_key()
    return {"sam": {"roles": ["security"], "public_key": key.public_pem().decode()}}, {"sam": key}


@pytest.mark.parametrize("kind", ["approval", "exception"])
def test_the_statements_gate_signs_match_their_schemas_and_verify(kind: str) -> None:
    from gate import schemas
    from gate.registry.approvals import make_statement, sign_statement, verify_statement

    people, keys = _people_and_keys()
    extra = {"code": "critical_cve_unresolved", "until": "2026-12-31T00:00:00Z", "why": "patched upstream"}
    statement = make_statement(
        kind,
        name="llama-guard",
        version="1.2.0",
        digest=DIGEST,
        approver="sam",
        role="security",
        **(extra if kind == "exception" else {}),
    )
    assert schemas.problems(f"{kind}-statement", statement) == []
    found = verify_statement(sign_statement(statement, keys["sam"]), kind, people)
    assert found["verified"] is True, found
    assert found["digest"] == DIGEST and found["approver"] == "sam"


@pytest.mark.parametrize(
    ("kind", "change", "pointer"),
    [
        ("approval", {"signed_at": "last tuesday"}, "/predicate/signed_at"),
        ("approval", {"role": ""}, "/predicate/role"),
        ("approval", {"extra": "field"}, "/predicate"),
        ("exception", {"code": "Not A Code"}, "/predicate/code"),
        ("exception", {"why": None}, "/predicate/why"),
    ],
)
def test_a_signed_statement_that_does_not_match_its_schema_does_not_verify(
    kind: str, change: dict[str, Any], pointer: str
) -> None:
    from gate.registry.approvals import make_statement, sign_statement, verify_statement

    people, keys = _people_and_keys()
    extra = {"code": "critical_cve_unresolved", "until": "2026-12-31T00:00:00Z", "why": "patched upstream"}
    statement = make_statement(
        kind,
        name="llama-guard",
        version="1.2.0",
        digest=DIGEST,
        approver="sam",
        role="security",
        **(extra if kind == "exception" else {}),
    )
    statement["predicate"].update(change)
    found = verify_statement(sign_statement(statement, keys["sam"]), kind, people)
    assert found["verified"] is False
    schema = f"schemas/{kind}-statement.schema.json"
    assert found["error"].startswith(f"the statement does not match {schema}: {pointer}")
    assert found["approver"] == "sam"  # still reported, so the policy can say whose statement failed


def test_a_statement_with_two_subjects_does_not_verify() -> None:
    from gate.registry.approvals import make_statement, sign_statement, verify_statement

    people, keys = _people_and_keys()
    statement = make_statement(
        "approval", name="llama-guard", version="1.2.0", digest=DIGEST, approver="sam", role="security"
    )
    statement["subject"].append({"name": "other@1.0.0", "digest": {"sha256": "ab" * 32}})
    found = verify_statement(sign_statement(statement, keys["sam"]), "approval", people)
    assert found["verified"] is False and "/subject" in found["error"]
