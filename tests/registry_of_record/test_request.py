"""gate registry request: Rego decides the transition, the store records it only if allowed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml

from tests.helpers import BIN, ROOT
from tests.registry_of_record.test_store import record

CLEAN = ROOT / "fixtures" / "container" / "clean-runtime-promote.input.json"


def _gate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "gate"), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


def test_request_candidate_needs_a_verified_promote_attestation_for_the_checksum(
    tmp_path: Path, db_url: str
) -> None:
    db = db_url
    # the digest the clean container example resolves to (what its attestation's subject names)
    digest = "sha256:7f3b9a4c2e1d0f8a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record(checksum=digest)))
    assert _gate("registry", "register", str(path), "--db", db, env={"GATE_ACTOR": "ci-bot"}).returncode == 0

    for who in ("signer", "stranger", "pat"):
        assert _gate("keygen", "--out", str(tmp_path / who)).returncode == 0
    attestation = tmp_path / "decision.intoto.jsonl"
    made = _gate(
        "eval", "--input", str(CLEAN), "--profile", "nim-promotion",
        "--attest", str(attestation), "--key", str(tmp_path / "signer.key"),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    from gate.attest.bundle import parse_attestations, payload_json

    stated = payload_json(parse_attestations(attestation.read_bytes())[0].envelope)
    governance = yaml.safe_load((ROOT / "policy-profiles" / "registry-governance.yaml").read_text())
    governance["lifecycle"]["people"] = {
        "pat": {"roles": ["platform"], "public_key": (tmp_path / "pat.pub").read_text()}
    }
    governance["lifecycle"]["gate_signers"] = {
        "ci-gate": {"public_key": (tmp_path / "signer.pub").read_text()}
    }
    governance["lifecycle"]["gate_policy_digests"] = [stated["predicate"]["policy"]["digest"]["sha256"]]
    profile = tmp_path / "governance.yaml"
    profile.write_text(yaml.safe_dump(governance))
    refused = _gate(
        "registry", "request", "llama-guard@1.2.0", "--to", "candidate", "--db", db,
        "--profile", str(profile), "-o", "json",
    )  # fmt: skip
    assert refused.returncode == 1, refused.stderr
    answer = json.loads(refused.stdout)
    assert answer["recorded"] is False and answer["decision"]["reasons"] == ["gate_decision_missing"]

    stranger = _gate(
        "eval", "--input", str(CLEAN), "--profile", "nim-promotion",
        "--attest", str(tmp_path / "signed-by-stranger.jsonl"), "--key", str(tmp_path / "stranger.key"),
    )  # fmt: skip
    assert stranger.returncode == 0, stranger.stderr
    wrong_key = _gate(
        "registry", "request", "llama-guard@1.2.0", "--to", "candidate", "--db", db,
        "--profile", str(profile), "--attestation", str(tmp_path / "signed-by-stranger.jsonl"),
        "--key", str(tmp_path / "stranger.pub"), "-o", "json",
    )  # fmt: skip
    assert wrong_key.returncode == 1 and json.loads(wrong_key.stdout)["decision"]["reasons"] == [
        "gate_decision_untrusted_signer"
    ]

    allowed = _gate(
        "registry", "request", "llama-guard@1.2.0", "--to", "candidate", "--db", db,
        "--profile", str(profile), "--attestation", str(attestation),
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "draft -> candidate: recorded" in allowed.stdout
    shown = json.loads(_gate("registry", "show", "llama-guard@1.2.0", "--db", db, "-o", "json").stdout)
    assert shown["state"] == "candidate"

    # approval needs SBOM, provenance, a scan, evaluations and three signed approvals: refused
    approve = _gate(
        "registry", "request", "llama-guard@1.2.0", "--to", "approved", "--db", db,
        "--profile", str(profile), "-o", "json",
    )  # fmt: skip
    assert approve.returncode == 1
    reasons = json.loads(approve.stdout)["decision"]["reasons"]
    expected = {"missing_sbom", "missing_provenance", "critical_cve_unresolved", "evals_missing"}
    assert expected | {"approval_missing_role"} <= set(reasons)
    skip = _gate(
        "registry", "request", "llama-guard@1.2.0", "--to", "retired", "--db", db,
        "--profile", str(profile), "-o", "json",
    )  # fmt: skip
    assert skip.returncode == 1 and json.loads(skip.stdout)["decision"]["reasons"] == ["invalid_transition"]
    history = json.loads(_gate("registry", "history", "llama-guard@1.2.0", "--db", db, "-o", "json").stdout)
    assert [h["kind"] for h in history] == ["register", "transition"]
