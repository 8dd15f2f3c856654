"""gate registry hygiene: retire what Rego says must go, record why; --dry-run records nothing.

The CLI tests run on SQLite and on the PostgreSQL fixture (``db_url``)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml

from gate.attest.keys import generate_key, load_signing_key, write_keypair
from gate.registry.approvals import make_statement, sign_statement
from gate.registry.store import Store
from tests.helpers import BIN, ROOT
from tests.registry_of_record.test_store import record


def _grype(critical: list[str]) -> bytes:
    matches = [
        {"vulnerability": {"id": c, "severity": "Critical"}, "artifact": {"name": "x", "version": "1"}}
        for c in critical
    ]
    return json.dumps({"matches": matches, "descriptor": {"name": "grype", "version": "0.80.0"}}).encode()


def test_hygiene_retires_the_vulnerable_version_and_keeps_the_healthy_one(
    tmp_path: Path, db_url: str
) -> None:
    people = {}
    keys = {}
    for who, role in (("pat", "platform"), ("pia", "product"), ("sam", "security")):
        private, public = write_keypair(str(tmp_path / who), generate_key(), None)
        keys[who] = load_signing_key(str(private))
        people[who] = {"roles": [role], "public_key": public.read_text()}
    profile = yaml.safe_load((ROOT / "policy-profiles" / "registry-governance.yaml").read_text())
    profile["lifecycle"]["people"] = people
    profile_path = tmp_path / "governance.yaml"
    profile_path.write_text(yaml.safe_dump(profile))
    url = db_url
    store = Store(url, actor="ci-bot")
    evals = json.dumps(
        {"evaluated_at": "2026-11-21T00:00:00Z", "scores": {"quality": 0.9, "safety": 0.95}}
    ).encode()
    for version, critical in (("1.2.0", []), ("1.3.0", ["CVE-2026-4242"])):
        store.register(record(version))
        store.attach("llama-guard", version, "scan", "grype.json", _grype(critical), {"critical": critical})
        store.attach("llama-guard", version, "evals", "evals.json", evals, json.loads(evals))
        checksum = store.show("llama-guard", version).checksum
        for who in ("pat", "pia", "sam"):
            role = people[who]["roles"][0]
            statement = make_statement(
                "approval", name="llama-guard", version=version, digest=checksum, approver=who, role=role
            )
            store.record_statement("llama-guard", version, "approval", sign_statement(statement, keys[who]))
        for a, b in (("draft", "candidate"), ("candidate", "approved")):
            store.transition("llama-guard", version, a, b, {"reasons": []})

    def hygiene(*extra: str) -> list[dict[str, object]]:
        done = subprocess.run(
            [
                str(BIN / "gate"),
                "registry",
                "hygiene",
                "--profile",
                str(profile_path),
                "--db",
                url,
                "-o",
                "json",
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=180,
            env=dict(os.environ),
        )
        assert done.returncode == 0, done.stderr
        return list(json.loads(done.stdout))

    planned = hygiene("--dry-run")
    assert [(a["version"], a["to"], a["recorded"]) for a in planned] == [
        ("1.2.0", "approved", False),
        ("1.3.0", "retired", False),
    ]
    assert planned[1]["reasons"] == ["critical_cve_unresolved"]
    assert store.show("llama-guard", "1.3.0").state == "approved"  # a dry run records nothing

    applied = hygiene()
    assert [(a["version"], a["to"], a["recorded"]) for a in applied] == [
        ("1.2.0", "approved", False),
        ("1.3.0", "retired", True),
    ]
    assert store.show("llama-guard", "1.3.0").state == "retired"
    assert store.show("llama-guard", "1.2.0").state == "approved"
    last = store.history("llama-guard", "1.3.0")[-1]
    assert (
        last["kind"] == "transition"
        and last["data"]["to"] == "retired"
        and last["data"]["reasons"] == ["critical_cve_unresolved"]
    )
    assert hygiene() == [
        {
            "name": "llama-guard",
            "version": "1.2.0",
            "from": "approved",
            "to": "approved",
            "reasons": [],
            "recorded": False,
        }
    ]


def test_the_hygiene_timer_and_service_verify(tmp_path: Path) -> None:
    import shutil

    import pytest

    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    folder = ROOT / "deploy" / "systemd"
    service = (folder / "gate-registry-hygiene.service").read_text()
    local = (
        service.replace("/usr/local/bin/gate", str(BIN / "gate"))
        .replace("User=gate\n", "")
        .replace("Group=gate\n", "")
    )
    (tmp_path / "gate-registry-hygiene.service").write_text(local)
    shutil.copy(folder / "gate-registry-hygiene.timer", tmp_path)
    for unit in ("gate-registry-hygiene.service", "gate-registry-hygiene.timer"):
        done = subprocess.run(
            ["systemd-analyze", "verify", str(tmp_path / unit)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0 and "gate-registry-hygiene" not in done.stderr, done.stderr
