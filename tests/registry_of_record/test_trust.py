"""Whose word counts, end to end through ``gate registry``: the gate signers and policy digests
the governance profile names (draft -> candidate), approvals dated in the future, and
recording commands that refuse a profile naming nobody. Real processes, real files, SQLite
and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.attest.bundle import parse_attestations, payload_json
from gate.attest.keys import generate_key, load_signing_key, write_keypair
from gate.registry.approvals import make_statement, sign_statement
from gate.registry.store import Store
from tests.helpers import BIN, ROOT
from tests.registry_of_record.test_store import record

CLEAN = ROOT / "fixtures" / "container" / "clean-runtime-promote.input.json"
# the digest the clean container example resolves to (what its attestation's subject names)
DIGEST = "sha256:7f3b9a4c2e1d0f8a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
REF = "llama-guard@1.2.0"
ROLES = (("pat", "platform"), ("pia", "product"), ("sam", "security"))


def _gate(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GATE_ACTOR": "ci-bot"}
    return subprocess.run([str(BIN / "gate"), *args], capture_output=True, text=True, timeout=180, env=env)


def _ok(*args: str) -> subprocess.CompletedProcess[str]:
    done = _gate(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _attest(tmp_path: Path, signer: str, profile: str = "nim-promotion") -> tuple[Path, str]:
    """A real gate eval --attest of the clean example; (file, the policy digest it states)."""
    key = tmp_path / f"{signer}.key"
    if not key.exists():
        write_keypair(str(tmp_path / signer), generate_key(), None)
    out = tmp_path / f"decision-{signer}-{Path(profile).stem}.intoto.jsonl"
    _ok("eval", "--input", str(CLEAN), "--profile", profile, "--attest", str(out), "--key", str(key))
    statement = payload_json(parse_attestations(out.read_bytes())[0].envelope)
    return out, str(statement["predicate"]["policy"]["digest"]["sha256"])


def _governance(tmp_path: Path, **lifecycle: Any) -> tuple[Path, dict[str, Any]]:
    """A governance profile with three people (and their keys) plus *lifecycle* settings."""
    keys = {}
    profile = yaml.safe_load((ROOT / "policy-profiles" / "registry-governance.yaml").read_text())
    people = {}
    for who, role in ROLES:
        if not (tmp_path / f"{who}.key").exists():
            write_keypair(str(tmp_path / who), generate_key(), None)
        keys[who] = load_signing_key(str(tmp_path / f"{who}.key"))
        people[who] = {"roles": [role], "public_key": (tmp_path / f"{who}.pub").read_text()}
    profile["lifecycle"]["people"] = people
    profile["lifecycle"].update(lifecycle)
    path = tmp_path / "governance.yaml"
    path.write_text(yaml.safe_dump(profile))
    return path, keys


def _candidate(*extra: str) -> dict[str, Any]:
    done = _gate("registry", "request", REF, "--to", "candidate", *extra, "-o", "json")
    assert done.returncode in (0, 1), done.stderr
    return dict(json.loads(done.stdout))


# --- item 6: the profile names whose gate decisions count, and under which policy --------------


def test_only_a_listed_gate_signer_under_a_listed_policy_moves_a_version_to_candidate(
    tmp_path: Path, db_url: str
) -> None:
    trusted, policy = _attest(tmp_path, "ci-gate")
    forged, _ = _attest(tmp_path, "mallory")  # the requester's own key, same verdict, same policy
    # the same policy run with a loosened copy of its profile
    loose = yaml.safe_load((ROOT / "policy-profiles" / "nim-promotion.yaml").read_text())
    loose["exclude"] = ["unsigned"]
    (tmp_path / "loose.yaml").write_text(yaml.safe_dump(loose))
    other_policy, other_digest = _attest(tmp_path, "ci-gate", str(tmp_path / "loose.yaml"))
    assert other_digest != policy
    gate_pub = (tmp_path / "ci-gate.pub").read_text()
    profile, _ = _governance(
        tmp_path, gate_signers={"ci-gate": {"public_key": gate_pub}}, gate_policy_digests=[policy]
    )
    rec = tmp_path / "record.json"
    rec.write_text(json.dumps(record(checksum=DIGEST)))
    db = ["--db", db_url, "--profile", str(profile)]
    _ok("registry", "register", str(rec), "--db", db_url)

    # the attack: sign a promote decision with your own key and hand gate that key
    answer = _candidate(*db, "--attestation", str(forged), "--key", str(tmp_path / "mallory.pub"))
    assert answer["recorded"] is False
    assert answer["decision"]["reasons"] == ["gate_decision_untrusted_signer"]
    assert "does not list (lifecycle.gate_signers)" in answer["decision"]["results"][0]["message"]
    # without --key the profile's signers are the only keys tried: it does not verify at all
    assert _candidate(*db, "--attestation", str(forged))["decision"]["reasons"] == ["gate_decision_missing"]

    # a listed signer, but a decision under a policy the profile does not allow
    refused = _candidate(*db, "--attestation", str(other_policy))
    assert refused["decision"]["reasons"] == ["gate_decision_policy_not_allowed"]
    assert other_digest in refused["decision"]["results"][0]["message"]

    # the listed signer under the listed policy (no --key needed: the profile holds it)
    assert _candidate(*db, "--attestation", str(trusted))["recorded"] is True
    shown = json.loads(_ok("registry", "show", REF, "--db", db_url, "-o", "json").stdout)
    assert shown["state"] == "candidate"


def test_a_profile_that_lists_no_gate_signer_accepts_no_decision(tmp_path: Path) -> None:
    trusted, _ = _attest(tmp_path, "ci-gate")
    profile, _ = _governance(tmp_path)  # people, but no gate_signers / gate_policy_digests
    db = str(tmp_path / "reg.sqlite")
    rec = tmp_path / "record.json"
    rec.write_text(json.dumps(record(checksum=DIGEST)))
    _ok("registry", "register", str(rec), "--db", db)
    answer = _candidate(
        "--db", db, "--profile", str(profile), "--attestation", str(trusted),
        "--key", str(tmp_path / "ci-gate.pub"),
    )  # fmt: skip
    assert answer["recorded"] is False
    assert answer["decision"]["reasons"] == ["gate_decision_untrusted_signer"]


# --- item 7: an approval dated in the future ----------------------------------------------------


def _approved_version(store: Store, keys: dict[str, Any], signed_at: dict[str, str]) -> None:
    """llama-guard@1.2.0 with all its evidence, approvals signed at *signed_at* (per person)."""
    now = datetime.now(timezone.utc)
    store.register(record())
    checksum = store.show("llama-guard", "1.2.0").checksum
    for kind, summary in (
        ("sbom", {"format": "spdx"}),
        ("provenance", {"predicate_type": "https://slsa.dev/provenance/v1"}),
        ("scan", {"critical": []}),
        (
            "evals",
            {"evaluated_at": _iso(now - timedelta(days=1)), "scores": {"quality": 0.9, "safety": 0.95}},
        ),
    ):
        store.attach("llama-guard", "1.2.0", kind, f"{kind}.json", kind.encode(), summary)
    for who, role in ROLES:
        statement = make_statement(
            "approval", name="llama-guard", version="1.2.0", digest=checksum, approver=who, role=role,
            signed_at=signed_at.get(who, _iso(now - timedelta(hours=1))),
        )  # fmt: skip
        store.record_statement("llama-guard", "1.2.0", "approval", sign_statement(statement, keys[who]))
    store.transition("llama-guard", "1.2.0", "draft", "candidate", {"reasons": []})


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_an_approval_signed_in_the_future_does_not_count_and_hygiene_retires_on_it(
    tmp_path: Path, db_url: str
) -> None:
    profile, keys = _governance(tmp_path, clock_skew_seconds=120)
    now = datetime.now(timezone.utc)
    store = Store(db_url, actor="ci-bot")
    # sam's clock (or sam) says next year: were it counted, it would stand until next year + 90 days
    _approved_version(store, keys, {"sam": _iso(now + timedelta(days=365))})
    done = _gate(
        "registry",
        "request",
        REF,
        "--to",
        "approved",
        "--db",
        db_url,
        "--profile",
        str(profile),
        "-o",
        "json",
    )
    answer = json.loads(done.stdout)
    assert done.returncode == 1 and answer["recorded"] is False
    assert answer["decision"]["reasons"] == ["approval_missing_role", "approval_signed_in_future"]
    assert store.show("llama-guard", "1.2.0").state == "candidate"

    # the same approval dated within the profile's skew allowance counts
    store2 = Store(str(tmp_path / "skew.sqlite"), actor="ci-bot")
    _approved_version(store2, keys, {"sam": _iso(now + timedelta(seconds=60))})
    ok = _gate(
        "registry", "request", REF, "--to", "approved", "--db", str(tmp_path / "skew.sqlite"),
        "--profile", str(profile), "-o", "json",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr

    # a version approved meanwhile on a future-dated approval is retired by hygiene
    store.transition("llama-guard", "1.2.0", "candidate", "approved", {"reasons": ["recorded by hand"]})
    planned = _gate(
        "registry", "hygiene", "--db", db_url, "--profile", str(profile), "--dry-run", "-o", "json"
    )
    assert planned.returncode == 0, planned.stderr
    action = json.loads(planned.stdout)[0]
    assert action["to"] == "retired" and "approval_signed_in_future" in action["reasons"]


# --- item 10: recording commands need a governance profile that names someone ---------------


@pytest.mark.parametrize("command", ["hygiene", "request"])
def test_recording_commands_refuse_no_profile_and_a_profile_that_names_nobody(
    tmp_path: Path, command: str
) -> None:
    _, keys = _governance(tmp_path)
    db = str(tmp_path / "reg.sqlite")
    store = Store(db, actor="ci-bot")
    _approved_version(store, keys, {})
    store.transition("llama-guard", "1.2.0", "candidate", "approved", {"reasons": []})
    asked = [REF, "--to", "deprecated", "--replacement", "llama-guard@1.3.0"] if command == "request" else []
    args = ["registry", command, *asked, "--db", db]

    missing = _gate(*args)
    assert missing.returncode == 2 and "--profile" in missing.stderr

    # the bundled template (people: {}) and a copy of it
    for profile in ("registry-governance", str(ROOT / "policy-profiles" / "registry-governance.yaml")):
        refused = _gate(*args, "--profile", profile)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        line = refused.stderr.strip()
        assert line.count("\n") == 0 and "registry-governance.yaml: lifecycle.people names nobody" in line
    wrong = _gate(*args, "--profile", "nim-promotion")
    assert wrong.returncode == 2 and "not 'lifecycle': not a governance profile" in wrong.stderr
    # nothing was retired or deprecated
    assert store.show("llama-guard", "1.2.0").state == "approved"
    assert [e["kind"] for e in store.history("llama-guard", "1.2.0")][-1] == "transition"
    assert len([e for e in store.history("llama-guard", "1.2.0") if e["kind"] == "transition"]) == 2
