"""The registry of record on SQLite and a real PostgreSQL: validation, append-only history,
serving windows, the event chain, and two processes racing the same transition."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from gate.errors import InputError
from gate.registry.record import validate_record
from gate.registry.store import RegistryError, Store
from tests.helpers import BIN, ROOT

SHARED = ROOT / "fixtures" / "thirdparty"
CHECKSUM = "sha256:" + "ab" * 32


def record(version: str = "1.2.0", **changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "name": "llama-guard",
        "version": version,
        "checksum": CHECKSUM,
        "storage_uri": "s3://models/llama-guard/1.2.0/model.safetensors",
        "lineage": {"base_model": "meta-llama/Llama-3.1-8B", "fine_tune_method": "lora"},
        "datasets": {
            "training": [{"name": "safety-sft-v3", "window": {"from": "2026-01-01", "to": "2026-06-30"}}],
            "evaluation": [
                {"name": "jailbreak-bench-2026", "window": {"from": "2026-07-01", "to": "2026-07-31"}}
            ],
        },
        "license": {
            "spdx": "Apache-2.0 OR MIT",
            "allowed_use_cases": ["content moderation"],
            "prohibited_use_cases": ["surveillance"],
        },
        "risk": {"rating": "high", "mitigations": ["output filter", "rate limits"]},
        "owners": {
            "owner": "alice@example.org",
            "backup_owner": "bob@example.org",
            "escalation_contact": "sec@example.org",
        },
        "prompts": [
            {"name": "system", "digest": "sha256:" + "cd" * 32, "changed_at": "2026-08-01T00:00:00Z"}
        ],
    }
    value.update(changes)
    return value


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- the record -----------------------------------------------------------------------------


def test_a_complete_record_validates() -> None:
    assert validate_record(record(), "r.json")["name"] == "llama-guard"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": "1.2"}, "/version"),
        ({"checksum": "md5:abc"}, "/checksum"),
        (
            {
                "license": {
                    "spdx": "Apache-2.0 OR NotALicense-9",
                    "allowed_use_cases": ["x"],
                    "prohibited_use_cases": [],
                }
            },
            "Unknown license key(s): NotALicense-9",
        ),
        (
            {
                "license": {
                    "spdx": "Apache-2.0 AND (MIT",
                    "allowed_use_cases": ["x"],
                    "prohibited_use_cases": [],
                }
            },
            "/license/spdx",
        ),
        ({"owners": {"owner": "alice@example.org", "backup_owner": "bob@example.org"}}, "escalation_contact"),
        ({"risk": {"rating": "severe", "mitigations": []}}, "/risk/rating"),
    ],
)
def test_bad_records_are_refused_naming_the_file_and_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=r"r\.json: ") as caught:
        validate_record(record(**change), "r.json")
    assert message in str(caught.value)


def test_a_dataset_window_must_run_forward() -> None:
    bad = record()
    bad["datasets"]["training"][0]["window"] = {"from": "2026-06-30", "to": "2026-01-01"}
    with pytest.raises(InputError, match="/datasets/training/0/window: 'from' is after 'to'"):
        validate_record(bad, "r.json")


# --- the store, both engines ----------------------------------------------------------------


def test_register_show_list_and_history(db_url: str) -> None:
    store = Store(db_url)
    assert store.register(record())["state"] == "draft"
    store.register(record("1.3.0"))
    with pytest.raises(RegistryError, match="already registered"):
        store.register(record())
    shown = store.show("llama-guard", "1.2.0")
    assert (shown.state, shown.checksum, shown.record["risk"]["rating"]) == ("draft", CHECKSUM, "high")
    assert [r["version"] for r in store.versions()] == ["1.2.0", "1.3.0"]
    store.transition("llama-guard", "1.2.0", "draft", "candidate", {"reasons": ["all_stages_passed"]})
    assert [r["version"] for r in store.versions("candidate")] == ["1.2.0"]
    assert [e["kind"] for e in store.history("llama-guard", "1.2.0")] == ["register", "transition"]
    assert store.verify_events()["valid"] and store.verify_events()["events"] == 3
    with pytest.raises(RegistryError, match="not registered"):
        store.show("llama-guard", "9.9.9")


def test_a_transition_is_recorded_only_from_the_state_it_expects(db_url: str) -> None:
    store = Store(db_url)
    store.register(record())
    store.transition("llama-guard", "1.2.0", "draft", "candidate", {"reasons": []})
    with pytest.raises(RegistryError, match="is candidate now, not draft"):
        store.transition("llama-guard", "1.2.0", "draft", "candidate", {"reasons": []})


@pytest.mark.parametrize("statement", ["UPDATE {t} SET {c} = {c}", "DELETE FROM {t}"])
def test_the_database_refuses_to_rewrite_history(db_url: str, statement: str) -> None:
    from sqlalchemy import text

    store = Store(db_url)
    store.register(record())
    store.transition("llama-guard", "1.2.0", "draft", "candidate", {"reasons": []})
    tables = {"model_versions": "name", "transitions": "to_state", "events": "kind"}
    for table, column in tables.items():
        with pytest.raises(Exception, match="append-only") as caught, store.engine.begin() as conn:
            conn.execute(text(statement.format(t=table, c=column)))
        assert "append-only" in str(caught.value)
    assert store.verify_events()["valid"]


def test_serving_windows_overlaps_refused_and_served_answers(db_url: str) -> None:
    store = Store(db_url)
    store.register(record())
    store.register(record("1.3.0"))
    with pytest.raises(RegistryError, match="only an approved version"):
        store.serve_window("llama-guard", "1.2.0", "chat-prod", t("2026-11-01T00:00:00Z"), None)
    for version in ("1.2.0", "1.3.0"):
        for a, b in (("draft", "candidate"), ("candidate", "approved")):
            store.transition("llama-guard", version, a, b, {"reasons": []})
    store.serve_window(
        "llama-guard", "1.2.0", "chat-prod", t("2026-11-01T00:00:00Z"), t("2026-11-10T00:00:00Z")
    )
    with pytest.raises(RegistryError, match="overlaps"):
        store.serve_window("llama-guard", "1.3.0", "chat-prod", t("2026-11-09T00:00:00Z"), None)
    store.serve_window("llama-guard", "1.3.0", "chat-prod", t("2026-11-10T00:00:00Z"), None)
    store.serve_window("llama-guard", "1.3.0", "chat-staging", t("2026-11-05T00:00:00Z"), None)
    assert store.served("chat-prod", t("2026-11-09T23:59:59Z"))["version"] == "1.2.0"  # type: ignore[index]
    assert store.served("chat-prod", t("2026-11-10T00:00:00Z"))["version"] == "1.3.0"  # type: ignore[index]
    assert store.served("chat-prod", t("2026-10-01T00:00:00Z")) is None
    assert store.served("chat-prod", t("2026-11-05T12:00:00+02:00"))["checksum"] == CHECKSUM  # type: ignore[index]


def test_the_database_itself_refuses_an_overlapping_window(db_url: str) -> None:
    """Even a writer that skips the store's check cannot record an overlap."""
    from sqlalchemy import text

    store = Store(db_url)
    store.register(record())
    for a, b in (("draft", "candidate"), ("candidate", "approved")):
        store.transition("llama-guard", "1.2.0", a, b, {"reasons": []})
    store.serve_window("llama-guard", "1.2.0", "d", t("2026-11-01T00:00:00Z"), t("2026-11-10T00:00:00Z"))
    row = (
        "INSERT INTO serving_windows (model_version_id, deployment, starts, ends, recorded_at, recorded_by) "
        "VALUES (1, 'd', :s, NULL, :s, 'x')"
    )
    with pytest.raises(Exception, match="overlaps"), store.engine.begin() as conn:
        conn.execute(text(row), {"s": datetime(2026, 11, 5, tzinfo=timezone.utc)})


_RACER = """
import sys
from gate.registry.store import RegistryError, Store
store = Store(sys.argv[1])
try:
    store.transition("llama-guard", "1.2.0", "draft", "candidate", {"reasons": [sys.argv[2]]})
    print("recorded")
except RegistryError as exc:
    print("refused", exc)
"""


def test_two_processes_racing_the_same_transition_record_exactly_one(db_url: str) -> None:
    store = Store(db_url)
    store.register(record())
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, db_url, f"racer-{i}"], stdout=subprocess.PIPE, text=True
        )
        for i in range(6)
    ]
    outcomes = [p.communicate(timeout=120)[0].strip() for p in racers]
    assert sum(o == "recorded" for o in outcomes) == 1, outcomes
    assert all(o == "recorded" or o.startswith("refused") for o in outcomes)
    transitions = [e for e in store.history("llama-guard", "1.2.0") if e["kind"] == "transition"]
    assert len(transitions) == 1 and store.show("llama-guard", "1.2.0").state == "candidate"
    assert store.verify_events()["valid"]


# --- attachments and the CLI ---------------------------------------------------------------


def _gate(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "gate"), "registry", *args, "--db", db], capture_output=True, text=True, timeout=120
    )


def test_cli_register_attach_show_and_audit_log(tmp_path: Path) -> None:
    db = str(tmp_path / "reg.sqlite")
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record()))
    audit = tmp_path / "audit.jsonl"
    done = _gate("register", str(path), "-o", "json", "--audit-log", str(audit), db=db)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "draft"
    sbom = next((SHARED / "sbom").glob("*.spdx.json"))
    if sbom is not None:
        attached = _gate("attach", "llama-guard@1.2.0", "--sbom", str(sbom), "-o", "json", db=db)
        assert attached.returncode == 0, attached.stderr
        assert json.loads(attached.stdout)["summary"]["format"] == "spdx"
    evals = tmp_path / "evals.json"
    evals.write_text(
        json.dumps({"evaluated_at": "2026-11-20T00:00:00Z", "scores": {"quality": 0.91, "safety": 0.97}})
    )
    assert _gate("attach", "llama-guard@1.2.0", "--evals", str(evals), db=db).returncode == 0
    bad = tmp_path / "not-an-sbom.json"
    bad.write_text("{}")
    refused = _gate("attach", "llama-guard@1.2.0", "--sbom", str(bad), db=db)
    assert refused.returncode == 2 and "not-an-sbom.json: neither an SPDX nor a CycloneDX" in refused.stderr
    shown = json.loads(_gate("show", "llama-guard@1.2.0", "-o", "json", db=db).stdout)
    assert "evals" in [a["kind"] for a in shown["attachments"]]
    assert _gate("verify", db=db).returncode == 0
    assert "registry.register" in audit.read_text()
    from gate.audit.log import AuditLog
    from gate.audit.verify import verify_log

    assert verify_log(AuditLog(audit)).valid


def test_cli_bad_record_is_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    bad = copy.deepcopy(record())
    del bad["owners"]
    path.write_text(json.dumps(bad))
    done = _gate("register", str(path), db=str(tmp_path / "reg.sqlite"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "record.json" in done.stderr and "owners" in done.stderr


def test_batched_transitions_recheck_each_state_inside_the_write(db_url: str) -> None:
    from gate.registry.store import Change

    store = Store(db_url, actor="ci-bot")
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        store.register(record(version))
        store.transition("llama-guard", version, "draft", "candidate", {"reasons": []})
        store.transition("llama-guard", version, "candidate", "approved", {"reasons": []})
    # Another writer deprecates 1.1.0 after a hygiene run read it as approved.
    store.transition("llama-guard", "1.1.0", "approved", "deprecated", {"reasons": []})
    why = {"reasons": ["critical_cve_unresolved"]}
    results = store.transitions(
        [Change("llama-guard", v, "approved", "retired", why) for v in ("1.0.0", "1.1.0", "1.2.0")],
        batch=2,
    )
    assert ["refused" in r for r in results] == [False, True, False]
    assert "is deprecated now, not approved" in results[1]["refused"]
    states = {v["version"]: v["state"] for v in store.versions()}
    assert states == {"1.0.0": "retired", "1.1.0": "deprecated", "1.2.0": "retired"}
    assert store.history("llama-guard", "1.2.0")[-1]["data"] == {
        "from": "approved",
        "to": "retired",
        "reasons": ["critical_cve_unresolved"],
    }
    assert [e["kind"] for e in store.history("llama-guard", "1.1.0")][-1] == "transition"
    assert store.verify_events()["valid"]


def test_the_lifecycle_snapshot_matches_what_show_reads(db_url: str) -> None:
    store = Store(db_url, actor="ci-bot")
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        store.register(record(version))
        store.attach("llama-guard", version, "scan", "g.json", version.encode(), {"critical": []})
    for version in ("1.0.0", "1.1.0"):
        store.transition("llama-guard", version, "draft", "candidate", {"reasons": []})
        store.transition("llama-guard", version, "candidate", "approved", {"reasons": []})
    store.transition("llama-guard", "1.1.0", "approved", "deprecated", {"reasons": []})
    for n in range(2):
        envelope = {"payloadType": "application/vnd.in-toto+json", "payload": str(n), "signatures": []}
        store.record_statement("llama-guard", "1.1.0", "approval", envelope)
    snapshot = store.lifecycle_snapshot(("approved", "deprecated"))
    assert [s.version.version for s in snapshot] == ["1.0.0", "1.1.0"]  # 1.2.0 is a draft
    for snap in snapshot:
        version = snap.version.version
        assert snap.version == store.show("llama-guard", version)
        assert [(k, e) for k, e, _ in snap.statements] == store.statements("llama-guard", version)
        assert snap.deprecated_at == store.entered_at("llama-guard", version, "deprecated")
    assert snapshot[0].deprecated_at is None and snapshot[1].deprecated_at is not None
    assert len(snapshot[1].statements) == 2
